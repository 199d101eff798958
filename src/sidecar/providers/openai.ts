/**
 * OpenAI and every OpenAI-compatible server (LM Studio, vLLM, llama.cpp's server, a team GPU server)
 * through the `openai` SDK: chat-completions streaming with usage in the last chunk, and embeddings.
 */
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { tokenCount, type AdapterRequest, type ProviderAdapter, type ProviderConnection, type StreamPiece } from './provider';
import { StreamFault } from './wireGuard';

function client(connection: ProviderConnection, fetchImpl: typeof fetch): OpenAI {
    return new OpenAI({
        baseURL: connection.baseUrl,
        // Local servers take any key; the SDK refuses to start without one.
        apiKey: connection.apiKey || 'no-key',
        fetch: fetchImpl,
        // The fallback chain decides about retries (Retry-After, next provider), not the SDK.
        maxRetries: 0,
        // The SDK would print a malformed chunk (whatever a server sent) to the console.
        logLevel: 'off',
    });
}

export const openAiAdapter: ProviderAdapter = {
    streamFormat: 'sse',
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
        // The SDK hides `data: [DONE]`, so the end marker read here is the finish_reason of the first choice.
        for await (const chunk of stream) {
            if (!Array.isArray(chunk?.choices)) throw new StreamFault('sent a chunk without "choices"');
            const choice = chunk.choices[0];
            const content = choice?.delta?.content;
            const usage = chunk.usage;
            yield {
                text: typeof content === 'string' ? content : undefined,
                finish: choice?.finish_reason === 'length' ? 'length' : choice?.finish_reason ? 'stop' : undefined,
                usage: usage ? { promptTokens: tokenCount(usage.prompt_tokens), completionTokens: tokenCount(usage.completion_tokens) } : undefined,
            };
        }
    },

    async embed({ connection, input, signal, fetch: fetchImpl }) {
        const result = await client(connection, fetchImpl).embeddings.create({ model: connection.model, input }, { signal });
        return [...result.data].sort((a, b) => a.index - b.index).map((item) => item.embedding);
    },
};
