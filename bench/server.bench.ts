/**
 * The local server (issue #15) on the ~100 MB F16 model, 1 thread, 128 tokens, temperature 0, medians of
 * interleaved rounds, both sides in the same real sidecar on the same loaded model:
 * - tokens/s through the server (the openai SDK, streaming) against the sidecar's own chat request
 *   (JSON-RPC, streamed on a partialResultToken), from the first text to the last (target ≥ 0.97×);
 * - the time to the first token each side sees from sending its request: the server's extra (target ≤ 5 ms),
 *   through the openai SDK and through a bare `fetch` of the same request (the server's own share).
 */
import OpenAI from 'openai';
import type { ChatChunk, ChatResult } from '../src/common/chat';
import { ChatChunkType, ChatRequest, LoadModelRequest } from '../src/common/protocol';
import { ServerStateRequest, type ServerState } from '../src/common/serverProtocol';
import { defaultSettings } from '../src/common/settings';
import { benchModel, defaultFixtureDir, ensureFixtureModel } from '../test/fixtures/gguf/model';
import { startSidecar, type SidecarProcess } from '../test/fixtures/sidecarProcess';
import { compare, interleave, report, runBench } from './lib';
import { freePort } from '../test/fixtures/ports';

const threads = 1;
const maxTokens = 128;
const contextSize = 4096;
/** Rounds; `LOCAL_AI_BENCH_ROUNDS` lowers it for a quick look. */
const rounds = Number(process.env.LOCAL_AI_BENCH_ROUNDS) || 9;
const messages = [{ role: 'user' as const, content: 'Write a short story about a lighthouse keeper.' }];
const TOKEN = 'bench-token';

interface Figures {
    tokensPerSecond: number;
    timeToFirstTokenMs: number;
}

/** Timings from the moment the request is sent: the first text, the last, and the tokens the answer had. */
function timer(): { text(): void; end(tokens: number): Figures } {
    const sent = performance.now();
    let first: number | undefined;
    let last = sent;
    return {
        text() {
            last = performance.now();
            first ??= last;
        },
        end(tokens) {
            const from = first ?? sent;
            return { tokensPerSecond: ((tokens - 1) * 1000) / Math.max(1, last - from), timeToFirstTokenMs: from - sent };
        },
    };
}

async function viaServer(client: OpenAI, model: string): Promise<Figures> {
    const clock = timer();
    const stream = await client.chat.completions.create({
        model,
        messages,
        max_tokens: maxTokens,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
    });
    let tokens = 0;
    for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) clock.text();
        if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
    return clock.end(tokens);
}

/** The same request as a bare `fetch`: the SDK's own work (headers, retries, its SSE parser) left out. */
async function viaFetch(baseURL: string, model: string): Promise<Figures> {
    const clock = timer();
    const response = await fetch(`${baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages, max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } }),
    });
    if (!response.ok || !response.body) throw new Error(`the server answered ${response.status}`);
    const decoder = new TextDecoder();
    let pending = '';
    let tokens = 0;
    for await (const bytes of response.body) {
        pending += decoder.decode(bytes, { stream: true });
        let end = pending.indexOf('\n\n');
        while (end >= 0) {
            const event = pending.slice(0, end);
            pending = pending.slice(end + 2);
            end = pending.indexOf('\n\n');
            if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
            const chunk = JSON.parse(event.slice(6)) as { choices: { delta: { content?: string } }[]; usage?: { completion_tokens: number } };
            if (chunk.choices[0]?.delta.content) clock.text();
            if (chunk.usage) tokens = chunk.usage.completion_tokens;
        }
    }
    return clock.end(tokens);
}

let requests = 0;

async function viaRpc(sidecar: SidecarProcess, model: string): Promise<Figures> {
    const token = `server-bench-${requests++}`;
    const clock = timer();
    const subscription = sidecar.connection.onProgress(ChatChunkType, token, (chunk: ChatChunk) => {
        if (chunk.kind === 'text') clock.text();
    });
    try {
        const result = (await sidecar.connection.sendRequest(ChatRequest.method, {
            messages,
            model,
            options: { maxTokens, temperature: 0 },
            partialResultToken: token,
        })) as ChatResult;
        return clock.end(result.usage.completionTokens);
    } finally {
        subscription.dispose();
    }
}

async function main(): Promise<void> {
    const modelPath = ensureFixtureModel(defaultFixtureDir(), benchModel);
    const port = await freePort();
    const server = { enabled: true, port, host: '127.0.0.1', allowedOrigins: [] };
    const sidecar = await startSidecar({
        settings: { ...defaultSettings(), threads, gpu: 'off', contextSize, server },
        secrets: { providerKeys: {}, serverToken: TOKEN },
    });
    try {
        await sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath });
        // It started listening at initialization, long before the load ended.
        const state = (await sidecar.connection.sendRequest(ServerStateRequest.method)) as ServerState;
        if (!state.running) throw new Error(`The local server is not running: ${state.problem?.message}`);
        const baseURL = `http://127.0.0.1:${port}/v1`;
        const client = new OpenAI({ baseURL, apiKey: TOKEN, maxRetries: 0 });
        // One warm-up each: the first answer pays for the sequence's first evaluation.
        await viaServer(client, modelPath);
        await viaFetch(baseURL, modelPath);
        await viaRpc(sidecar, modelPath);
        const [served, fetched, own] = await interleave(rounds, [
            () => viaServer(client, modelPath),
            () => viaFetch(baseURL, modelPath),
            () => viaRpc(sidecar, modelPath),
        ]);
        report([
            {
                name: 'Server tokens/s: openai SDK streaming through the local server vs the sidecar’s own chat request (~100 MB F16, 1 thread, 128 tokens)',
                unit: 'tokens/s',
                ...compare(
                    served.map((run) => run.tokensPerSecond),
                    own.map((run) => run.tokensPerSecond),
                ),
                target: '≥ 0.97×',
            },
            {
                name: 'Server time to first token: added over the sidecar’s own chat request',
                unit: 'ms',
                ...compare(
                    served.map((run) => run.timeToFirstTokenMs),
                    own.map((run) => run.timeToFirstTokenMs),
                    'difference',
                ),
                ratioUnit: 'ms extra',
                target: '≤ 5 ms',
            },
            {
                name: 'Server time to first token, a bare fetch of the same request: added over the sidecar’s own chat request',
                unit: 'ms',
                ...compare(
                    fetched.map((run) => run.timeToFirstTokenMs),
                    own.map((run) => run.timeToFirstTokenMs),
                    'difference',
                ),
                ratioUnit: 'ms extra',
                target: '≤ 5 ms',
            },
        ]);
    } finally {
        await sidecar.stop();
    }
}

runBench(main);
