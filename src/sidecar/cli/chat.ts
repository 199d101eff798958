/**
 * `local-ai chat "…" --model ID|PATH`: one answer from a local model, streamed to stdout as it is
 * generated (or as JSON lines with --json); the figures go to stderr. Ctrl-C stops generation.
 */
import * as os from 'node:os';
import type { ChatMessage, SamplingOptions } from '../../common/chat';
import { createLocalEngine } from '../local/index';
import { disposeServices } from '../services';
import { streamChat } from './chatOutput';
import { defineCommand, parseCommandLine, type CommandLine } from './commandLine';
import { createCliServices } from './context';
import { providerChatCommand } from './providerChat';

/**
 * More threads than this only fight over the cores: 100000 made the first token take 1.7 s. Four per
 * logical CPU leaves room for whoever measures oversubscription on purpose.
 */
const MAX_THREADS = 4 * os.availableParallelism();

const spec = {
    name: 'chat',
    summary: 'Answer a prompt with a local model, streaming to stdout',
    positionals: [{ name: 'prompt', label: '"PROMPT"', variadic: true, required: 'Give a prompt: local-ai chat "Hello" --model PATH' }],
    options: {
        model: { type: 'string', value: 'ID|PATH', inUsage: true, description: 'a model id, hub URI or .gguf path (default: the active model)' },
        provider: { type: 'string', value: 'ID', description: 'answer with a cloud or remote provider instead (see: local-ai chat --provider openai --help)' },
        system: { type: 'string', value: 'TEXT', description: 'a system prompt' },
        'max-tokens': { type: 'integer', value: 'N', min: 1, description: 'stop after N tokens (default: until the model stops)' },
        temperature: { type: 'number', value: 'T', min: 0, max: 2, description: 'sampling temperature (default 0.7)' },
        'top-p': { type: 'number', value: 'P', min: 0, max: 1, description: 'nucleus sampling: keep the likeliest tokens up to this probability' },
        seed: { type: 'integer', value: 'S', min: 0, max: 0xffff_ffff, description: 'sampling seed, for reproducible answers' },
        threads: {
            type: 'integer',
            value: 'N',
            min: 1,
            max: MAX_THREADS,
            maxLabel: '4 × logical CPUs',
            description: 'CPU threads for generation (default: one per physical core)',
        },
        json: { type: 'boolean', description: 'JSON lines: each streamed chunk, then {"kind":"result",...}' },
        'models-dir': { type: 'string', value: 'DIR', description: 'where models are kept (default LOCAL_AI_MODELS_PATH or ~/.local-ai/models)' },
        verbose: { type: 'boolean', description: 'engine logs on stderr' },
    },
    optionColumn: 21,
    handOver: { option: 'provider', to: providerChatCommand },
} as const;

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

function toChatArgs({ values, positionals }: CommandLine<typeof spec.options, typeof spec.positionals>): ChatArgs {
    const messages: ChatMessage[] = [];
    if (values.system) messages.push({ role: 'system', content: values.system });
    messages.push({ role: 'user', content: positionals.prompt.join(' ').trim() });
    return {
        messages,
        model: values.model,
        options: { maxTokens: values['max-tokens'], temperature: values.temperature, topP: values['top-p'], seed: values.seed },
        threads: values.threads,
        json: values.json,
        modelsDir: values['models-dir'],
        verbose: values.verbose,
    };
}

/** Throws a `UsageError` for bad usage. */
export function parseChatArgs(args: string[]): ChatArgs | 'help' {
    const commandLine = parseCommandLine(spec, args);
    return commandLine === 'help' ? 'help' : toChatArgs(commandLine);
}

export const chatCommand = defineCommand(spec, async (commandLine) => {
    const request = toChatArgs(commandLine);
    const services = createCliServices({ modelsDir: request.modelsDir, verbose: request.verbose });
    if (request.threads !== undefined) services.context.updateSettings({ ...services.context.settings, threads: request.threads });
    const local = createLocalEngine(services, { sequences: 1 });
    try {
        return await streamChat({
            json: request.json,
            chat: (onChunk, signal) => local.chat({ messages: request.messages, model: request.model, options: request.options, onChunk, signal }),
            summary: ({ engine, usage, timings, truncation, finishReason }) =>
                `[${engine.modelName} on ${engine.device}: ${usage.completionTokens} tokens, ${timings.tokensPerSecond} tokens/s, first token in ${timings.timeToFirstTokenMs} ms, ${finishReason}` +
                `${truncation ? `, ${truncation.droppedMessages} old messages dropped to fit` : ''}]`,
        });
    } finally {
        await local.dispose();
        await disposeServices(services);
    }
});
