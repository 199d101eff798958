/**
 * Streaming speed (issue #21 §2 and §6) on the ~100 MB F16 model, 1 thread, 128 tokens, temperature 0,
 * medians of interleaved rounds:
 * - `local-ai chat --json` (a fresh process per run, timed here on the lines it writes) against a fresh
 *   process running node-llama-cpp's LlamaChat directly with the context the CLI resolved (same size,
 *   threads, batch, one sequence) and the same sampling (target ≥ 0.98×);
 * - the JSON-RPC path (a client here → the real sidecar → back, timed on the text notifications) against
 *   LlamaChat in this process with the sidecar's context (two sequences), one kept sequence each side;
 * - each one's per-token overhead, ms per token over the direct call's (target ≤ 0.1 ms), and the main
 *   thread's CPU time per token (Linux: the thread's schedstat), which the shared machine's load does
 *   not inflate: the main thread's work between two decodes is what adds to every token;
 * - §6: an edit (rewrite this code) through the sidecar with and without `copiesInput` (input-lookup
 *   speculative decoding), and the share of guesses llama.cpp kept. The generated models write
 *   gibberish that rarely copies its prompt, so they show the mechanism's cost, not a real model's gain.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LlamaContextSequence } from 'node-llama-cpp';
import type { ChatChunk, ChatResult } from '../src/common/chat';
import { ChatChunkType, ChatRequest, LoadModelRequest } from '../src/common/protocol';
import { chatWrapperFor } from '../src/sidecar/llama/chatWrapper';
import { DEFAULT_SEQUENCES } from '../src/sidecar/llama/memoryModel';
import { importNodeLlamaCpp } from '../src/sidecar/llama/runtime';
import { benchModel, defaultFixtureDir, ensureFixtureModel } from '../test/fixtures/gguf/model';
import { startSidecar, type SidecarProcess } from '../test/fixtures/sidecarProcess';
import { compare, interleave, report, summarize, type BenchRow } from './lib';

const threads = 1;
const batchSize = 512;
const maxTokens = 128;
const contextSize = 4096;
/** Rounds; `LOCAL_AI_BENCH_ROUNDS` lowers it for a quick look. */
const rounds = Number(process.env.LOCAL_AI_BENCH_ROUNDS) || 9;
const prompt = 'Write a short story about a lighthouse keeper.';
const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
const editPrompt = [
    'Rewrite this code:',
    'export function total(items: { price: number; count: number }[]): number {',
    '    let sum = 0;',
    '    for (const item of items) sum += item.price * item.count;',
    '    return sum;',
    '}',
    '',
    'Instruction: rename sum to result.',
].join('\n');

interface RunFigures {
    tokensPerSecond: number;
    /** Milliseconds per token after the first (1000 ÷ tokens/s). */
    msPerToken: number;
    /** The main thread's CPU time from the first text to the last, per token; NaN where schedstat is missing. */
    cpuMsPerToken: number;
    text: string;
    /** Input lookup's guesses that the model kept and refused (sidecar runs with copiesInput). */
    guessed?: { kept: number; refused: number };
}

function progress(message: string): void {
    process.stderr.write(`[stream bench] ${message}\n`);
}

/** CPU time of a process's main thread so far, in ms (Linux schedstat); NaN elsewhere. */
function mainThreadCpuMs(pid: number): number {
    try {
        return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    } catch {
        return Number.NaN;
    }
}

/** Times one answer on text, as its reader sees it: call `text` on each piece and `end` with the token count. */
function textTimer(pid: number) {
    let firstAt = 0;
    let lastAt = 0;
    let firstCpu = 0;
    let lastCpu = 0;
    let text = '';
    return {
        text(piece: string) {
            if (piece.length === 0) return;
            const now = performance.now();
            if (firstAt === 0) {
                firstAt = now;
                firstCpu = mainThreadCpuMs(pid);
            }
            lastAt = now;
            lastCpu = mainThreadCpuMs(pid);
            text += piece;
        },
        end(tokens: number): RunFigures {
            if (firstAt === 0 || tokens < 2) throw new Error('no text came out');
            const msPerToken = (lastAt - firstAt) / (tokens - 1);
            return { tokensPerSecond: 1000 / msPerToken, msPerToken, cpuMsPerToken: (lastCpu - firstCpu) / (tokens - 1), text };
        },
    };
}

/** One answer from LlamaChat on `sequence`, greedy, with the chat wrapper the product resolves. */
async function directRun(sequence: LlamaContextSequence, text: string): Promise<RunFigures> {
    const lib = await importNodeLlamaCpp();
    const chat = new lib.LlamaChat({ contextSequence: sequence, chatWrapper: chatWrapperFor(lib, sequence.model, silent).wrapper, autoDisposeSequence: false });
    const timer = textTimer(process.pid);
    let tokens = 0;
    try {
        await chat.generateResponse(
            [
                { type: 'user', text },
                { type: 'model', response: [] },
            ],
            { maxTokens, temperature: 0, onToken: (chunk) => (tokens += chunk.length), onTextChunk: timer.text },
        );
    } finally {
        chat.dispose({ disposeSequence: false });
    }
    return timer.end(tokens);
}

/** The direct baseline of a CLI run: this file, run as `--direct MODEL CONTEXT`, prints one run's figures. */
async function directChild(modelPath: string, size: number): Promise<void> {
    const { getLlama, LlamaLogLevel } = await importNodeLlamaCpp();
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath });
    const context = await model.createContext({ contextSize: size, threads, batchSize, sequences: 1, flashAttention: false });
    process.stdout.write(`${JSON.stringify(await directRun(context.getSequence(), prompt))}\n`);
}

async function directProcess(modelPath: string, size: number): Promise<RunFigures> {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--direct', modelPath, String(size)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (data: Buffer) => (output += data.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`the direct run exited with ${code}`);
    return JSON.parse(output) as RunFigures;
}

/** `local-ai chat --json` in a fresh process, timed here on each text line as it arrives. */
async function cliRun(modelPath: string): Promise<{ figures: RunFigures; result: ChatResult }> {
    const cli = fileURLToPath(new URL('../cli.mjs', import.meta.url));
    const args = [cli, 'chat', prompt, '--model', modelPath, '--threads', String(threads), '--max-tokens', String(maxTokens), '--temperature', '0', '--json'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = textTimer(child.pid ?? 0);
    let result: ChatResult | undefined;
    for await (const line of createInterface({ input: child.stdout })) {
        const chunk = JSON.parse(line) as ChatChunk | { kind: 'result'; result: ChatResult };
        if (chunk.kind === 'text') timer.text(chunk.text);
        else if (chunk.kind === 'result') result = chunk.result;
    }
    const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
    if (code !== 0 || !result) throw new Error(`local-ai chat exited with ${code}`);
    return { figures: timer.end(result.usage.completionTokens), result };
}

let requests = 0;

async function sidecarRun(sidecar: SidecarProcess, modelPath: string, text: string, copiesInput = false): Promise<RunFigures> {
    const token = `stream-bench-${requests++}`;
    const timer = textTimer(sidecar.child.pid ?? 0);
    const subscription = sidecar.connection.onProgress(ChatChunkType, token, (chunk: ChatChunk) => {
        if (chunk.kind === 'text') timer.text(chunk.text);
    });
    try {
        const result = (await sidecar.connection.sendRequest(ChatRequest.method, {
            messages: [{ role: 'user', content: text }],
            model: modelPath,
            options: { maxTokens, temperature: 0, copiesInput },
            partialResultToken: token,
        })) as ChatResult;
        return { ...timer.end(result.usage.completionTokens), guessed: result.usage.guessedTokens };
    } finally {
        subscription.dispose();
    }
}

/** The three rows of one path against its direct baseline: tokens/s, overhead per token, main-thread CPU per token. */
function pathRows(label: string, path: RunFigures[], direct: RunFigures[]): BenchRow[] {
    const cpu = path.map((run) => run.cpuMsPerToken);
    return [
        {
            name: `tokens/s, ${label} vs LlamaChat directly (~100 MB F16, 1 thread, ${maxTokens} tokens, greedy)`,
            unit: 'tokens/s',
            target: '≥ 0.98×',
            ...compare(
                path.map((run) => run.tokensPerSecond),
                direct.map((run) => run.tokensPerSecond),
            ),
        },
        {
            name: `per-token overhead, ${label} over LlamaChat directly`,
            unit: 'ms/token',
            ratioUnit: 'ms extra',
            target: '≤ 0.1 ms extra',
            ...compare(
                path.map((run) => run.msPerToken),
                direct.map((run) => run.msPerToken),
                'difference',
            ),
        },
        ...(cpu.every(Number.isFinite)
            ? [
                  {
                      name: `main-thread CPU per token, ${label} vs LlamaChat directly`,
                      unit: 'ms/token',
                      ratioUnit: 'ms extra',
                      target: 'informational',
                      ...compare(
                          cpu,
                          direct.map((run) => run.cpuMsPerToken),
                          'difference',
                      ),
                  },
              ]
            : []),
    ];
}

async function compareCli(modelPath: string): Promise<BenchRow[]> {
    const warm = await cliRun(modelPath);
    const size = warm.result.engine.contextSize ?? contextSize;
    progress(`the CLI resolved a ${size}-token context; the direct runs use the same`);
    const [cli, direct] = await interleave(rounds, [async () => (await cliRun(modelPath)).figures, () => directProcess(modelPath, size)]);
    for (let round = 0; round < rounds; round++) {
        progress(`CLI round ${round}: CLI ${cli[round].tokensPerSecond.toFixed(1)} tokens/s, direct ${direct[round].tokensPerSecond.toFixed(1)} tokens/s`);
    }
    return pathRows('local-ai chat --json', cli, direct);
}

async function compareRpc(sidecar: SidecarProcess, modelPath: string, sequence: LlamaContextSequence): Promise<BenchRow[]> {
    await sidecarRun(sidecar, modelPath, 'Warm up.');
    await directRun(sequence, 'Warm up.');
    const [rpc, direct] = await interleave(rounds, [() => sidecarRun(sidecar, modelPath, prompt), () => directRun(sequence, prompt)]);
    for (let round = 0; round < rounds; round++) {
        progress(
            `JSON-RPC round ${round}: sidecar ${rpc[round].tokensPerSecond.toFixed(1)} tokens/s, direct ${direct[round].tokensPerSecond.toFixed(1)} tokens/s`,
        );
    }
    return pathRows('JSON-RPC chat via the sidecar', rpc, direct);
}

/** §6: an edit with and without input lookup, through the sidecar, and the share of guesses the model kept. */
async function compareInputLookup(sidecar: SidecarProcess, modelPath: string): Promise<BenchRow[]> {
    const [withLookup, without] = await interleave(rounds, [
        () => sidecarRun(sidecar, modelPath, editPrompt, true),
        () => sidecarRun(sidecar, modelPath, editPrompt),
    ]);
    if (withLookup.some((run, round) => run.text !== without[round].text)) throw new Error('input lookup changed a greedy answer');
    const kept = withLookup.map((run) => run.guessed?.kept ?? 0);
    const refused = withLookup.map((run) => run.guessed?.refused ?? 0);
    progress(`input lookup: guesses kept ${kept.join(', ')}; refused ${refused.join(', ')}`);
    return [
        {
            name: 'tokens/s, an edit via the sidecar, with input lookup vs without (generated model: its words are tokens no text tokenizes to, so no guess can hold)',
            unit: 'tokens/s',
            target: 'informational',
            ...compare(
                withLookup.map((run) => run.tokensPerSecond),
                without.map((run) => run.tokensPerSecond),
            ),
        },
        {
            name: 'input lookup: share of guessed tokens llama.cpp kept, same edit (generated model)',
            unit: '%',
            target: 'informational',
            ...summarize(kept.map((k, round) => (k + refused[round] > 0 ? (100 * k) / (k + refused[round]) : 0))),
        },
    ];
}

async function main(): Promise<void> {
    const modelPath = ensureFixtureModel(defaultFixtureDir(), benchModel);
    // LOCAL_AI_BENCH_STREAM=cli,rpc,lookup runs only those sections.
    const sections = process.env.LOCAL_AI_BENCH_STREAM?.split(',') ?? ['cli', 'rpc', 'lookup'];
    if (sections.includes('cli')) report(await compareCli(modelPath));
    if (!sections.includes('rpc') && !sections.includes('lookup')) return;
    const lib = await importNodeLlamaCpp();
    const llama = await lib.getLlama({ gpu: false, build: 'never', logLevel: lib.LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath });
    // The sidecar's context (its default sequences); the baseline's sequence has no predictor, as LlamaChat's own.
    const context = await model.createContext({ contextSize, threads, batchSize, sequences: DEFAULT_SEQUENCES, flashAttention: false });
    const plain = context.getSequence();
    const sidecar = await startSidecar({ settings: { threads, gpu: 'off', contextSize } });
    try {
        await sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath });
        if (sections.includes('rpc')) report(await compareRpc(sidecar, modelPath, plain));
        if (sections.includes('lookup')) report(await compareInputLookup(sidecar, modelPath));
    } finally {
        await sidecar.stop();
        await context.dispose();
        await model.dispose();
    }
}

const direct = process.argv.indexOf('--direct');
(direct >= 0 ? directChild(process.argv[direct + 1], Number(process.argv[direct + 2])) : main()).then(
    () => process.exit(0),
    (error: unknown) => {
        console.error(error);
        process.exit(1);
    },
);
