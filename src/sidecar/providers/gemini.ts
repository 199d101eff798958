/**
 * Google Gemini through `@google/genai`: streamed generateContent (server-sent events), the system
 * prompt as systemInstruction, usage from usageMetadata, and embeddings through embedContent.
 */
import { GoogleGenAI, type Content } from '@google/genai';
import { tokenCount, type AdapterRequest, type ProviderAdapter, type ProviderConnection, type StreamPiece } from './provider';
import { StreamFault } from './wireGuard';

function client(connection: ProviderConnection, fetchImpl: typeof fetch): GoogleGenAI {
    // No retryOptions: the SDK makes one attempt and the fallback chain decides what comes next.
    return new GoogleGenAI({ apiKey: connection.apiKey, httpOptions: { baseUrl: connection.baseUrl, fetch: fetchImpl } });
}

/** The fields read from each chunk, none of them trusted to be there. */
interface LooseChunk {
    candidates?: unknown;
    promptFeedback?: { blockReason?: unknown };
    usageMetadata?: { promptTokenCount?: unknown; candidatesTokenCount?: unknown };
}

interface LooseCandidate {
    finishReason?: unknown;
    content?: { parts?: unknown };
}

/** The text parts of the first candidate (thoughts and function calls are not answer text). */
function textOf(candidate: LooseCandidate | undefined): string | undefined {
    const parts = candidate?.content?.parts;
    if (!Array.isArray(parts)) return undefined;
    const texts = parts.filter((part) => typeof part?.text === 'string' && part.thought !== true).map((part) => part.text as string);
    return texts.length ? texts.join('') : undefined;
}

export const geminiAdapter: ProviderAdapter = {
    streamFormat: 'sse',
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
        for await (const item of stream) {
            const chunk = item as LooseChunk;
            const blocked = chunk.promptFeedback?.blockReason;
            if (!Array.isArray(chunk.candidates) && !chunk.usageMetadata && !blocked) throw new StreamFault('sent a chunk without "candidates"');
            const candidate = Array.isArray(chunk.candidates) ? (chunk.candidates[0] as LooseCandidate | undefined) : undefined;
            // finishReason is the end marker; a prompt blocked by the safety filters also ends the answer.
            const finish = candidate?.finishReason ?? blocked;
            const metadata = chunk.usageMetadata;
            yield {
                text: textOf(candidate),
                finish: finish === 'MAX_TOKENS' ? 'length' : finish ? 'stop' : undefined,
                usage: metadata
                    ? { promptTokens: tokenCount(metadata.promptTokenCount), completionTokens: tokenCount(metadata.candidatesTokenCount) }
                    : undefined,
            };
        }
    },

    async embed({ connection, input, signal, fetch: fetchImpl }) {
        const result = await client(connection, fetchImpl).models.embedContent({ model: connection.model, contents: input, config: { abortSignal: signal } });
        return (result.embeddings ?? []).map((embedding) => embedding.values ?? []);
    },
};
