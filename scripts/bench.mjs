#!/usr/bin/env node
// `npm run bench`: builds, runs every benchmark (dist/bench/*.bench.mjs) one after another so they do
// not compete for the 2 cores, prints one table and writes bench-results.json (one entry per figure:
// name, value, unit, baseline, ratio (in ratioUnit when it is not a quotient), ci: its 95% bootstrap
// interval, repeats: the interleaved rounds). `LOCAL_AI_BENCH_ONLY=engine,download` runs a subset;
// `LOCAL_AI_BENCH_ROUNDS=3` fewer rounds, for a quick look while developing.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(process.execPath, [join(root, 'esbuild.js')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const only = process.env.LOCAL_AI_BENCH_ONLY?.split(',').map((name) => name.trim());
const benchDir = join(root, 'dist', 'bench');
const benches = existsSync(benchDir)
    ? readdirSync(benchDir)
          .filter((file) => file.endsWith('.bench.mjs') && (!only || only.includes(file.replace('.bench.mjs', ''))))
          .sort()
    : [];
const rowsFile = join(tmpdir(), `local-ai-bench-${process.pid}.jsonl`);
rmSync(rowsFile, { force: true });

let failed = 0;
for (const bench of benches) {
    console.log(`\n== ${bench}`);
    const run = spawnSync(process.execPath, [join(benchDir, bench)], {
        cwd: root,
        stdio: 'inherit',
        env: { ...process.env, LOCAL_AI_BENCH_RESULTS: rowsFile },
    });
    if (run.status !== 0) {
        failed++;
        console.error(`${bench} failed (exit ${run.status ?? run.signal})`);
    }
}

const rows = existsSync(rowsFile)
    ? readFileSync(rowsFile, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line))
    : [];
rmSync(rowsFile, { force: true });
writeFileSync(join(root, 'bench-results.json'), `${JSON.stringify({ date: new Date().toISOString(), rows }, null, 2)}\n`);

const fmt = (value) => (value === undefined || value === null ? '' : Number(value).toFixed(Math.abs(value) >= 100 ? 0 : 2));
// The interval is the ratio's when there is one (else the value's): a gap to a target smaller than it is noise.
const interval = (r) => {
    if (!r.ci) return '';
    const format = r.ratio === undefined || r.ratioUnit ? fmt : (v) => Number(v).toFixed(3);
    return `${format(r.ci[0])}–${format(r.ci[1])}`;
};
const table = [
    ['figure', 'value', 'unit', 'baseline', 'ratio', '95% CI', 'n', 'target'],
    ...rows.map((r) => [
        r.name,
        fmt(r.value),
        r.unit,
        fmt(r.baseline),
        r.ratio === undefined ? '' : r.ratioUnit ? `${fmt(r.ratio)} ${r.ratioUnit}` : `${Number(r.ratio).toFixed(3)}×`,
        interval(r),
        r.repeats ?? '',
        r.target ?? '',
    ]),
];
const widths = table[0].map((_, column) => Math.max(...table.map((row) => String(row[column]).length)));
console.log(
    `\n${table.map((row, index) => row.map((cell, column) => String(cell).padEnd(widths[column])).join(' | ') + (index === 0 ? `\n${widths.map((w) => '-'.repeat(w)).join('-|-')}` : '')).join('\n')}`,
);
console.log(`\n${rows.length} figures written to bench-results.json${failed ? `; ${failed} benchmark(s) failed` : ''}.`);
process.exit(failed ? 1 : 0);
