/**
 * Ollama through the `ollama` client: NDJSON streaming from /api/chat, token counts from the final
 * line (prompt_eval_count, eval_count), embeddings from /api/embed. A key, when set, is sent as a
 * bearer token for Ollama servers behind an authenticating proxy.
 */
import { Ollama } from 'ollama';
import { tokenCount, type AdapterRequest, type ProviderAdapter, type ProviderConnection, type StreamPiece } from './provider';
import { StreamFault } from './wireGuard';

function client(connection: ProviderConnection, fetchImpl: typeof fetch): Ollama {
    return new Ollama({
        host: connection.baseUrl,
        fetch: fetchImpl,
        headers: connection.apiKey ? { Authorization: `Bearer ${connection.apiKey}` } : undefined,
    });
}

/** The fields read from each line, none of them trusted to be there. */
interface LoosePart {
    message?: { content?: unknown };
    done?: unknown;
    done_reason?: unknown;
    prompt_eval_count?: unknown;
    eval_count?: unknown;
}

export const ollamaAdapter: ProviderAdapter = {
    streamFormat: 'ndjson',
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
            // The client itself ends on `done: true` and throws when the body ends without it.
            for await (const item of response) {
                if (typeof item !== 'object' || item === null) throw new StreamFault('sent a line that is not an object');
                const part = item as LoosePart;
                const content = part.message?.content;
                yield {
                    text: typeof content === 'string' && content ? content : undefined,
                    finish: part.done === true ? (part.done_reason === 'length' ? 'length' : 'stop') : undefined,
                    usage: part.done === true ? { promptTokens: tokenCount(part.prompt_eval_count), completionTokens: tokenCount(part.eval_count) } : undefined,
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
