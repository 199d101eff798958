/**
 * The thread sweep on the ~100 MB model: generation speed with 1–4 threads and with `auto` (what the
 * product picks for this machine, autoThreads), node-llama-cpp called directly, one context per setting.
 * `auto` is compared with the BEST EXPLICIT count only (it never counts toward "best"), in two stages:
 * 1. a screen: every explicit count over a few interleaved rounds (every count once per round, the first
 *    one rotating, so drift on the shared machine hits them alike). Oversubscribed counts crawl here
 *    (about 1.5 tokens/s with 3–4 threads on 2 cores), so a screen run stops after a few seconds;
 * 2. the contenders (explicit counts within 2× of the screen's best) and `auto`, over many more
 *    interleaved rounds. The ratio (the median over rounds of auto ÷ the best contender in that round's
 *    back-to-back runs) comes with a 95% bootstrap interval over those rounds, "best" chosen again by
 *    median inside each resample, so picking the luckiest count is part of the noise.
 * The target is auto within 10% of the best, so the interval must be narrower than that to say anything.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { LlamaContext } from 'node-llama-cpp';
import { defaultSettings } from '../src/common/settings';
import { SidecarContext } from '../src/sidecar/context';
import { importNodeLlamaCpp } from '../src/sidecar/llama/runtime';
import { HardwareService } from '../src/sidecar/hardware';
import { autoThreads } from '../src/sidecar/hardware/autoConfig';
import { benchModel, defaultFixtureDir, ensureFixtureModel } from '../test/fixtures/gguf/model';
import { bootstrapCi, interleave, median, pick, report, summarize, type BenchRow, runBench } from './lib';

/** Rounds of the final stage at least; `LOCAL_AI_BENCH_ROUNDS` lowers it for a quick look. */
const minRounds = Number(process.env.LOCAL_AI_BENCH_ROUNDS) || 21;
/**
 * The final stage goes on, 10 rounds at a time, until the interval of auto ÷ best is at most this wide
 * (so it can tell 0.90× from 1.00×), or until maxRounds: on a loaded machine the spread between two runs
 * of the same setting reached 2×, and a fixed count left the interval 30% wide.
 */
const targetWidth = 0.1;
const maxRounds = minRounds * 6;
const screenRounds = Math.min(minRounds, 5);
const explicitCounts = [1, 2, 3, 4];
const maxTokens = 48;
/** A screen run stops after this long and is measured on the tokens it produced (0 when fewer than 2). */
const screenLimitMs = 5_000;
const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

function progress(message: string): void {
    process.stderr.write(`[threads bench] ${message}\n`);
}

/** Tokens/s after the first token (the prompt is not what threads are tuned for); 0 when none came out. */
async function tokensPerSecond(context: LlamaContext, prompt: string, limitMs = 60_000): Promise<number> {
    const { LlamaChat } = await importNodeLlamaCpp();
    const sequence = context.getSequence();
    const chat = new LlamaChat({ contextSequence: sequence, autoDisposeSequence: false });
    let firstAt = 0;
    let lastAt = 0;
    let tokens = 0;
    const limit = AbortSignal.timeout(limitMs);
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
                signal: limit,
                stopOnAbortSignal: true,
                onToken: (chunk) => {
                    firstAt ||= performance.now();
                    lastAt = performance.now();
                    tokens += chunk.length;
                },
            },
        );
    } catch (error) {
        // Stopped while still reading the prompt: no token came out within the limit.
        if (!limit.aborted) throw error;
    } finally {
        chat.dispose();
        sequence.dispose();
    }
    return tokens > 1 ? (tokens - 1) / ((lastAt - firstAt) / 1000) : 0;
}

async function main(): Promise<void> {
    const { getLlama, LlamaLogLevel } = await importNodeLlamaCpp();
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    const context = new SidecarContext({
        log: silent,
        settings: defaultSettings(),
        secrets: { providerKeys: {} },
        defaultModelsPath: os.tmpdir(),
        statePath: path.join(os.tmpdir(), 'local-ai-bench-state'),
    });
    const hardware = new HardwareService({ context, llama: async () => llama });
    const auto = autoThreads(await hardware.report());
    hardware.dispose();

    const model = await llama.loadModel({ modelPath: ensureFixtureModel(defaultFixtureDir(), benchModel) });
    // `auto` gets its own context even when it equals an explicit count: it is measured, not copied.
    const settings = [...explicitCounts.map((count) => ({ name: `${count}`, count })), { name: `auto (${auto})`, count: auto }];
    const contexts: LlamaContext[] = [];
    for (const setting of settings) contexts.push(await model.createContext({ contextSize: 1024, threads: setting.count, sequences: 1 }));
    // Warm every context once (first-run allocations), unmeasured.
    for (const context of contexts) await tokensPerSecond(context, 'Warm up.', screenLimitMs);
    const run = (index: number, stage: string, limitMs?: number) => async (round: number) => {
        const speed = await tokensPerSecond(contexts[index], `Sweep ${stage} ${round}: tell me about the sea.`, limitMs);
        progress(`${stage} round ${round}, ${settings[index].name} threads: ${speed.toFixed(1)} tokens/s`);
        return speed;
    };

    const screen = await interleave(
        screenRounds,
        explicitCounts.map((_, index) => run(index, 'screen', screenLimitMs)),
    );
    const screenBest = Math.max(...screen.map((series) => median(series)));
    const contenders = explicitCounts.map((_, index) => index).filter((index) => median(screen[index]) >= screenBest / 2);
    const autoIndex = settings.length - 1;
    const finalRuns = [...contenders, autoIndex].map((index) => run(index, 'final'));
    const final = await interleave(minRounds, finalRuns);
    const autoSamples = final[contenders.length];
    const bestOf = (picked?: number[]) => {
        const medians = contenders.map((_, position) => median(picked ? pick(final[position], picked) : final[position]));
        return medians.indexOf(Math.max(...medians));
    };
    // Paired per round, as compare() does: auto ÷ the best contender of the same round's runs.
    const ratioOf = (picked?: number[]) => {
        const best = final[bestOf(picked)];
        const rounds = picked ?? best.map((_, round) => round);
        return median(rounds.map((round) => autoSamples[round] / best[round]));
    };
    let interval = bootstrapCi(minRounds, (picked) => ratioOf(picked));
    while (interval[1] - interval[0] > targetWidth && final[0].length < maxRounds) {
        const more = await interleave(Math.min(10, maxRounds - final[0].length), finalRuns, final[0].length);
        for (const [side, series] of more.entries()) final[side].push(...series);
        interval = bootstrapCi(final[0].length, (picked) => ratioOf(picked));
        progress(`after ${final[0].length} rounds the interval of auto ÷ best is ${interval.map((v) => v.toFixed(3)).join('–')}`);
    }
    for (const context of contexts) await context.dispose();
    await model.dispose();

    const best = bestOf();
    const stalled = (series: number[]) => {
        const runs = series.filter((speed) => speed === 0).length;
        return runs ? ` (${runs} of ${series.length} runs: no second token within ${screenLimitMs / 1000} s)` : '';
    };
    const rows: BenchRow[] = explicitCounts.map((count, index) => ({
        name: `thread sweep screen, ~100 MB model, ${count} threads${contenders.includes(index) ? ' (a contender)' : ''}${stalled(screen[index])}`,
        unit: 'tokens/s',
        target: 'informational',
        ...summarize(screen[index]),
    }));
    rows.push({
        name: `thread sweep, ~100 MB model, auto (${auto}) threads vs the best explicit count (${explicitCounts[contenders[best]]} of ${contenders.map((i) => explicitCounts[i]).join(', ')})`,
        value: median(autoSamples),
        unit: 'tokens/s',
        baseline: median(final[best]),
        ratio: ratioOf(),
        ci: interval,
        repeats: final[0].length,
        target: '≥ 0.90× best, interval narrower than 10%',
    });
    report(rows);
}

runBench(main);
