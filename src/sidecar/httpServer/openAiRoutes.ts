/**
 * The OpenAI API over the sidecar's own engines: /v1/models, /v1/chat/completions, /v1/completions and
 * /v1/embeddings. Each route reads its body (openAiParams.ts), checks that the model exists before it
 * answers anything (404), then streams (SSE) or answers once. A stream's headers go out as soon as the
 * request is accepted, before it waits in the queue; a failure after that is an SSE `error` event.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ChatResult } from '../../common/chat';
import type { CompletionResult } from '../../common/completion';
import type { CompletionEngine } from '../completionEngine';
import type { LocalEngine, ModelResolver } from '../local/index';
import { batchText } from '../chat/textBatcher';
import { errorBody, HttpError, toHttpError } from './httpErrors';
import { readEmbeddingInput, readEncoding, readMessages, readModel, readPrompt, readSampling, readStream } from './openAiParams';

/** What the routes answer with: the editor's own engines, so the same loaded model and queue serve both. */
export interface ServerEngines {
    local: LocalEngine;
    /** Resolves a model name the way a load does (404 for one that is not installed), without loading it. */
    resolveModel: ModelResolver;
    /** Installed local models: each by its catalog id, and by its file's path. */
    listModels(): Promise<string[]>;
    /** `/v1/completions` (fill-in-the-middle with a suffix). Absent: the route answers 501. */
    completion?: CompletionEngine;
}

/** One request as a route sees it. */
export interface RouteCall {
    body: Record<string, unknown>;
    response: ServerResponse;
    /** Aborted when the client disconnects. */
    signal: AbortSignal;
    /** What the log line records. */
    note(facts: { model?: string; promptTokens?: number; completionTokens?: number; finishReason?: string }): void;
}

const created = () => Math.floor(Date.now() / 1000);
const newId = (prefix: string) => `${prefix}-${randomBytes(12).toString('hex')}`;

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    response.end(text);
}

/** A server-sent events stream: `data: <json>` events, `data: [DONE]` at the end. */
class EventStream {
    constructor(private readonly response: ServerResponse) {
        response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
        // The headers tell the client its request was accepted, before it waits for a sequence.
        response.flushHeaders();
    }

    send(data: unknown): void {
        if (!this.response.writableEnded) this.response.write(`data: ${JSON.stringify(data)}\n\n`);
    }

    end(): void {
        if (this.response.writableEnded) return;
        this.response.write('data: [DONE]\n\n');
        this.response.end();
    }

    /** OpenAI's SDK throws an APIError for an event that carries `error`. */
    fail(error: unknown): void {
        this.send(errorBody(toHttpError(error)));
        this.response.end();
    }
}

const usageOf = (prompt: number, completion: number) => ({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });

/** Runs a streamed answer: `run` produces it, a failure after the headers becomes an `error` event. */
async function streamed(call: RouteCall, run: (events: EventStream) => Promise<void>): Promise<void> {
    const events = new EventStream(call.response);
    try {
        await run(events);
        events.end();
    } catch (error) {
        if (!call.signal.aborted) events.fail(error);
    }
}

export async function listModels(engines: ServerEngines, call: RouteCall): Promise<void> {
    const ids = await engines.listModels();
    sendJson(call.response, 200, { object: 'list', data: ids.map((id) => ({ id, object: 'model', created: 0, owned_by: 'local-ai' })) });
}

export async function chatCompletions(engines: ServerEngines, call: RouteCall): Promise<void> {
    const model = readModel(call.body);
    const messages = readMessages(call.body);
    const options = readSampling(call.body);
    const { stream, includeUsage } = readStream(call.body);
    const source = await engines.resolveModel(model);
    const name = model ?? source.modelId;
    call.note({ model: name });
    const id = newId('chatcmpl');
    const chunk = (delta: Record<string, string>, finishReason: string | null) => ({
        id,
        object: 'chat.completion.chunk',
        created: created(),
        model: name,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    });
    const report = (result: ChatResult) =>
        call.note({ promptTokens: result.usage.promptTokens, completionTokens: result.usage.completionTokens, finishReason: result.finishReason });
    if (!stream) {
        const result = await engines.local.chat({ messages, model, options, onChunk: () => undefined, signal: call.signal });
        report(result);
        if (result.finishReason === 'cancelled') return;
        sendJson(call.response, 200, {
            id,
            object: 'chat.completion',
            created: created(),
            model: name,
            choices: [{ index: 0, message: { role: 'assistant', content: result.text }, logprobs: null, finish_reason: result.finishReason }],
            usage: usageOf(result.usage.promptTokens, result.usage.completionTokens),
        });
        return;
    }
    await streamed(call, async (events) => {
        // Not from inside node-llama-cpp's token callback, between two decodes: as the JSON-RPC path does.
        const batcher = batchText((part) =>
            events.send(part.kind === 'start' ? chunk({ role: 'assistant', content: '' }, null) : chunk({ content: part.text }, null)),
        );
        let result: ChatResult;
        try {
            result = await engines.local.chat({ messages, model, options, onChunk: batcher.onChunk, signal: call.signal });
        } finally {
            batcher.flush();
        }
        report(result);
        if (result.finishReason === 'cancelled') return;
        events.send(chunk({}, result.finishReason));
        if (includeUsage) events.send({ ...chunk({}, null), choices: [], usage: usageOf(result.usage.promptTokens, result.usage.completionTokens) });
    });
}

export async function completions(engines: ServerEngines, call: RouteCall): Promise<void> {
    const completion = engines.completion;
    if (!completion) throw new HttpError(501, 'Completions are not available in this build.', 'not_implemented');
    const model = readModel(call.body);
    const prefix = readPrompt(call.body);
    const suffix = typeof call.body.suffix === 'string' ? call.body.suffix : '';
    const sampling = readSampling(call.body);
    const { stream, includeUsage } = readStream(call.body);
    // No model: the completion engine's own (localAi.completion.model, else the recommended one installed).
    if (model) await engines.resolveModel(model);
    const name = model ?? 'default';
    call.note({ model: name });
    const id = newId('cmpl');
    const choice = (text: string, finishReason: string | null) => ({
        id,
        object: 'text_completion',
        created: created(),
        model: name,
        choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason }],
    });
    // OpenAI's default: 16 tokens.
    // No time cap of the editor's: a client asked for max_tokens and waits for them.
    const request = { model, prefix, suffix, maxTokens: sampling.maxTokens ?? 16, temperature: sampling.temperature, seed: sampling.seed, timeoutMs: 600_000 };
    const finish = (result: CompletionResult) => {
        call.note({ promptTokens: result.usage.promptTokens, completionTokens: result.usage.completionTokens, finishReason: result.finishReason });
        return result.finishReason === 'length' ? 'length' : 'stop';
    };
    if (!stream) {
        const result = await completion.complete({ ...request, stop: sampling.stop, raw: true, signal: call.signal });
        const finishReason = finish(result);
        if (result.finishReason === 'cancelled') return;
        sendJson(call.response, 200, { ...choice(result.text, finishReason), usage: usageOf(result.usage.promptTokens, result.usage.completionTokens) });
        return;
    }
    await streamed(call, async (events) => {
        const batcher = batchText((part) => part.kind === 'text' && events.send(choice(part.text, null)));
        let result: CompletionResult;
        try {
            result = await completion.complete({
                ...request,
                stop: sampling.stop,
                raw: true,
                signal: call.signal,
                onText: (text) => batcher.onChunk({ kind: 'text', text }),
            });
        } finally {
            batcher.flush();
        }
        const finishReason = finish(result);
        if (result.finishReason === 'cancelled') return;
        events.send(choice('', finishReason));
        if (includeUsage) events.send({ ...choice('', null), choices: [], usage: usageOf(result.usage.promptTokens, result.usage.completionTokens) });
    });
}

/** Little-endian float32, as OpenAI's `encoding_format: 'base64'` (the openai SDK's default) carries vectors. */
function base64Vector(vector: number[]): string {
    return Buffer.from(new Float32Array(vector).buffer).toString('base64');
}

export async function embeddings(engines: ServerEngines, call: RouteCall): Promise<void> {
    const model = readModel(call.body);
    const input = readEmbeddingInput(call.body);
    const encoding = readEncoding(call.body);
    const source = await engines.resolveModel(model);
    const name = model ?? source.modelId;
    call.note({ model: name });
    const { vectors } = await engines.local.embed({ model, input }, call.signal);
    let promptTokens = 0;
    for (const text of input) promptTokens += (await engines.local.countTokens({ model, text }, call.signal)).tokens;
    call.note({ promptTokens });
    sendJson(call.response, 200, {
        object: 'list',
        data: vectors.map((vector, index) => ({ object: 'embedding', index, embedding: encoding === 'base64' ? base64Vector(vector) : vector })),
        model: name,
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    });
}
