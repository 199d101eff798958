/**
 * Ollama through the `ollama` client: NDJSON streaming from /api/chat, token counts from the final
 * line (prompt_eval_count, eval_count), embeddings from /api/embed. A key, when set, is sent as a
 * bearer token for Ollama servers behind an authenticating proxy.
 */
import { Ollama } from 'ollama';
import type { AdapterRequest, ProviderAdapter, ProviderConnection, StreamPiece } from './provider';

function client(connection: ProviderConnection, fetchImpl: typeof fetch): Ollama {
    return new Ollama({
        host: connection.baseUrl,
        fetch: fetchImpl,
        headers: connection.apiKey ? { Authorization: `Bearer ${connection.apiKey}` } : undefined,
    });
}

export const ollamaAdapter: ProviderAdapter = {
    async *stream({ connection, messages, options, signal, fetch: fetchImpl }: AdapterRequest): AsyncIterable<StreamPiece> {
        const response = await client(connection, fetchImpl).chat({
            model: connection.model,
            messages,
            stream: true,
            options: {
                temperature: options.temperature,
                top_p: options.topP,
                top_k: options.topK,
                num_predict: options.maxTokens,
                stop: options.stop,
                seed: options.seed,
            },
        });
        // The observing fetch already aborts the socket; this also ends the iterator at once.
        const stop = () => response.abort();
        signal.addEventListener('abort', stop, { once: true });
        try {
            for await (const part of response) {
                yield {
                    text: part.message?.content || undefined,
                    finish: part.done ? (part.done_reason === 'length' ? 'length' : 'stop') : undefined,
                    usage: part.done ? { promptTokens: part.prompt_eval_count, completionTokens: part.eval_count } : undefined,
                };
            }
        } finally {
            signal.removeEventListener('abort', stop);
        }
    },

    async embed({ connection, input, fetch: fetchImpl }) {
        const result = await client(connection, fetchImpl).embed({ model: connection.model, input });
        return result.embeddings;
    },
};
