/**
 * OpenAI and every OpenAI-compatible server (LM Studio, vLLM, llama.cpp's server, a team GPU server)
 * through the `openai` SDK: chat-completions streaming with usage in the last chunk, and embeddings.
 */
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { AdapterRequest, ProviderAdapter, ProviderConnection, StreamPiece } from './provider';

function client(connection: ProviderConnection, fetchImpl: typeof fetch): OpenAI {
    return new OpenAI({
        baseURL: connection.baseUrl,
        // Local servers take any key; the SDK refuses to start without one.
        apiKey: connection.apiKey || 'no-key',
        fetch: fetchImpl,
        // The fallback chain decides about retries (Retry-After, next provider), not the SDK.
        maxRetries: 0,
    });
}

export const openAiAdapter: ProviderAdapter = {
    async *stream({ connection, messages, options, signal, fetch: fetchImpl }: AdapterRequest): AsyncIterable<StreamPiece> {
        const stream = await client(connection, fetchImpl).chat.completions.create(
            {
                model: connection.model,
                messages: messages.map((message): ChatCompletionMessageParam => ({ role: message.role, content: message.content })),
                stream: true,
                stream_options: { include_usage: true },
                temperature: options.temperature,
                top_p: options.topP,
                max_tokens: options.maxTokens,
                stop: options.stop,
                seed: options.seed,
            },
            { signal },
        );
        for await (const chunk of stream) {
            const choice = chunk.choices[0];
            yield {
                text: choice?.delta?.content ?? undefined,
                finish: choice?.finish_reason === 'length' ? 'length' : choice?.finish_reason ? 'stop' : undefined,
                usage: chunk.usage ? { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens } : undefined,
            };
        }
    },

    async embed({ connection, input, signal, fetch: fetchImpl }) {
        const result = await client(connection, fetchImpl).embeddings.create({ model: connection.model, input }, { signal });
        return [...result.data].sort((a, b) => a.index - b.index).map((item) => item.embedding);
    },
};
