/**
 * The engine's figures, each beside its baseline from the same run:
 * - chat tokens/s and time to first token through the full path (a JSON-RPC client in this
 *   process → the real sidecar → llama.cpp → back) vs node-llama-cpp called directly here with
 *   the same model, threads, context and sampling (targets ≥ 0.95× tokens/s, ≤ 15 ms extra TTFT);
 * - cold (fresh process) and warm model load through the sidecar vs a direct loadModel;
 * - a thread sweep (1–4 threads and `auto`) on the ~100 MB model (target: auto within 10% of the best).
 * Models are generated fixtures (test/fixtures/gguf), already in the page cache: "cold" is a cold process.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { Llama, LlamaContext, LlamaModel } from 'node-llama-cpp';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import type { ChatChunk, ChatResult } from '../src/common/chat';
import { ChatChunkType, ChatRequest, LoadModelRequest, UnloadModelRequest, type LoadedModel } from '../src/common/protocol';
import { defaultSettings } from '../src/common/settings';
import { SidecarContext } from '../src/sidecar/context';
import { importNodeLlamaCpp } from '../src/sidecar/llama/runtime';
import { HardwareService } from '../src/sidecar/hardware';
import { autoThreads } from '../src/sidecar/hardware/autoConfig';
import { benchModel, defaultFixtureDir, ensureFixtureModel, tinyModel } from '../test/fixtures/gguf/model';
import { startSidecar, type SidecarProcess } from '../test/fixtures/sidecarProcess';
import { median, report, type BenchRow } from './lib';

/** Threads for the comparison runs: 1, which is the fastest on the 2 shared cores these run on (see the sweep). */
const threads = 1;
const contextSize = 1024;
/** The sidecar's default number of parallel sequences, so both sides allocate the same context. */
const sequences = 2;
const runs = 8;
const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

interface RunFigures {
    ttftMs: number;
    tokensPerSecond: number;
}

/** Tokens/s measured the same way on both sides: tokens after the first ÷ time from the first to the last. */
function figures(started: number, firstAt: number, endedAt: number, tokens: number): RunFigures {
    if (firstAt === 0) return { ttftMs: runLimitMs, tokensPerSecond: 0 };
    return { ttftMs: firstAt - started, tokensPerSecond: tokens > 1 ? (tokens - 1) / ((endedAt - firstAt) / 1000) : 0 };
}

/** A run that has not finished by then is stopped and measured on what it produced (oversubscribed threads can crawl). */
const runLimitMs = 20_000;

function progress(message: string): void {
    process.stderr.write(`[engine bench] ${message}\n`);
}

async function directRun(context: LlamaContext, prompt: string, maxTokens: number): Promise<RunFigures> {
    const { LlamaChat } = await importNodeLlamaCpp();
    const sequence = context.getSequence();
    const chat = new LlamaChat({ contextSequence: sequence, autoDisposeSequence: false });
    let firstAt = 0;
    let lastAt = 0;
    let tokens = 0;
    const started = performance.now();
    const limit = AbortSignal.timeout(runLimitMs);
    try {
        await chat.generateResponse([{ type: 'user', text: prompt }, { type: 'model', response: [] }], {
            maxTokens, temperature: 0.7, seed: 1, signal: limit, stopOnAbortSignal: true,
            onToken: chunk => { firstAt ||= performance.now(); lastAt = performance.now(); tokens += chunk.length; },
        });
    } catch (error) {
        // Stopped while still reading the prompt: no token came out within the limit.
        if (!limit.aborted) throw error;
    }
    chat.dispose();
    sequence.dispose();
    return figures(started, firstAt, lastAt, tokens);
}

let tokenCounter = 0;

async function sidecarRun(sidecar: SidecarProcess, modelPath: string, prompt: string, maxTokens: number): Promise<RunFigures> {
    const token = `bench-${tokenCounter++}`;
    let firstAt = 0;
    let lastAt = 0;
    const subscription = sidecar.connection.onProgress(ChatChunkType, token, (chunk: ChatChunk) => {
        if (chunk.kind !== 'text') return;
        firstAt ||= performance.now();
        lastAt = performance.now();
    });
    const started = performance.now();
    const result = await sidecar.connection.sendRequest(ChatRequest.method, {
        messages: [{ role: 'user', content: prompt }], model: modelPath, options: { maxTokens, temperature: 0.7, seed: 1 }, partialResultToken: token,
    }) as ChatResult;
    subscription.dispose();
    return figures(started, firstAt, lastAt, result.usage.completionTokens);
}

async function compareChat(label: string, llama: Llama, sidecar: SidecarProcess, modelPath: string, maxTokens: number): Promise<BenchRow[]> {
    const model = await llama.loadModel({ modelPath });
    const context = await model.createContext({ contextSize, threads, sequences });
    await sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath });
    const direct: RunFigures[] = [];
    const viaSidecar: RunFigures[] = [];
    // Warm both paths once, then interleave them, swapping which goes first: whichever ran second
    // measured consistently slower on the loaded shared machine, whatever it was.
    await directRun(context, 'Warm up.', 8);
    await sidecarRun(sidecar, modelPath, 'Warm up.', 8);
    for (let i = 0; i < runs; i++) {
        const prompt = `Run ${i}: write a short story about a lighthouse keeper.`;
        if (i % 2 === 0) {
            direct.push(await directRun(context, prompt, maxTokens));
            viaSidecar.push(await sidecarRun(sidecar, modelPath, prompt, maxTokens));
        } else {
            viaSidecar.push(await sidecarRun(sidecar, modelPath, prompt, maxTokens));
            direct.push(await directRun(context, prompt, maxTokens));
        }
        progress(`${label} run ${i}: direct ${direct[i].tokensPerSecond.toFixed(1)} tokens/s, TTFT ${direct[i].ttftMs.toFixed(1)} ms; sidecar ${viaSidecar[i].tokensPerSecond.toFixed(1)} tokens/s, TTFT ${viaSidecar[i].ttftMs.toFixed(1)} ms`);
    }
    await context.dispose();
    await model.dispose();
    const tps = [median(viaSidecar.map(r => r.tokensPerSecond)), median(direct.map(r => r.tokensPerSecond))];
    const ttft = [median(viaSidecar.map(r => r.ttftMs)), median(direct.map(r => r.ttftMs))];
    return [
        { name: `chat tokens/s, ${label}, via sidecar vs node-llama-cpp directly`, value: tps[0], unit: 'tokens/s', baseline: tps[1], target: '≥ 0.95×' },
        { name: `chat time to first token, ${label}, via sidecar (extra ms in ratio)`, value: ttft[0], unit: 'ms', baseline: ttft[1], ratio: ttft[0] - ttft[1], target: '≤ 15 ms extra' },
    ];
}

/** From `$/cancelRequest` to the request's answer, mid-generation on the ~100 MB model (target ≤ 100 ms). */
async function cancelLatency(sidecar: SidecarProcess, modelPath: string): Promise<BenchRow[]> {
    const samples: number[] = [];
    for (let i = 0; i < 3; i++) {
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
        await sidecar.connection.sendRequest(ChatRequest.method, {
            messages: [{ role: 'user', content: `Cancel ${i}: go on and on.` }], model: modelPath, options: { maxTokens: 2000 }, partialResultToken: token,
        }, cancel.token).catch(() => undefined);
        samples.push(performance.now() - cancelledAt);
        subscription.dispose();
    }
    return [{ name: 'cancel to answer, ~100 MB model, via sidecar', value: median(samples), unit: 'ms', target: '≤ 100 ms' }];
}

async function loadTimes(label: string, llama: Llama, modelPath: string): Promise<BenchRow[]> {
    const sidecar = await startSidecar({ settings: { threads, gpu: 'off', contextSize } });
    try {
        let started = performance.now();
        const cold = await sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath }) as LoadedModel;
        const coldMs = performance.now() - started;
        const warm: number[] = [];
        for (let i = 0; i < 3; i++) {
            await sidecar.connection.sendRequest(UnloadModelRequest.method, {});
            started = performance.now();
            await sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath });
            warm.push(performance.now() - started);
        }
        const direct: number[] = [];
        for (let i = 0; i < 3; i++) {
            started = performance.now();
            const model: LlamaModel = await llama.loadModel({ modelPath });
            const context = await model.createContext({ contextSize, threads, sequences });
            direct.push(performance.now() - started);
            await context.dispose();
            await model.dispose();
        }
        return [
            { name: `model load, ${label}, cold sidecar process (first load: node-llama-cpp, hardware detection)`, value: coldMs, unit: 'ms', baseline: median(direct), target: 'informational' },
            { name: `model load, ${label}, warm sidecar (engine's own figure ${cold.loadMs} ms when cold)`, value: median(warm), unit: 'ms', baseline: median(direct), target: 'informational' },
        ];
    } finally {
        await sidecar.stop();
    }
}

async function threadSweep(llama: Llama, modelPath: string): Promise<BenchRow[]> {
    const context = new SidecarContext({ log: silent, settings: defaultSettings(), secrets: { providerKeys: {} }, defaultModelsPath: os.tmpdir(), statePath: path.join(os.tmpdir(), 'local-ai-bench-state') });
    const hardware = new HardwareService({ context, llama: async () => llama });
    const auto = autoThreads(await hardware.report());
    hardware.dispose();
    const model = await llama.loadModel({ modelPath });
    const speeds = new Map<string, number>();
    for (const [name, count] of [['1', 1], ['2', 2], ['3', 3], ['4', 4], [`auto (${auto})`, auto]] as const) {
        const ctx = await model.createContext({ contextSize, threads: count, sequences: 1 });
        const samples: number[] = [];
        for (let i = 0; i < 3; i++) samples.push((await directRun(ctx, `Sweep ${name} ${i}: tell me about the sea.`, 24)).tokensPerSecond);
        await ctx.dispose();
        speeds.set(name, median(samples));
        progress(`sweep ${name} threads: ${samples.map(v => v.toFixed(1)).join(', ')} tokens/s`);
    }
    await model.dispose();
    const best = Math.max(...speeds.values());
    const rows: BenchRow[] = [...speeds].map(([name, value]) => ({ name: `thread sweep, bench model, ${name} threads`, value, unit: 'tokens/s', baseline: best, target: name.startsWith('auto') ? '≥ 0.90× best' : 'informational' }));
    return rows;
}

async function main(): Promise<void> {
    const dir = defaultFixtureDir();
    const models = { 'tiny model': ensureFixtureModel(dir, tinyModel), '~100 MB model': ensureFixtureModel(dir, benchModel) };
    const { getLlama, LlamaLogLevel } = await importNodeLlamaCpp();
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    // Each section reports as soon as it ends, so a slow machine still yields the figures measured so far.
    // LOCAL_AI_BENCH_ENGINE=chat,load,sweep runs only those sections.
    const sections = process.env.LOCAL_AI_BENCH_ENGINE?.split(',') ?? ['chat', 'load', 'sweep'];
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
    if (sections.includes('sweep')) report(await threadSweep(llama, models['~100 MB model']));
}

main().then(() => process.exit(0), (error: unknown) => {
    console.error(error);
    process.exit(1);
});
