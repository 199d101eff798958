/**
 * Anthropic's Messages API through `@anthropic-ai/sdk`: the system prompt travels apart from the turns,
 * usage arrives in message_start (input) and message_delta (output). Anthropic offers no embeddings.
 * Sampling options other than the token limit and stop sequences are not sent: this SDK version's
 * Messages API no longer takes temperature/top_p/top_k.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { AdapterRequest, ProviderAdapter, StreamPiece } from './provider';

/** Anthropic requires a limit; this one is generous for chat answers. */
const DEFAULT_MAX_TOKENS = 4096;

export const anthropicAdapter: ProviderAdapter = {
    async *stream({ connection, messages, options, signal, fetch: fetchImpl }: AdapterRequest): AsyncIterable<StreamPiece> {
        const client = new Anthropic({ baseURL: connection.baseUrl, apiKey: connection.apiKey ?? null, fetch: fetchImpl, maxRetries: 0 });
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
        for await (const event of stream) {
            if (event.type === 'message_start') {
                yield { usage: { promptTokens: event.message.usage.input_tokens, completionTokens: event.message.usage.output_tokens } };
            } else if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
                yield { text: event.delta.text };
            } else if (event.type === 'message_delta') {
                yield {
                    usage: { completionTokens: event.usage.output_tokens },
                    finish: event.delta.stop_reason === 'max_tokens' ? 'length' : 'stop',
                };
            }
        }
    },
};
