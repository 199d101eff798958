/**
 * What every benchmark reports: one row per figure, measured side by side with its baseline in the
 * same run (these machines are shared and noisy, so only ratios within one run mean anything).
 * Figures are medians of interleaved repeats; each ratio comes with a 95% bootstrap interval, so a
 * reader sees whether the gap to a target is larger than the noise.
 * Rows are appended to the file named by LOCAL_AI_BENCH_RESULTS (scripts/bench.mjs sets it).
 */
import { appendFileSync } from 'node:fs';

export interface BenchRow {
    /** What was measured, e.g. "chat tokens/s, tiny model, via sidecar". */
    name: string;
    value: number;
    unit: string;
    /** The same figure for the baseline (node-llama-cpp directly, curl, …), when there is one. */
    baseline?: number;
    /** value ÷ baseline (or the ratio the target is expressed in); from compare(), the median of the per-round ratios. */
    ratio?: number;
    /** What `ratio` is in when it is not a quotient, e.g. "ms extra" (compare(…, 'difference')). */
    ratioUnit?: string;
    /** 95% bootstrap interval of `ratio` (of `value` when there is no ratio): the run's noise. */
    ci?: [number, number];
    /** Interleaved repeats behind each median. */
    repeats?: number;
    /** The target, in words, e.g. "≥ 0.95×". */
    target?: string;
}

export function report(rows: BenchRow[]): void {
    for (const row of rows) {
        const ratio = row.ratio ?? (row.baseline ? row.value / row.baseline : undefined);
        const complete = { ...row, ratio };
        const noise = row.ci ? ` [95% CI ${row.ci[0].toFixed(3)}–${row.ci[1].toFixed(3)}, n=${row.repeats}]` : '';
        const line = `${row.name}: ${row.value.toFixed(2)} ${row.unit}${row.baseline !== undefined ? ` (baseline ${row.baseline.toFixed(2)})` : ''}${ratio !== undefined ? ` ratio ${ratio.toFixed(3)}` : ''}${noise}`;
        console.log(`[bench] ${line}`);
        if (process.env.LOCAL_AI_BENCH_RESULTS) appendFileSync(process.env.LOCAL_AI_BENCH_RESULTS, `${JSON.stringify(complete)}\n`);
    }
}

/** Median of a list of numbers (robust to one noisy sample). */
export function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** A small seeded generator (mulberry32), so the same samples always give the same interval. */
function seededRandom(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/**
 * 95% percentile-bootstrap interval of a statistic over interleaved rounds. Whole rounds are resampled
 * (every series keeps the samples of the same rounds), so drift that hit all sides of a round alike
 * stays paired, as it was measured.
 */
export function bootstrapCi(rounds: number, statistic: (picked: number[]) => number, resamples = 4000): [number, number] {
    const random = seededRandom(rounds * 7919 + 17);
    const estimates: number[] = [];
    for (let i = 0; i < resamples; i++) {
        const picked = Array.from({ length: rounds }, () => Math.floor(random() * rounds));
        const estimate = statistic(picked);
        if (Number.isFinite(estimate)) estimates.push(estimate);
    }
    estimates.sort((a, b) => a - b);
    return [estimates[Math.floor(estimates.length * 0.025)], estimates[Math.min(estimates.length - 1, Math.floor(estimates.length * 0.975))]];
}

/** The samples of `values` at the rounds `picked` (indices, repeats allowed). */
export function pick(values: number[], picked: number[]): number[] {
    return picked.map((index) => values[index]);
}

/**
 * A figure against its baseline, both sampled once per round in the same rounds: their medians, and the
 * median of the per-round ratios with its bootstrap interval. Each round's pair ran back to back, so
 * its ratio cancels drift slower than a round (another engineer's build starting, the page cache
 * filling); the ratio of the two medians would carry that drift as noise. `ratio: 'difference'` reports
 * value − baseline instead (extra milliseconds, where a ratio of two small times would exaggerate).
 */
export function compare(
    values: number[],
    baseline: number[],
    ratio: 'quotient' | 'difference' = 'quotient',
): Pick<BenchRow, 'value' | 'baseline' | 'ratio' | 'ci' | 'repeats'> {
    if (values.length !== baseline.length) throw new Error(`unpaired samples: ${values.length} against ${baseline.length}`);
    const perRound = values.map((value, round) => (ratio === 'quotient' ? value / baseline[round] : value - baseline[round]));
    return {
        value: median(values),
        baseline: median(baseline),
        ratio: median(perRound),
        ci: bootstrapCi(perRound.length, (picked) => median(pick(perRound, picked))),
        repeats: values.length,
    };
}

/** A figure with no baseline: its median and the bootstrap interval of the median. */
export function summarize(values: number[]): Pick<BenchRow, 'value' | 'ci' | 'repeats'> {
    return { value: median(values), ci: bootstrapCi(values.length, (picked) => median(pick(values, picked))), repeats: values.length };
}

/**
 * Runs each side once per round, `rounds` times, rotating which side goes first: on the loaded shared
 * machine whichever ran second in a pair measured consistently slower, whatever it was.
 * Returns the samples of each side, in the order of `sides`, one per round. `firstRound` continues the
 * rotation of an earlier call (more rounds of the same comparison).
 */
export async function interleave<T>(rounds: number, sides: ((round: number) => Promise<T>)[], firstRound = 0): Promise<T[][]> {
    const samples = sides.map(() => [] as T[]);
    for (let round = firstRound; round < firstRound + rounds; round++) {
        for (let step = 0; step < sides.length; step++) {
            const side = (round + step) % sides.length;
            samples[side].push(await sides[side](round));
        }
    }
    return samples;
}

/** Milliseconds that `work` took. */
export async function elapsedMs(work: () => unknown): Promise<number> {
    const start = performance.now();
    await work();
    return performance.now() - start;
}

/**
 * Runs a bench's `main` and exits: 0 once it is done (node-llama-cpp and the sidecar's pipes would keep the
 * process alive), 1 with the error printed.
 */
export function runBench(main: () => Promise<void>): void {
    main().then(
        () => process.exit(0),
        (error: unknown) => {
            console.error(error);
            process.exit(1);
        },
    );
}
