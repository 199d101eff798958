/**
 * `local-ai chat "…" --model ID|PATH`: one answer from a local model, streamed to stdout as it is
 * generated (or as JSON lines with --json); the figures go to stderr. Ctrl-C stops generation.
 */
import { parseArgs } from 'node:util';
import type { ChatMessage, SamplingOptions } from '../../common/chat';
import { createLocalEngine } from '../engine/index';
import type { CliCommand } from './commands';
import { disposeServices } from '../services';
import { createCliServices } from './context';
import { runProviderChat } from './providerChat';
import { streamChat } from './chatOutput';

const help = `Usage: local-ai chat "PROMPT" --model ID|PATH [options]

Options:
  --model ID|PATH      a model id, hub URI or .gguf path (default: the active model)
  --provider ID        answer with a cloud or remote provider instead (see: local-ai chat --provider openai --help)
  --system TEXT        a system prompt
  --max-tokens N       stop after N tokens (default: until the model stops)
  --temperature T      sampling temperature (default 0.7)
  --seed S             sampling seed, for reproducible answers
  --threads N          CPU threads for generation (default: one per physical core)
  --json               JSON lines: each streamed chunk, then {"kind":"result",...}
  --models-dir DIR     where models are kept (default LOCAL_AI_MODELS_PATH or ~/.local-ai/models)
  --verbose            engine logs on stderr
`;

function numberOption(name: string, value: string | undefined, integer: boolean): number | undefined {
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || (integer && !Number.isInteger(parsed))) throw new Error(`--${name} needs a number, got "${value}".`);
    return parsed;
}

/** Parses the command line into the conversation, the model and the sampling options. */
export interface ChatArgs {
    messages: ChatMessage[];
    model?: string;
    options: SamplingOptions;
    threads?: number;
    json: boolean;
    modelsDir?: string;
    verbose: boolean;
}

export function parseChatArgs(args: string[]): ChatArgs | 'help' {
    const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: {
            model: { type: 'string' },
            system: { type: 'string' },
            'max-tokens': { type: 'string' },
            temperature: { type: 'string' },
            seed: { type: 'string' },
            threads: { type: 'string' },
            json: { type: 'boolean', default: false },
            'models-dir': { type: 'string' },
            verbose: { type: 'boolean', default: false },
            help: { type: 'boolean', short: 'h', default: false },
        },
    });
    if (values.help) return 'help';
    const prompt = positionals.join(' ').trim();
    if (!prompt) throw new Error('Give a prompt: local-ai chat "Hello" --model PATH');
    const messages: ChatMessage[] = [];
    if (values.system) messages.push({ role: 'system', content: values.system });
    messages.push({ role: 'user', content: prompt });
    return {
        messages,
        model: values.model,
        options: {
            maxTokens: numberOption('max-tokens', values['max-tokens'], true),
            temperature: numberOption('temperature', values.temperature, false),
            seed: numberOption('seed', values.seed, true),
        },
        threads: numberOption('threads', values.threads, true),
        json: values.json ?? false,
        modelsDir: values['models-dir'],
        verbose: values.verbose ?? false,
    };
}

async function run(args: string[]): Promise<number> {
    if (args.some((arg) => arg === '--provider' || arg.startsWith('--provider='))) return runProviderChat(args);
    let parsed: ReturnType<typeof parseChatArgs>;
    try {
        parsed = parseChatArgs(args);
    } catch (error) {
        process.stderr.write(`local-ai chat: ${error instanceof Error ? error.message : String(error)}\n\n${help}`);
        return 2;
    }
    if (parsed === 'help') {
        process.stdout.write(help);
        return 0;
    }
    const request = parsed;
    const services = createCliServices({ modelsDir: request.modelsDir, verbose: request.verbose });
    if (request.threads !== undefined) services.context.updateSettings({ ...services.context.settings, threads: request.threads });
    const local = createLocalEngine(services, { sequences: 1 });
    try {
        return await streamChat({
            json: request.json,
            chat: (onChunk, signal) => local.engine.chat({ messages: request.messages, model: request.model, options: request.options, onChunk, signal }),
            summary: ({ engine, usage, timings, truncation, finishReason }) =>
                `[${engine.modelName} on ${engine.device}: ${usage.completionTokens} tokens, ${timings.tokensPerSecond} tokens/s, first token in ${timings.timeToFirstTokenMs} ms, ${finishReason}` +
                `${truncation ? `, ${truncation.droppedMessages} old messages dropped to fit` : ''}]`,
        });
    } finally {
        await local.dispose();
        await disposeServices(services);
    }
}

export const chatCommand: CliCommand = {
    summary: 'Answer a prompt with a local model, streaming to stdout',
    run,
};
