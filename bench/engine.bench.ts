/**
 * The engine's figures, each beside its baseline from the same run, medians of interleaved rounds:
 * - chat tokens/s and time to first token through the full path (a JSON-RPC client in this
 *   process → the real sidecar → llama.cpp → back) vs node-llama-cpp's LlamaChat called directly here
 *   with the same model, chat wrapper, threads, context, batch and sampling (targets ≥ 0.95× tokens/s,
 *   ≤ 15 ms extra TTFT);
 * - cold (fresh process) model load through the sidecar vs a fresh process loading it directly, and
 *   warm load through the sidecar vs a direct loadModel + createContext here;
 * - cancel to answer through the sidecar.
 * The thread sweep is bench/threads.bench.ts. Models are generated fixtures (test/fixtures/gguf),
 * already in the page cache: "cold" is a cold process.
 *
 * Both chat paths are timed on the same event: text. The sidecar streams text, never token ids (that is
 * what its client and the user see), so the direct path is timed on LlamaChat's onTextChunk, the very
 * callback the sidecar forwards; the token count on both sides is llama.cpp's (onToken directly, the
 * sidecar's usage.completionTokens, counted by the same callback). What remains between the two is the
 * sidecar's own cost: the process hop, JSON-RPC and its bookkeeping.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Llama, LlamaContext, LlamaContextSequence } from 'node-llama-cpp';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import type { ChatChunk, ChatResult } from '../src/common/chat';
import { ChatChunkType, ChatRequest, LoadModelRequest, UnloadModelRequest } from '../src/common/protocol';
import { chatWrapperFor } from '../src/sidecar/llama/chatWrapper';
import { importNodeLlamaCpp } from '../src/sidecar/llama/runtime';
import { benchModel, defaultFixtureDir, ensureFixtureModel, tinyModel } from '../test/fixtures/gguf/model';
import { startSidecar, type SidecarProcess } from '../test/fixtures/sidecarProcess';
import { compare, elapsedMs, interleave, report, summarize, type BenchRow } from './lib';

/** Threads for the comparison runs: 1, which is the fastest on the 2 shared cores these run on (see the sweep). */
const threads = 1;
const contextSize = 1024;
/** The sidecar's defaults (modelHost.ts), so both sides allocate and batch alike. */
const sequences = 2;
const batchSize = 512;
/** Rounds; `LOCAL_AI_BENCH_ROUNDS` lowers it for a quick look. */
const rounds = Number(process.env.LOCAL_AI_BENCH_ROUNDS) || 15;
const loadRounds = Math.min(rounds, 5);
const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

interface RunFigures {
    ttftMs: number;
    tokensPerSecond: number;
}

/** Both sides alike: first text since the request, and tokens after the first ÷ time from the first text to the last. */
function figures(started: number, firstAt: number, lastAt: number, tokens: number): RunFigures {
    if (firstAt === 0) throw new Error('no text came out');
    return { ttftMs: firstAt - started, tokensPerSecond: tokens > 1 ? (tokens - 1) / ((lastAt - firstAt) / 1000) : 0 };
}

function progress(message: string): void {
    process.stderr.write(`[engine bench] ${message}\n`);
}

/**
 * One chat on a sequence kept across runs, as the sidecar's sequence pool keeps its sequences: LlamaChat
 * then reuses the prompt prefix already evaluated, on both sides alike.
 */
async function directRun(sequence: LlamaContextSequence, prompt: string, maxTokens: number): Promise<RunFigures> {
    const lib = await importNodeLlamaCpp();
    const chat = new lib.LlamaChat({ contextSequence: sequence, chatWrapper: chatWrapperFor(lib, sequence.model, silent).wrapper, autoDisposeSequence: false });
    let firstAt = 0;
    let lastAt = 0;
    let tokens = 0;
    const started = performance.now();
    try {
        await chat.generateResponse(
            [
                { type: 'user', text: prompt },
                { type: 'model', response: [] },
            ],
            {
                maxTokens,
                temperature: 0.7,
                seed: 1,
                onToken: (chunk) => {
                    tokens += chunk.length;
                },
                onTextChunk: (text) => {
                    if (text.length === 0) return;
                    firstAt ||= performance.now();
                    lastAt = performance.now();
                },
            },
        );
    } finally {
        chat.dispose({ disposeSequence: false });
    }
    return figures(started, firstAt, lastAt, tokens);
}

let tokenCounter = 0;

async function sidecarRun(sidecar: SidecarProcess, modelPath: string, prompt: string, maxTokens: number): Promise<RunFigures> {
    const token = `bench-${tokenCounter++}`;
    let firstAt = 0;
    let lastAt = 0;
    const subscription = sidecar.connection.onProgress(ChatChunkType, token, (chunk: ChatChunk) => {
        if (chunk.kind !== 'text' || chunk.text.length === 0) return;
        firstAt ||= performance.now();
        lastAt = performance.now();
    });
    const started = performance.now();
    try {
        const result = (await sidecar.connection.sendRequest(ChatRequest.method, {
            messages: [{ role: 'user', content: prompt }],
            model: modelPath,
            options: { maxTokens, temperature: 0.7, seed: 1 },
            partialResultToken: token,
        })) as ChatResult;
        return figures(started, firstAt, lastAt, result.usage.completionTokens);
    } finally {
        subscription.dispose();
    }
}

async function compareChat(label: string, llama: Llama, sidecar: SidecarProcess, modelPath: string, maxTokens: number): Promise<BenchRow[]> {
    const model = await llama.loadModel({ modelPath });
    const context = await model.createContext({ contextSize, threads, sequences, batchSize, flashAttention: false });
    const sequence = context.getSequence();
    await sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath });
    await directRun(sequence, 'Warm up.', 8);
    await sidecarRun(sidecar, modelPath, 'Warm up.', 8);
    const prompt = (round: number) => `Run ${round}: write a short story about a lighthouse keeper.`;
    const [viaSidecar, direct] = await interleave(rounds, [
        (round) => sidecarRun(sidecar, modelPath, prompt(round), maxTokens),
        (round) => directRun(sequence, prompt(round), maxTokens),
    ]);
    for (let round = 0; round < rounds; round++) {
        progress(
            `${label} round ${round}: direct ${direct[round].tokensPerSecond.toFixed(1)} tokens/s, TTFT ${direct[round].ttftMs.toFixed(1)} ms; sidecar ${viaSidecar[round].tokensPerSecond.toFixed(1)} tokens/s, TTFT ${viaSidecar[round].ttftMs.toFixed(1)} ms`,
        );
    }
    await context.dispose();
    await model.dispose();
    return [
        {
            name: `chat tokens/s, ${label}, via sidecar vs node-llama-cpp directly (both timed on text)`,
            unit: 'tokens/s',
            target: '≥ 0.95×',
            ...compare(
                viaSidecar.map((r) => r.tokensPerSecond),
                direct.map((r) => r.tokensPerSecond),
            ),
        },
        {
            name: `chat time to first text, ${label}, via sidecar vs node-llama-cpp directly`,
            unit: 'ms',
            ratioUnit: 'ms extra',
            target: '≤ 15 ms extra',
            ...compare(
                viaSidecar.map((r) => r.ttftMs),
                direct.map((r) => r.ttftMs),
                'difference',
            ),
        },
    ];
}

/** From `$/cancelRequest` to the request's answer, mid-generation on the ~100 MB model (target ≤ 100 ms). */
async function cancelLatency(sidecar: SidecarProcess, modelPath: string): Promise<BenchRow[]> {
    const samples: number[] = [];
    for (let i = 0; i < loadRounds; i++) {
        const token = `bench-cancel-${i}`;
        const cancel = new CancellationTokenSource();
        let chunks = 0;
        let cancelledAt = 0;
        const subscription = sidecar.connection.onProgress(ChatChunkType, token, (chunk: ChatChunk) => {
            if (chunk.kind === 'text' && ++chunks === 5) {
                cancelledAt = performance.now();
                cancel.cancel();
            }
        });
        await sidecar.connection
            .sendRequest(
                ChatRequest.method,
                {
                    messages: [{ role: 'user', content: `Cancel ${i}: go on and on.` }],
                    model: modelPath,
                    options: { maxTokens: 2000 },
                    partialResultToken: token,
                },
                cancel.token,
            )
            .catch(() => undefined);
        samples.push(performance.now() - cancelledAt);
        subscription.dispose();
    }
    return [{ name: 'cancel to answer, ~100 MB model, via sidecar', unit: 'ms', target: '≤ 100 ms', ...summarize(samples) }];
}

/**
 * The direct baseline of a cold load: a fresh Node process that imports node-llama-cpp, starts llama.cpp
 * and loads the model with the same context (this same file, run with --cold-direct). It prints the
 * milliseconds from before the import to the context being ready.
 */
async function coldDirectChild(modelPath: string): Promise<void> {
    const started = performance.now();
    const { getLlama, LlamaLogLevel } = await importNodeLlamaCpp();
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath });
    await model.createContext({ contextSize, threads, sequences, batchSize, flashAttention: false });
    process.stdout.write(`${JSON.stringify({ loadMs: performance.now() - started })}\n`);
}

async function coldDirectLoad(modelPath: string): Promise<number> {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--cold-direct', modelPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (data: Buffer) => (output += data.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`the direct cold load exited with ${code}`);
    return (JSON.parse(output) as { loadMs: number }).loadMs;
}

/** The first load in a freshly started sidecar (it imports node-llama-cpp and detects the hardware then). */
async function coldSidecarLoad(modelPath: string): Promise<number> {
    const sidecar = await startSidecar({ settings: { threads, gpu: 'off', contextSize } });
    try {
        return await elapsedMs(() => sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath }));
    } finally {
        await sidecar.stop();
    }
}

async function loadTimes(label: string, llama: Llama, modelPath: string): Promise<BenchRow[]> {
    const [coldSidecar, coldDirect] = await interleave(loadRounds, [() => coldSidecarLoad(modelPath), () => coldDirectLoad(modelPath)]);
    const sidecar = await startSidecar({ settings: { threads, gpu: 'off', contextSize } });
    try {
        await sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath });
        const [warm, direct] = await interleave(loadRounds, [
            async () => {
                await sidecar.connection.sendRequest(UnloadModelRequest.method, {});
                return elapsedMs(() => sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath }));
            },
            async () => {
                let context: LlamaContext | undefined;
                const ms = await elapsedMs(async () => {
                    const model = await llama.loadModel({ modelPath });
                    context = await model.createContext({ contextSize, threads, sequences, batchSize, flashAttention: false });
                });
                await context?.model.dispose();
                return ms;
            },
        ]);
        return [
            {
                name: `model load, ${label}, cold sidecar process vs a fresh process loading directly (both import node-llama-cpp)`,
                unit: 'ms',
                target: 'informational',
                ...compare(coldSidecar, coldDirect),
            },
            { name: `model load, ${label}, warm sidecar vs loadModel + createContext here`, unit: 'ms', target: 'informational', ...compare(warm, direct) },
        ];
    } finally {
        await sidecar.stop();
    }
}

async function main(): Promise<void> {
    const dir = defaultFixtureDir();
    const models = { 'tiny model': ensureFixtureModel(dir, tinyModel), '~100 MB model': ensureFixtureModel(dir, benchModel) };
    const { getLlama, LlamaLogLevel } = await importNodeLlamaCpp();
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    // Each section reports as soon as it ends, so a slow machine still yields the figures measured so far.
    // LOCAL_AI_BENCH_ENGINE=chat,load runs only those sections.
    const sections = process.env.LOCAL_AI_BENCH_ENGINE?.split(',') ?? ['chat', 'load'];
    if (sections.includes('chat')) {
        const sidecar = await startSidecar({ settings: { threads, gpu: 'off', contextSize } });
        try {
            report(await compareChat('tiny model', llama, sidecar, models['tiny model'], 200));
            report(await compareChat('~100 MB model', llama, sidecar, models['~100 MB model'], 48));
            report(await cancelLatency(sidecar, models['~100 MB model']));
        } finally {
            await sidecar.stop();
        }
    }
    if (sections.includes('load')) {
        for (const [label, modelPath] of Object.entries(models)) report(await loadTimes(label, llama, modelPath));
    }
}

const coldDirect = process.argv.indexOf('--cold-direct');
(coldDirect >= 0 ? coldDirectChild(process.argv[coldDirect + 1]) : main()).then(
    () => process.exit(0),
    (error: unknown) => {
        console.error(error);
        process.exit(1);
    },
);
