/**
 * Code completion (issue #13, Benchmarks) on the ~100 MB F16 FIM model, 1 thread, a 4,096-token context,
 * greedy, medians of interleaved rounds, against node-llama-cpp's LlamaCompletion called directly with the
 * same prompt tokens (prompt.ts builds them for both sides) on a sequence of a context of the same size:
 * - warm: one character typed after a request at a ~1,500-token prefix; the tokens the sidecar evaluated
 *   (target ≤ 16) and the latency, client to answer, against the direct call on a sequence that already
 *   holds the previous prompt (target ≤ 1.2×);
 * - cold: the same prefix with nothing of it in the KV cache, on both sides (target ≤ 1.1×);
 * - cancel-to-idle: $/cancelRequest on a running request until the sidecar answers 'cancelled' (target
 *   ≤ 50 ms p95), beside an abort of the direct call until its promise settles;
 * - a chat answer (the ~100 MB F16 chat model) running while the user types: its tokens/s against the same
 *   answer alone (target ≤ 15% drop), and the completion latency against the same keystrokes alone (≤ 2×).
 */
import type { LlamaCompletion, LlamaModel, Token } from 'node-llama-cpp';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import type { ChatChunk, ChatResult } from '../src/common/chat';
import { CompleteRequest, type CompletionParams, type CompletionResult } from '../src/common/completion';
import { ChatChunkType, ChatRequest } from '../src/common/protocol';
import { COMPLETION_CONTEXT_SIZE } from '../src/sidecar/completion/index';
import { buildFimPrompt, fimTokensOf } from '../src/sidecar/completion/prompt';
import { importNodeLlamaCpp } from '../src/sidecar/llama/runtime';
import { waitFor } from '../test/fixtures/cliProcess';
import { benchCoderModel, benchModel, defaultFixtureDir, ensureFixtureModel } from '../test/fixtures/gguf/model';
import { startSidecar, type SidecarProcess } from '../test/fixtures/sidecarProcess';
import { compare, elapsedMs, interleave, median, report, summarize, type BenchRow, runBench } from './lib';

const threads = 1;
const batchSize = 512;
/** Answer tokens of each timed completion: a short suggestion, the same on both sides. */
const maxTokens = 8;
const chatTokens = 128;
/** Rounds; `LOCAL_AI_BENCH_ROUNDS` lowers it for a quick look. */
const rounds = Number(process.env.LOCAL_AI_BENCH_ROUNDS) || 9;
/** Cancellations per round (a p95 needs more samples than a median). */
const cancelsPerRound = 4;
/** Keystrokes per round in the chat-under-load section. */
const keystrokes = 6;
/** The context the product's completion prompt is cut to fit (localCompletion.ts: context − answer − 8). */
const room = COMPLETION_CONTEXT_SIZE - maxTokens - 8;

function progress(message: string): void {
    process.stderr.write(`[completion bench] ${message}\n`);
}

/** About 1,500 tokens of code before the cursor's line; `tag` changes its first line (a different file: nothing of it cached). */
function longPrefix(tag: string): string {
    const lines: string[] = [];
    for (let i = 0; lines.join('\n').length < 2_400; i++) lines.push(`    const value${i} = compute(${i}, "item ${i}");`);
    return `// ${tag}\nfunction main() {\n${lines.join('\n')}\n`;
}
const suffix = `\n${Array.from({ length: 30 }, (_, i) => `    check(value${i});`).join('\n')}\n    return value0;\n}\n`;

/** The direct side: LlamaCompletion on its own sequence, given the product's prompt tokens. */
class Direct {
    constructor(
        private readonly model: LlamaModel,
        readonly completion: LlamaCompletion,
    ) {}

    tokensOf(prefix: string): Token[] {
        const fim = fimTokensOf(this.model);
        if (!fim) throw new Error('the bench model has no FIM tokens');
        return buildFimPrompt(this.model, fim, { prefix, suffix }, room).tokens;
    }

    /** Milliseconds of one completion. */
    async complete(prefix: string, signal?: AbortSignal): Promise<{ ms: number }> {
        const tokens = this.tokensOf(prefix);
        const ms = await elapsedMs(() =>
            this.completion.generateCompletion(tokens, { maxTokens, temperature: 0, signal, stopOnAbortSignal: true, contextShiftSize: maxTokens + 8 }),
        );
        return { ms };
    }
}

let sidecar: SidecarProcess;
let coderPath = '';

function sidecarComplete(params: Omit<CompletionParams, 'model' | 'suffix'>, cancel?: CancellationTokenSource): Promise<CompletionResult> {
    const request = { model: coderPath, suffix, maxTokens, temperature: 0, timeoutMs: 120_000, ...params };
    return (
        cancel ? sidecar.connection.sendRequest(CompleteRequest.method, request, cancel.token) : sidecar.connection.sendRequest(CompleteRequest.method, request)
    ) as Promise<CompletionResult>;
}

/** Milliseconds of one completion through the sidecar, client to answer; throws when the cache answered. */
async function timedSidecar(prefix: string): Promise<{ ms: number; result: CompletionResult }> {
    const start = performance.now();
    const result = await sidecarComplete({ prefix });
    const ms = performance.now() - start;
    if (result.fromCache) throw new Error('the cache answered a timed request');
    return { ms, result };
}

/** A character the previous suggestion did not start with, so the model answers again rather than the cache. */
function typedAfter(text: string, round: number): string {
    const candidates = ['(', '[', '.', ' ', '+'];
    return candidates.filter((c) => !text.startsWith(c))[round % 4];
}

async function warmAndCold(direct: Direct): Promise<BenchRow[]> {
    const evaluated: number[] = [];
    const generated: number[] = [];
    const [warm, directWarm] = await interleave(rounds, [
        async (round) => {
            const line = `${longPrefix(`warm ${round}`)}    const total = sum`;
            const first = await sidecarComplete({ prefix: line });
            const { ms, result } = await timedSidecar(line + typedAfter(first.text, round));
            evaluated.push(result.usage.evaluatedTokens);
            generated.push(result.usage.completionTokens);
            return ms;
        },
        async (round) => {
            const line = `${longPrefix(`warm ${round}`)}    const total = sum`;
            await direct.complete(line);
            return (await direct.complete(`${line}(`)).ms;
        },
    ]);
    progress(`warm: the sidecar evaluated ${evaluated.join(', ')} tokens and generated ${generated.join(', ')} (direct: ${maxTokens})`);
    const promptTokens: number[] = [];
    const [cold, directCold] = await interleave(rounds, [
        async (round) => {
            const { ms, result } = await timedSidecar(`${longPrefix(`cold ${round}`)}    const total = sum`);
            // Only the first line's start (<|fim_prefix|>// cold) can be shared with the previous prompt.
            if (result.usage.evaluatedTokens < result.usage.promptTokens * 0.99)
                throw new Error(`a cold request evaluated ${result.usage.evaluatedTokens} of ${result.usage.promptTokens}`);
            promptTokens.push(result.usage.promptTokens);
            return ms;
        },
        async (round) => (await direct.complete(`${longPrefix(`cold ${round}`)}    const total = sum`)).ms,
    ]);
    progress(`cold: prompts of ${promptTokens.join(', ')} tokens`);
    return [
        {
            name: 'completion: prompt tokens evaluated after one character typed at a ~1,500-token prefix (benchcoder100m)',
            unit: 'tokens',
            target: '≤ 16',
            ...summarize(evaluated),
        },
        {
            name: `completion warm latency (one character typed, ${maxTokens} tokens), sidecar vs LlamaCompletion directly on a sequence holding the prefix`,
            unit: 'ms',
            target: '≤ 1.2×',
            ...compare(warm, directWarm),
        },
        {
            name: `completion cold latency (~${median(promptTokens)}-token prompt, nothing cached), sidecar vs LlamaCompletion directly`,
            unit: 'ms',
            target: '≤ 1.1×',
            ...compare(cold, directCold),
        },
    ];
}

/** Cancel-to-idle: from the keystroke's cancel to the answer that generation stopped. */
async function cancelToIdle(direct: Direct): Promise<BenchRow[]> {
    const [viaSidecar, directly] = await interleave(rounds * cancelsPerRound, [
        async (round) => {
            const started = sidecar.logs.length;
            const cancel = new CancellationTokenSource();
            const pending = sidecarComplete({ prefix: `let answer${round} = `, maxTokens: 3_000 }, cancel);
            await waitFor(() => sidecar.logs.slice(started).some((line) => line.includes('Completion: first token')), 120_000);
            const start = performance.now();
            cancel.cancel();
            const result = await pending;
            const ms = performance.now() - start;
            if (result.finishReason !== 'cancelled') throw new Error(`a cancelled request ended with ${result.finishReason}`);
            return ms;
        },
        async (round) => {
            const abort = new AbortController();
            const tokens = direct.tokensOf(`let answer${round} = `);
            let start = 0;
            await direct.completion.generateCompletion(tokens, {
                maxTokens: 3_000,
                temperature: 0,
                signal: abort.signal,
                stopOnAbortSignal: true,
                onToken: () => {
                    if (start) return;
                    start = performance.now();
                    abort.abort();
                },
            });
            return performance.now() - start;
        },
    ]);
    const p95 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil(values.length * 0.95) - 1)];
    progress(`cancel: sidecar ${viaSidecar.map((ms) => ms.toFixed(1)).join(', ')} ms`);
    return [
        {
            name: 'completion cancel-to-idle p95 ($/cancelRequest → the sidecar answers cancelled), vs aborting LlamaCompletion directly',
            unit: 'ms',
            target: '≤ 50 ms',
            value: p95(viaSidecar),
            baseline: p95(directly),
            repeats: viaSidecar.length,
        },
        { name: 'completion cancel-to-idle p50 via the sidecar', unit: 'ms', target: 'informational', ...compare(viaSidecar, directly) },
    ];
}

/** One chat answer through the sidecar: tokens/s from its first text to its last. */
async function chat(chatPath: string, token: string): Promise<number> {
    let first = 0;
    let last = 0;
    const subscription = sidecar.connection.onProgress(ChatChunkType, token, (chunk: ChatChunk) => {
        if (chunk.kind !== 'text' || chunk.text.length === 0) return;
        last = performance.now();
        first ||= last;
    });
    try {
        const result = (await sidecar.connection.sendRequest(ChatRequest.method, {
            messages: [{ role: 'user', content: 'Write a short story about a lighthouse keeper.' }],
            model: chatPath,
            options: { maxTokens: chatTokens, temperature: 0 },
            partialResultToken: token,
        })) as ChatResult;
        return (1000 * (result.usage.completionTokens - 1)) / (last - first);
    } finally {
        subscription.dispose();
    }
}

/** A request at a fresh ~1,500-token prefix (cold, untimed), then keystrokes on it one after another, until `during` settles or `keystrokes` of them; their median latency. */
async function typing(round: number, during?: () => Promise<unknown>): Promise<number> {
    const line = `${longPrefix(`typing ${round}`)}    const total = sum`;
    let text = (await sidecarComplete({ prefix: line })).text;
    let done = false;
    void during?.().then(() => (done = true));
    let typed = '';
    const latencies: number[] = [];
    for (let i = 0; i < keystrokes && !done; i++) {
        typed += typedAfter(text, i);
        const { ms, result } = await timedSidecar(line + typed);
        latencies.push(ms);
        text = result.text;
    }
    if (latencies.length === 0) throw new Error('the chat answer ended before the first keystroke');
    return median(latencies);
}

async function chatWhileTyping(chatPath: string): Promise<BenchRow[]> {
    await chat(chatPath, 'warm-up');
    let chats = 0;
    const [alone, underLoad, idleTyping] = await interleave<number[]>(rounds, [
        async () => [await chat(chatPath, `chat-${chats++}`)],
        async (round) => {
            let answer: Promise<number> | undefined;
            const typed = await typing(round, () => (answer = chat(chatPath, `chat-${chats++}`)));
            return [await (answer as Promise<number>), typed];
        },
        async (round) => [await typing(round + rounds)],
    ]);
    const loaded = underLoad.map(([tokensPerSecond]) => tokensPerSecond);
    progress(`chat tokens/s alone ${alone.map(([v]) => v.toFixed(1)).join(', ')}; while typing ${loaded.map((v) => v.toFixed(1)).join(', ')}`);
    return [
        {
            name: 'chat tokens/s while completions are requested vs alone (bench100m chat + benchcoder100m, 1 thread each)',
            unit: 'tokens/s',
            target: '≥ 0.85×',
            ...compare(
                loaded,
                alone.map(([v]) => v),
            ),
        },
        {
            name: 'completion p50 latency (one character typed) while a chat answer runs vs idle',
            unit: 'ms',
            target: '≤ 2×',
            ...compare(
                underLoad.map(([, typed]) => typed),
                idleTyping.map(([v]) => v),
            ),
        },
    ];
}

async function main(): Promise<void> {
    coderPath = ensureFixtureModel(defaultFixtureDir(), benchCoderModel);
    const chatPath = ensureFixtureModel(defaultFixtureDir(), benchModel);
    const lib = await importNodeLlamaCpp();
    const llama = await lib.getLlama({ gpu: false, build: 'never', logLevel: lib.LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: coderPath });
    const context = await model.createContext({ contextSize: COMPLETION_CONTEXT_SIZE, threads, batchSize, sequences: 1, flashAttention: false });
    const sequence = context.getSequence();
    const direct = new Direct(model, new lib.LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false }));
    sidecar = await startSidecar({ settings: { threads, gpu: 'off' } });
    try {
        // Both models loaded and warmed before any timing.
        await sidecarComplete({ prefix: 'let warm = ' });
        await direct.complete('let warm = ');
        // LOCAL_AI_BENCH_COMPLETION=latency,cancel,chat runs only those sections.
        const sections = process.env.LOCAL_AI_BENCH_COMPLETION?.split(',') ?? ['latency', 'cancel', 'chat'];
        if (sections.includes('latency')) report(await warmAndCold(direct));
        if (sections.includes('cancel')) report(await cancelToIdle(direct));
        if (sections.includes('chat')) report(await chatWhileTyping(chatPath));
    } finally {
        await sidecar.stop();
        await context.dispose();
        await model.dispose();
    }
}

runBench(main);
