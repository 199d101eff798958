/**
 * `local-ai chat "…" --provider openai|anthropic|gemini|ollama|openai-compatible [--base-url URL] --model NAME`:
 * one answer from a cloud or remote provider, streamed to stdout. `local-ai chat` hands over here when
 * `--provider` is given. Naming a provider on the command line is the consent to send the prompt to it;
 * LOCAL_AI_OFFLINE=1 still forbids it.
 *
 * The key comes from LOCAL_AI_API_KEY, else the provider's usual variable. An OpenAI-compatible server
 * gets only LOCAL_AI_API_KEY: OPENAI_API_KEY is a secret for api.openai.com, not for any server named
 * with --base-url.
 */
import type { ChatMessage } from '../../common/chat';
import { PROVIDER_IDS, PROVIDERS, type ProviderId } from '../../common/providers';
import { defaultSettings } from '../../common/settings';
import { createProvider } from '../providers/index';
import { BLOCK_HINTS, explicitBlock } from '../chat/fallbackPolicy';
import type { ChatEngine } from '../chatEngine';
import { streamChat } from './chatOutput';
import { defineCommand } from './commandLine';

export function providerKeyFromEnv(provider: ProviderId, env: NodeJS.ProcessEnv): string | undefined {
    for (const name of ['LOCAL_AI_API_KEY', ...PROVIDERS[provider].keyVariables]) {
        if (env[name]) return env[name];
    }
    return undefined;
}

export const providerChatCommand = defineCommand(
    {
        name: 'chat',
        summary: 'Answer a prompt with a cloud or remote provider, streaming to stdout',
        positionals: [
            { name: 'prompt', label: '"PROMPT"', variadic: true, required: 'Give a prompt: local-ai chat "Hello" --provider openai --model gpt-4o-mini' },
        ],
        options: {
            provider: {
                type: 'string',
                value: 'ID',
                choices: PROVIDER_IDS,
                inUsage: true,
                description: `${PROVIDER_IDS.slice(0, -1).join(', ')} or ${PROVIDER_IDS.at(-1)}`,
            },
            model: {
                type: 'string',
                value: 'NAME',
                required: '--model is required with --provider.',
                inUsage: true,
                description: 'the model name at the provider',
            },
            'base-url': {
                type: 'string',
                value: 'URL',
                description: "the endpoint (required for openai-compatible; default: the provider's public one,\nOllama: http://127.0.0.1:11434)",
            },
            system: { type: 'string', value: 'TEXT', description: 'a system prompt' },
            'max-tokens': { type: 'integer', value: 'N', min: 1, description: 'stop after N tokens' },
            temperature: { type: 'number', value: 'T', min: 0, max: 2, description: 'sampling temperature' },
            timeout: {
                type: 'number',
                value: 'SECONDS',
                min: 0.1,
                max: 3600,
                description: 'give up when the provider sends nothing for this long (default 60)',
            },
            json: { type: 'boolean', description: 'JSON lines: each streamed chunk, then {"kind":"result",...}' },
        },
        optionColumn: 21,
        footer: `The API key is read from LOCAL_AI_API_KEY, else OPENAI_API_KEY, ANTHROPIC_API_KEY,
GEMINI_API_KEY/GOOGLE_API_KEY or OLLAMA_API_KEY. LOCAL_AI_OFFLINE=1 refuses to send anything.`,
    },
    async ({ values, positionals }) => {
        const provider = values.provider as ProviderId;
        const settings = defaultSettings();
        settings.offline = process.env.LOCAL_AI_OFFLINE === '1';
        const block = explicitBlock(settings);
        if (block) {
            process.stderr.write(`local-ai chat: ${BLOCK_HINTS[block]}\n`);
            return 1;
        }

        const apiKey = providerKeyFromEnv(provider, process.env);
        if (!apiKey && PROVIDERS[provider].keyRequired) {
            process.stderr.write(`local-ai chat: ${provider} needs an API key: set LOCAL_AI_API_KEY or ${PROVIDERS[provider].keyVariables.join(' or ')}.\n`);
            return 1;
        }
        let engine: ChatEngine;
        try {
            engine = createProvider({
                setting: { id: provider, baseUrl: values['base-url'], model: values.model },
                apiKey,
                idleTimeoutMs: values.timeout === undefined ? undefined : values.timeout * 1000,
            });
        } catch (error) {
            process.stderr.write(`local-ai chat: ${error instanceof Error ? error.message : String(error)}\n`);
            return 1;
        }
        const messages: ChatMessage[] = values.system ? [{ role: 'system', content: values.system }] : [];
        messages.push({ role: 'user', content: positionals.prompt.join(' ').trim() });
        return streamChat({
            json: values.json,
            chat: (onChunk, signal) =>
                engine.chat({ messages, options: { maxTokens: values['max-tokens'], temperature: values.temperature }, onChunk, signal }),
            summary: ({ engine: info, usage, timings, finishReason }) =>
                `[${info.model} at ${provider}: ${usage.promptTokens} prompt + ${usage.completionTokens} answer tokens, ` +
                `first token in ${Math.round(timings.timeToFirstTokenMs)} ms, ${finishReason}]`,
        });
    },
);
