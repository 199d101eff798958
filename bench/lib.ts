/**
 * What every benchmark reports: one row per figure, measured side by side with its baseline in the
 * same run (these machines are shared and noisy, so only ratios within one run mean anything).
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
    /** value ÷ baseline (or the ratio the target is expressed in). */
    ratio?: number;
    /** The target, in words, e.g. "≥ 0.95×". */
    target?: string;
}

export function report(rows: BenchRow[]): void {
    for (const row of rows) {
        const ratio = row.ratio ?? (row.baseline ? row.value / row.baseline : undefined);
        const complete = { ...row, ratio };
        const line = `${row.name}: ${row.value.toFixed(2)} ${row.unit}${row.baseline !== undefined ? ` (baseline ${row.baseline.toFixed(2)})` : ''}${ratio !== undefined ? ` ratio ${ratio.toFixed(3)}` : ''}`;
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
