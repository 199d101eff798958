/**
 * Google Gemini through `@google/genai`: streamed generateContent (server-sent events), the system
 * prompt as systemInstruction, usage from usageMetadata, and embeddings through embedContent.
 */
import { GoogleGenAI, type Content } from '@google/genai';
import type { AdapterRequest, ProviderAdapter, ProviderConnection, StreamPiece } from './provider';

function client(connection: ProviderConnection, fetchImpl: typeof fetch): GoogleGenAI {
    // No retryOptions: the SDK makes one attempt and the fallback chain decides what comes next.
    return new GoogleGenAI({ apiKey: connection.apiKey, httpOptions: { baseUrl: connection.baseUrl, fetch: fetchImpl } });
}

export const geminiAdapter: ProviderAdapter = {
    async *stream({ connection, messages, options, signal, fetch: fetchImpl }: AdapterRequest): AsyncIterable<StreamPiece> {
        const system = messages
            .filter((message) => message.role === 'system')
            .map((message) => message.content)
            .join('\n\n');
        const contents: Content[] = messages
            .filter((message) => message.role !== 'system')
            .map((message) => ({ role: message.role === 'assistant' ? 'model' : 'user', parts: [{ text: message.content }] }));
        const stream = await client(connection, fetchImpl).models.generateContentStream({
            model: connection.model,
            contents,
            config: {
                abortSignal: signal,
                systemInstruction: system || undefined,
                temperature: options.temperature,
                topP: options.topP,
                topK: options.topK,
                maxOutputTokens: options.maxTokens,
                stopSequences: options.stop,
                seed: options.seed,
            },
        });
        for await (const chunk of stream) {
            const finish = chunk.candidates?.[0]?.finishReason;
            const metadata = chunk.usageMetadata;
            yield {
                text: chunk.text,
                finish: finish === 'MAX_TOKENS' ? 'length' : finish ? 'stop' : undefined,
                usage: metadata ? { promptTokens: metadata.promptTokenCount, completionTokens: metadata.candidatesTokenCount } : undefined,
            };
        }
    },

    async embed({ connection, input, signal, fetch: fetchImpl }) {
        const result = await client(connection, fetchImpl).models.embedContent({ model: connection.model, contents: input, config: { abortSignal: signal } });
        return (result.embeddings ?? []).map((embedding) => embedding.values ?? []);
    },
};
