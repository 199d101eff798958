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
import { parseArgs } from 'node:util';
import type { ChatMessage } from '../../common/chat';
import { isProviderId, PROVIDER_IDS, PROVIDERS, type ProviderId } from '../../common/providers';
import { defaultSettings } from '../../common/settings';
import { createProvider } from '../engine/cloud/index';
import { BLOCK_HINTS, explicitBlock } from '../engine/cloud/policy';
import type { ChatEngine } from '../engine/types';
import { streamChat } from './chatOutput';

export const providerHelp = `Usage: local-ai chat "PROMPT" --provider ID --model NAME [options]

Options:
  --provider ID        openai, anthropic, gemini, ollama or openai-compatible
  --model NAME         the model name at the provider
  --base-url URL       the endpoint (required for openai-compatible; default: the provider's public one,
                       Ollama: http://127.0.0.1:11434)
  --system TEXT        a system prompt
  --max-tokens N       stop after N tokens
  --temperature T      sampling temperature
  --timeout SECONDS    give up when the provider sends nothing for this long (default 60)
  --json               JSON lines: each streamed chunk, then {"kind":"result",...}

The API key is read from LOCAL_AI_API_KEY, else OPENAI_API_KEY, ANTHROPIC_API_KEY,
GEMINI_API_KEY/GOOGLE_API_KEY or OLLAMA_API_KEY. LOCAL_AI_OFFLINE=1 refuses to send anything.
`;

export function providerKeyFromEnv(provider: ProviderId, env: NodeJS.ProcessEnv): string | undefined {
    for (const name of ['LOCAL_AI_API_KEY', ...PROVIDERS[provider].keyVariables]) {
        if (env[name]) return env[name];
    }
    return undefined;
}

function positiveNumber(name: string, value: string | undefined): number | undefined {
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`--${name} needs a number, got "${value}".`);
    return parsed;
}

export async function runProviderChat(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
    let parsed;
    try {
        parsed = parseArgs({
            args,
            allowPositionals: true,
            options: {
                provider: { type: 'string' },
                model: { type: 'string' },
                'base-url': { type: 'string' },
                system: { type: 'string' },
                'max-tokens': { type: 'string' },
                temperature: { type: 'string' },
                timeout: { type: 'string' },
                json: { type: 'boolean', default: false },
                help: { type: 'boolean', short: 'h', default: false },
            },
        });
    } catch (error) {
        process.stderr.write(`local-ai chat: ${(error as Error).message}\n\n${providerHelp}`);
        return 2;
    }
    const { values, positionals } = parsed;
    if (values.help) {
        process.stdout.write(providerHelp);
        return 0;
    }
    const provider = values.provider;
    const prompt = positionals.join(' ').trim();
    const problem = !isProviderId(provider)
        ? `--provider must be one of ${PROVIDER_IDS.join(', ')}.`
        : !values.model
          ? '--model is required with --provider.'
          : !prompt
            ? 'Give a prompt: local-ai chat "Hello" --provider openai --model gpt-4o-mini'
            : undefined;
    if (problem || !isProviderId(provider)) {
        process.stderr.write(`local-ai chat: ${problem}\n\n${providerHelp}`);
        return 2;
    }
    const settings = defaultSettings();
    settings.offline = env.LOCAL_AI_OFFLINE === '1';
    const block = explicitBlock(settings);
    if (block) {
        process.stderr.write(`local-ai chat: ${BLOCK_HINTS[block]}\n`);
        return 1;
    }

    const apiKey = providerKeyFromEnv(provider, env);
    if (!apiKey && PROVIDERS[provider].keyRequired) {
        process.stderr.write(`local-ai chat: ${provider} needs an API key: set LOCAL_AI_API_KEY or ${PROVIDERS[provider].keyVariables.join(' or ')}.\n`);
        return 1;
    }
    let engine: ChatEngine;
    try {
        const timeout = positiveNumber('timeout', values.timeout);
        engine = createProvider({
            setting: { id: provider, baseUrl: values['base-url'], model: values.model ?? '' },
            apiKey,
            idleTimeoutMs: timeout === undefined ? undefined : timeout * 1000,
        });
    } catch (error) {
        process.stderr.write(`local-ai chat: ${error instanceof Error ? error.message : String(error)}\n`);
        return 1;
    }
    const messages: ChatMessage[] = values.system ? [{ role: 'system', content: values.system }] : [];
    messages.push({ role: 'user', content: prompt });
    return streamChat({
        json: !!values.json,
        chat: (onChunk, signal) =>
            engine.chat({
                messages,
                options: { maxTokens: positiveNumber('max-tokens', values['max-tokens']), temperature: positiveNumber('temperature', values.temperature) },
                onChunk,
                signal,
            }),
        summary: ({ engine: info, usage, timings, finishReason }) =>
            `[${info.model} at ${provider}: ${usage.promptTokens} prompt + ${usage.completionTokens} answer tokens, ` +
            `first token in ${Math.round(timings.timeToFirstTokenMs)} ms, ${finishReason}]`,
    });
}
