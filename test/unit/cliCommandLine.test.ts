/**
 * The `local-ai` command line as a user meets it: every --help page, pinned character for character (the
 * layout the hand-written pages had before one parser wrote them all), and bad usage: exit 2, one line
 * saying what is wrong, then the help of the command that was meant, on stderr. The built CLI runs as its
 * own process, as a user's shell runs it; parser details are checked in process.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defineCommand, parseCommandLine, UsageError } from '../../src/sidecar/cli/commandLine';

const TOP_HELP = `Usage: local-ai <command> [options]

Commands:
  hardware   Show this machine's CPU, memory and GPUs, and what llama.cpp can use
  fit        Show how each quantization of a model fits this machine (reads GGUF headers only)
  chat       Answer a prompt with a local model, streaming to stdout
  complete   Complete code at a place in a file with the local completion model
  models     List, check, download, clean up and delete models
  serve      Serve local models over an OpenAI-compatible API
  gpu        Show, fetch or remove the GPU build of llama.cpp (CUDA, Vulkan)

Run 'local-ai <command> --help' for a command's options.
`;

const HARDWARE_HELP = `Usage: local-ai hardware [--json] [--verbose]

Shows the CPU, memory and GPUs of this machine, what llama.cpp can use of them, and why it runs on
the CPU when a GPU is present but unusable. --json prints the report as JSON.
Set LOCAL_AI_HARDWARE_PROFILE=<file.json> to use a hardware profile instead of detection.
`;

const FIT_HELP = `Usage: local-ai fit <model> [--quant Q] [--context N] [--json] [--verbose]

<model> is a catalog id, a hf: URI (hf:owner/repo/file.gguf or hf:owner/repo:Q4_K_M) or the path of a
.gguf file. Only GGUF headers are read, over HTTP range requests for hub files.
Prints, for each quantization, whether it fits on the GPU, partly, on the CPU only or not at all.
--context N is the context size to estimate for, in tokens: 128 to 1048576.
`;

const CHAT_HELP = `Usage: local-ai chat "PROMPT" --model ID|PATH [options]

Options:
  --model ID|PATH      a model id, hub URI or .gguf path (default: the active model)
  --provider ID        answer with a cloud or remote provider instead (see: local-ai chat --provider openai --help)
  --system TEXT        a system prompt
  --max-tokens N       stop after N tokens (default: until the model stops) [1 or more]
  --temperature T      sampling temperature (default 0.7) [0 to 2]
  --top-p P            nucleus sampling: keep the likeliest tokens up to this probability [0 to 1]
  --seed S             sampling seed, for reproducible answers [0 to 4294967295]
  --threads N          CPU threads for generation (default: one per physical core) [1 to 4 × logical CPUs]
  --json               JSON lines: each streamed chunk, then {"kind":"result",...}
  --models-dir DIR     where models are kept (default LOCAL_AI_MODELS_PATH or ~/.local-ai/models)
  --verbose            engine logs on stderr
`;

const PROVIDER_HELP = `Usage: local-ai chat "PROMPT" --provider ID --model NAME [options]

Options:
  --provider ID        openai, anthropic, gemini, ollama, huggingface or openai-compatible
  --model NAME         the model name at the provider
  --base-url URL       the endpoint (required for openai-compatible; default: the provider's public one,
                       Ollama: http://127.0.0.1:11434)
  --system TEXT        a system prompt
  --max-tokens N       stop after N tokens [1 or more]
  --temperature T      sampling temperature [0 to 2]
  --timeout SECONDS    give up when the provider sends nothing for this long (default 60) [0.1 to 3600]
  --json               JSON lines: each streamed chunk, then {"kind":"result",...}

The API key is read from LOCAL_AI_API_KEY, else OPENAI_API_KEY, ANTHROPIC_API_KEY,
GEMINI_API_KEY/GOOGLE_API_KEY or OLLAMA_API_KEY. LOCAL_AI_OFFLINE=1 refuses to send anything.
`;

const MODELS_HELP = `Usage: local-ai models <list|check|download|cleanup|delete> [options]

  list                         every catalog, user and on-disk model with its state and size
  check    [--model M] [--repair]
                               verify installed files: size, then sha256 against the hub's LFS hash
  download --model M [--quant Q] [--force]
                               download unless installed from that commit; resumes an interrupted download
  cleanup                      delete partial downloads no download is using
  delete   --model M [--quant Q]
                               delete a downloaded model (every quantization unless --quant)

Options:
  --model M        catalog id, hf:owner/repo/file.gguf, hf:owner/repo:Q4_K_M, or a .gguf path
  --quant Q        quantization (default: the model's default)
  --force          download even when the model does not fit this machine
  --repair         with check: fetch damaged or missing files again; each replaces the damaged copy once verified
  --json           print JSON instead of text
  --models-dir D   models folder (default: LOCAL_AI_MODELS_PATH, else ~/.local-ai/models)
  --verbose        log details on stderr

Environment: HF_ENDPOINT (hub mirror), HF_TOKEN (gated models), HTTPS_PROXY, LOCAL_AI_OFFLINE=1.

Exit codes:
  0  done            1  unexpected error       2  bad usage
  3  check found a damaged file, or a download arrived corrupted (its bytes were deleted);
     check --repair: a file stayed damaged (5, 6 or 7 when the hub could not be reached)
  4  no such model or quantization              5  network or download failure (the partial is kept)
  6  the hub refused: gated model, token needed  7  not enough disk space (the partial is kept)
  8  the model does not fit this machine (use --force)   130  interrupted (the partial is kept)
  9  the file system refused: models folder not writable or a file, name too long
`;

interface CliRun {
    code: number;
    stdout: string;
    stderr: string;
}

describe('local-ai help and bad usage', function () {
    this.timeout(120_000);
    const cli = path.join(process.cwd(), 'dist', 'cli.mjs');
    // Nothing here should reach the store or the network; if a broken parser lets a command run, it finds nothing.
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-cli-usage-'));
    after(() => fs.rmSync(home, { recursive: true, force: true }));

    const localAi = (...args: string[]) =>
        new Promise<CliRun>((resolve) => {
            const env = { PATH: process.env.PATH, HOME: home, LOCAL_AI_OFFLINE: '1', LOCAL_AI_MODELS_PATH: path.join(home, 'models') };
            execFile(process.execPath, [cli, ...args], { env }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }));
        });

    it('lists the commands on --help, and when run bare (then as bad usage)', async () => {
        const [help, bare] = await Promise.all([localAi('--help'), localAi()]);
        assert.deepEqual(help, { code: 0, stdout: TOP_HELP, stderr: '' });
        assert.deepEqual(bare, { code: 2, stdout: TOP_HELP, stderr: '' });
    });

    it("prints each subcommand's help for --help or -h, wherever it stands", async () => {
        const pages: [string[], string][] = [
            [['hardware', '--help'], HARDWARE_HELP],
            [['fit', '-h'], FIT_HELP],
            [['chat', '--help'], CHAT_HELP],
            [['chat', '--provider', 'openai', '--help'], PROVIDER_HELP],
            [['models', '--help'], MODELS_HELP],
            [['models', 'download', '--model', 'x', '-h'], MODELS_HELP],
        ];
        const runs = await Promise.all(pages.map(([args]) => localAi(...args)));
        for (const [i, [args, page]] of pages.entries()) assert.deepEqual(runs[i], { code: 0, stdout: page, stderr: '' }, `local-ai ${args.join(' ')}`);
    });

    it('refuses an unknown option: exit 2, what is wrong, then the help of the command meant', async () => {
        const [fit, providerChat] = await Promise.all([
            localAi('fit', 'model.gguf', '--bogus'),
            localAi('chat', 'hi', '--provider', 'openai', '--model', 'm', '--threads', '2'),
        ]);
        assert.deepEqual(fit, { code: 2, stdout: '', stderr: `local-ai fit: unknown option --bogus.\n\n${FIT_HELP}` });
        // --threads is the local model's option: with --provider the provider's page applies.
        assert.deepEqual(providerChat, { code: 2, stdout: '', stderr: `local-ai chat: unknown option --threads.\n\n${PROVIDER_HELP}` });
    });

    it('refuses an option without its value', async () => {
        const [chat, models] = await Promise.all([localAi('chat', 'hi', '--model'), localAi('models', 'download', '--model', '--force')]);
        assert.deepEqual(chat, { code: 2, stdout: '', stderr: `local-ai chat: --model needs a value.\n\n${CHAT_HELP}` });
        assert.deepEqual(models, {
            code: 2,
            stdout: '',
            stderr: `local-ai models: --model needs a value (write --model=--force if "--force" is the value).\n\n${MODELS_HELP}`,
        });
    });

    it('refuses an unknown subcommand, an unknown action and an extra argument; shows the actions when given none', async () => {
        const [command, action, extra, bare] = await Promise.all([
            localAi('frobnicate'),
            localAi('models', 'frobnicate'),
            localAi('hardware', 'extra'),
            localAi('models'),
        ]);
        assert.deepEqual(command, { code: 2, stdout: '', stderr: `local-ai: unknown command 'frobnicate'.\n\n${TOP_HELP}` });
        assert.deepEqual(action, { code: 2, stdout: '', stderr: `local-ai models: unknown action 'frobnicate'.\n\n${MODELS_HELP}` });
        assert.deepEqual(extra, { code: 2, stdout: '', stderr: `local-ai hardware: unexpected argument 'extra'.\n\n${HARDWARE_HELP}` });
        assert.deepEqual(bare, { code: 2, stdout: MODELS_HELP, stderr: '' });
    });
});

describe('local-ai argument parsing', () => {
    const command = defineCommand(
        {
            name: 'demo',
            summary: 'A command to parse with',
            positionals: [{ name: 'words', variadic: true, required: 'say something.' }],
            options: {
                count: { type: 'integer', value: 'N', min: 1, description: 'how many' },
                scale: { type: 'number', value: 'X', description: 'a factor' },
                loud: { type: 'boolean', description: 'shout' },
            },
        },
        async () => 0,
    );
    const parse = (...args: string[]) => parseCommandLine(command.spec, args);
    const refuses = (args: string[], message: string) =>
        assert.throws(
            () => parse(...args),
            (error: unknown) => error instanceof UsageError && error.message === message,
            args.join(' '),
        );

    it('types values and keeps what follows -- as words', () => {
        assert.deepEqual(parse('hello', '--count', '3', '--scale=-0.5', '--', '--loud'), {
            values: { count: 3, scale: -0.5, loud: false },
            positionals: { words: ['hello', '--loud'] },
        });
        assert.equal(parse('--bogus', '-h'), 'help');
    });

    it('checks numbers, flags and required words', () => {
        refuses(['hi', '--count', '1.5'], '--count needs a whole number (1 or more), got "1.5".');
        refuses(['hi', '--count', '0'], '--count needs a whole number (1 or more), got "0".');
        refuses(['hi', '--scale='], '--scale needs a number, got "".');
        refuses(['hi', '--scale', '-x'], '--scale needs a value (write --scale=-x if "-x" is the value).');
        refuses(['hi', '--loud=yes'], '--loud does not take a value.');
        refuses(['--loud'], 'say something.');
        refuses(['  '], 'say something.');
    });
});
