/**
 * Anthropic's Messages API through `@anthropic-ai/sdk`: the system prompt travels apart from the turns,
 * usage arrives in message_start (input) and message_delta (output). Anthropic offers no embeddings.
 * Sampling options other than the token limit and stop sequences are not sent: this SDK version's
 * Messages API no longer takes temperature/top_p/top_k.
 */
import Anthropic from '@anthropic-ai/sdk';
import { tokenCount, type AdapterRequest, type ProviderAdapter, type StreamPiece } from './provider';
import { StreamFault } from './wireGuard';

/** Anthropic requires a limit; this one is generous for chat answers. */
const DEFAULT_MAX_TOKENS = 4096;

/** The fields read from each event, none of them trusted to be there. */
interface LooseEvent {
    type?: unknown;
    message?: { usage?: { input_tokens?: unknown; output_tokens?: unknown } };
    delta?: { type?: unknown; text?: unknown; stop_reason?: unknown };
    usage?: { output_tokens?: unknown };
}

export const anthropicAdapter: ProviderAdapter = {
    streamFormat: 'sse',
    async *stream({ connection, messages, options, signal, fetch: fetchImpl }: AdapterRequest): AsyncIterable<StreamPiece> {
        // No logs: the SDK would print a malformed event (whatever a server sent) to the console.
        const client = new Anthropic({ baseURL: connection.baseUrl, apiKey: connection.apiKey ?? null, fetch: fetchImpl, maxRetries: 0, logLevel: 'off' });
        const system = messages
            .filter((message) => message.role === 'system')
            .map((message) => message.content)
            .join('\n\n');
        const stream = await client.messages.create(
            {
                model: connection.model,
                max_tokens: options.maxTokens ?? DEFAULT_MAX_TOKENS,
                system: system || undefined,
                messages: messages
                    .filter((message) => message.role !== 'system')
                    .map((message) => ({ role: message.role === 'assistant' ? ('assistant' as const) : ('user' as const), content: message.content })),
                stop_sequences: options.stop,
                stream: true,
            },
            { signal },
        );
        // message_delta carries the stop reason; only message_stop ends the answer.
        let stopReason: unknown;
        for await (const item of stream) {
            if (typeof item !== 'object' || item === null) throw new StreamFault('sent an event that is not an object');
            const event = item as LooseEvent;
            if (event.type === 'message_start') {
                const usage = event.message?.usage;
                yield { usage: { promptTokens: tokenCount(usage?.input_tokens), completionTokens: tokenCount(usage?.output_tokens) } };
            } else if (event.type === 'content_block_delta' && event.delta?.type === 'text_delta' && typeof event.delta.text === 'string') {
                yield { text: event.delta.text };
            } else if (event.type === 'message_delta') {
                stopReason = event.delta?.stop_reason;
                yield { usage: { completionTokens: tokenCount(event.usage?.output_tokens) } };
            } else if (event.type === 'message_stop') {
                yield { finish: stopReason === 'max_tokens' ? 'length' : 'stop' };
            }
        }
    },
};
