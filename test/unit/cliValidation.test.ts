/**
 * Every option of every `local-ai` subcommand is checked against its declared range before anything
 * runs: a bad value exits 2 with one line naming the option and the range, `--x=v` and `--x v` mean the
 * same, and an unknown option is refused on every subcommand. The built CLI runs as its own process for
 * what a user's shell sees; the equivalence of the two spellings is checked in process over random values.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { parseCommandLine, UsageError, type CliCommand } from '../../src/sidecar/cli/commandLine';
import { COMMANDS } from '../../src/sidecar/cli/commands';
import { providerChatCommand } from '../../src/sidecar/cli/providerChat';

interface CliRun {
    code: number;
    stdout: string;
    stderr: string;
}

/** Every command line a user can reach, with the arguments it needs to get as far as its options. */
const SUBCOMMANDS: [CliCommand, string[]][] = [
    ...COMMANDS.map((command): [CliCommand, string[]] => [command, command.spec.name === 'models' ? ['list'] : command.spec.positionals ? ['x'] : []]),
    [providerChatCommand, ['hi', '--provider', 'openai', '--model', 'm']],
];

const MAX_THREADS = 4 * os.availableParallelism();

describe('local-ai option validation', function () {
    this.timeout(120_000);
    const cli = path.join(process.cwd(), 'dist', 'cli.mjs');
    // Nothing here may reach a model, the store or the network: a value that slipped through finds nothing.
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-cli-validation-'));
    after(() => fs.rmSync(home, { recursive: true, force: true }));

    const localAi = (args: string[]) =>
        new Promise<CliRun>((resolve) => {
            const env = { PATH: process.env.PATH, HOME: home, LOCAL_AI_OFFLINE: '1', LOCAL_AI_MODELS_PATH: path.join(home, 'models') };
            execFile(process.execPath, [cli, ...args], { env }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }));
        });

    it('refuses every value out of its range with exit 2 and one line naming the option and the range', async () => {
        const chat = ['chat', 'hi', '--model', 'none.gguf'];
        const provider = ['chat', 'hi', '--provider', 'openai', '--model', 'm'];
        const cases: [args: string[], line: string][] = [
            [[...chat, '--max-tokens', '-5'], 'local-ai chat: --max-tokens needs a whole number (1 or more), got "-5".'],
            [[...chat, '--max-tokens', '0'], 'local-ai chat: --max-tokens needs a whole number (1 or more), got "0".'],
            [[...chat, '--temperature', '-1'], 'local-ai chat: --temperature needs a number (0 to 2), got "-1".'],
            [[...chat, '--temperature=2.5'], 'local-ai chat: --temperature needs a number (0 to 2), got "2.5".'],
            [[...chat, '--top-p', '1.1'], 'local-ai chat: --top-p needs a number (0 to 1), got "1.1".'],
            [[...chat, '--seed', '-1'], 'local-ai chat: --seed needs a whole number (0 to 4294967295), got "-1".'],
            [[...chat, '--threads', '0'], `local-ai chat: --threads needs a whole number (1 to ${MAX_THREADS}: 4 × logical CPUs), got "0".`],
            [[...chat, '--threads', '100000'], `local-ai chat: --threads needs a whole number (1 to ${MAX_THREADS}: 4 × logical CPUs), got "100000".`],
            [['fit', 'x.gguf', '--context', '-1'], 'local-ai fit: --context needs a whole number (128 to 1048576), got "-1".'],
            [['fit', 'x.gguf', '--context=64'], 'local-ai fit: --context needs a whole number (128 to 1048576), got "64".'],
            [['fit', 'x.gguf', '--context', '99999999'], 'local-ai fit: --context needs a whole number (128 to 1048576), got "99999999".'],
            [[...provider, '--max-tokens', '0'], 'local-ai chat: --max-tokens needs a whole number (1 or more), got "0".'],
            [[...provider, '--temperature', '-1'], 'local-ai chat: --temperature needs a number (0 to 2), got "-1".'],
            [[...provider, '--timeout', '0'], 'local-ai chat: --timeout needs a number (0.1 to 3600), got "0".'],
        ];
        const runs = await Promise.all(cases.map(([args]) => localAi(args)));
        for (const [i, [args, line]] of cases.entries()) {
            const run = runs[i];
            assert.equal(run.code, 2, `local-ai ${args.join(' ')}: exit ${run.code}\n${run.stderr}`);
            assert.equal(run.stderr.split('\n')[0], line, `local-ai ${args.join(' ')}`);
            assert.equal(run.stdout, '', `local-ai ${args.join(' ')} printed on stdout`);
        }
    });

    it('refuses an unknown option on every subcommand, with exit 2', async () => {
        const runs = await Promise.all(SUBCOMMANDS.map(([command, args]) => localAi([command.spec.name, ...args, '--bogus=1'])));
        for (const [i, [command, args]] of SUBCOMMANDS.entries()) {
            const run = runs[i];
            const line = `local-ai ${command.spec.name}: unknown option --bogus.`;
            assert.deepEqual([run.code, run.stderr.split('\n')[0]], [2, line], `local-ai ${command.spec.name} ${args.join(' ')} --bogus=1\n${run.stderr}`);
        }
    });

    it('reads --x=v and --x v the same, for every value option of every subcommand', () => {
        /** The parsed value, or the usage error's message: what the user would see. */
        const outcome = (command: CliCommand, args: string[]) => {
            try {
                const line = parseCommandLine(command.spec, args);
                return line === 'help' ? 'help' : line.values;
            } catch (error) {
                if (error instanceof UsageError) return `refused: ${error.message.replace(/=/, ' ')}`;
                throw error;
            }
        };
        // By label (`fit --context`), so a counterexample reads as a command line.
        const options = new Map(
            SUBCOMMANDS.flatMap(([command, args]) =>
                Object.entries(command.spec.options)
                    .filter(([, option]) => option.type === 'number' || option.type === 'integer')
                    .map(([name]) => [`${command.spec.name} ${args.join(' ')} --${name}`, { command, args, name }] as const),
            ),
        );
        assert.ok(options.size >= 8, `only ${options.size} numeric options found`);
        const values = fc.oneof(
            fc.integer({ min: -200_000, max: 2_000_000 }).map(String),
            fc.double({ min: -10, max: 10, noNaN: true }).map(String),
            fc.constantFrom('-1', '-0', '0', '-.5', '1e3', '-1e3', ' 3', 'x', '-x', ''),
        );
        fc.assert(
            fc.property(fc.constantFrom(...options.keys()), values, (label, value) => {
                const { command, args, name } = options.get(label)!;
                const inline = outcome(command, [...args, `--${name}=${value}`]);
                const spaced = outcome(command, [...args, `--${name}`, value]);
                // A word that reads as an option (`-x`) is the one value a space cannot carry: the message says how to write it.
                if (value === '-x') assert.match(String(spaced), /needs a value \(write --[a-z-]+ -x if "-x" is the value\)/);
                else assert.deepEqual(spaced, inline, `--${name} ${value} vs --${name}=${value}`);
            }),
            { numRuns: 400 },
        );
    });
});
