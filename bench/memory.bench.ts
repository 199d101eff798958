/**
 * Memory that returns, and costs as the work grows:
 * - the idle sidecar's RSS (target ≤ 80 MB);
 * - RSS after each of 20 load → chat → unload cycles of the ~100 MB model through the real sidecar: the
 *   slope per cycle (target ≤ 1 MB) and the distance to idle (target ≤ 80 MB; the llama.cpp binaries may
 *   stay mapped);
 * RSS is read from /proc/<pid>/smaps_rollup (Linux), split into anonymous memory (heaps: JS and native)
 * and file-backed pages (the mapped binaries and model), so a reader sees which of the two grows.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ChatRequest, LoadModelRequest, ModelListRequest, type ModelListResult, SidecarInfoRequest, UnloadModelRequest } from '../src/common/protocol';
import { ModelStore } from '../src/sidecar/models/store';
import { benchModel, defaultFixtureDir, ensureFixtureModel, tinyModel } from '../test/fixtures/gguf/model';
import { FILLED_OWNER, fillStore } from '../test/fixtures/installedStore';
import { startSidecar, type SidecarProcess } from '../test/fixtures/sidecarProcess';
import { elapsedMs, median, report, summarize, type BenchRow, runBench } from './lib';

const cycles = Number(process.env.LOCAL_AI_BENCH_MEMORY_CYCLES) || 20;

function progress(message: string): void {
    process.stderr.write(`[memory bench] ${message}\n`);
}

/** A process's resident memory, in MB: all of it, its anonymous part and its file-backed part. */
interface Resident {
    rss: number;
    anonymous: number;
    file: number;
}

function resident(pid: number): Resident {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0) / 1024;
    const rss = field('Rss');
    const anonymous = field('Anonymous');
    return { rss, anonymous, file: rss - anonymous };
}

const describe = (r: Resident) => `RSS ${r.rss.toFixed(1)} MB (anonymous ${r.anonymous.toFixed(1)}, file ${r.file.toFixed(1)})`;

/** Least-squares slope of `values` against their index. */
function slope(values: number[]): number {
    const n = values.length;
    const meanX = (n - 1) / 2;
    const meanY = values.reduce((sum, v) => sum + v, 0) / n;
    let num = 0;
    let den = 0;
    values.forEach((v, x) => {
        num += (x - meanX) * (v - meanY);
        den += (x - meanX) ** 2;
    });
    return num / den;
}

/** Waits until the sidecar has answered a request, so its start-up work is over before idle is read. */
async function idleResident(sidecar: SidecarProcess): Promise<Resident> {
    await sidecar.connection.sendRequest(SidecarInfoRequest.method);
    return resident(sidecar.child.pid!);
}

async function cycleRows(modelPath: string): Promise<BenchRow[]> {
    const sidecar = await startSidecar({ settings: { threads: 1, gpu: 'off', contextSize: 1024 } });
    try {
        const pid = sidecar.child.pid!;
        const idle = await idleResident(sidecar);
        progress(`idle: ${describe(idle)}`);
        const afterUnload: Resident[] = [];
        const loaded: Resident[] = [];
        for (let cycle = 0; cycle < cycles; cycle++) {
            await sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath });
            await sidecar.connection.sendRequest(ChatRequest.method, {
                messages: [{ role: 'user', content: `Cycle ${cycle}: tell a short story.` }],
                model: modelPath,
                options: { maxTokens: 32, temperature: 0 },
            });
            loaded.push(resident(pid));
            await sidecar.connection.sendRequest(UnloadModelRequest.method, {});
            afterUnload.push(resident(pid));
            progress(`cycle ${cycle}: loaded ${describe(loaded[cycle])}; after unload ${describe(afterUnload[cycle])}`);
        }
        const rss = afterUnload.map((r) => r.rss);
        return [
            { name: 'idle sidecar RSS', value: idle.rss, unit: 'MB', target: '≤ 80 MB' },
            {
                name: `RSS after unload, slope over ${cycles} load → chat → unload cycles (~100 MB model)`,
                value: slope(rss),
                unit: 'MB/cycle',
                target: '≤ 1 MB/cycle',
            },
            {
                name: `RSS after unload above idle, median of ${cycles} cycles`,
                unit: 'MB',
                target: '≤ 80 MB',
                ...summarize(rss.map((value) => value - idle.rss)),
            },
            { name: 'RSS with the ~100 MB model loaded, median', value: median(loaded.map((r) => r.rss)), unit: 'MB', target: 'informational' },
        ];
    } finally {
        await sidecar.stop();
    }
}

/**
 * Listing a store of 10 / 100 / 1,000 installed files: the store's own scan (every manifest read and
 * checked, no link followed). With `list`, also the model list a user sees through the real sidecar
 * (the scan, the catalog and a fit badge read from each file's GGUF header): cold (the sidecar's first
 * list, every header read), warm (the lists after it) and refreshed (the Refresh button: the store and
 * the discovery folders walked again, each header checked against the file's lstat).
 */
async function storeRows(gguf: string, rounds: number, withList: boolean): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    for (const count of [10, 100, 1000]) {
        const root = mkdtempSync(path.join(tmpdir(), 'local-ai-bench-store-'));
        try {
            fillStore(root, count, gguf);
            const store = new ModelStore(() => root);
            const scans: number[] = [];
            for (let round = 0; round < rounds; round++) scans.push(await elapsedMs(() => store.listManifests()));
            const found = (await store.listManifests()).length;
            if (found !== count) throw new Error(`the store listed ${found} of ${count} installed files`);
            progress(`store of ${count}: scan ${median(scans).toFixed(1)} ms`);
            rows.push({
                name: `store scan, ${count} installed files`,
                unit: 'ms',
                target: count === 1000 ? '≤ 200 ms' : 'grows linearly',
                ...summarize(scans),
            });
            if (withList) rows.push(...(await sidecarListRows(root, count, rounds)));
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    }
    return rows;
}

async function sidecarListRows(root: string, count: number, rounds: number): Promise<BenchRow[]> {
    const sidecar = await startSidecar({ modelsPath: root, settings: { threads: 1, gpu: 'off', offline: true } });
    try {
        await sidecar.connection.sendRequest(SidecarInfoRequest.method);
        const list = (refresh: boolean) => sidecar.connection.sendRequest<ModelListResult>(ModelListRequest.method, { refresh });
        let listed: ModelListResult | undefined;
        const cold = await elapsedMs(async () => {
            listed = await list(false);
        });
        const fitted = listed?.models.filter((entry) => entry.repo?.startsWith(`${FILLED_OWNER}/`) && entry.files.some((file) => file.fit)).length ?? 0;
        if (fitted !== count) throw new Error(`the model list has a fit for ${fitted} of ${count} installed files`);
        const warm: number[] = [];
        const refreshed: number[] = [];
        for (let round = 0; round < rounds; round++) {
            warm.push(await elapsedMs(() => list(false)));
            refreshed.push(await elapsedMs(() => list(true)));
        }
        progress(`model list of ${count}: cold ${cold.toFixed(0)} ms, warm ${median(warm).toFixed(1)} ms, refreshed ${median(refreshed).toFixed(1)} ms`);
        const target = count === 1000 ? '≤ 200 ms' : 'grows linearly';
        return [
            { name: `model list via sidecar, cold (first list), ${count} installed files`, value: cold, unit: 'ms', target: 'informational' },
            { name: `model list via sidecar, warm, ${count} installed files`, unit: 'ms', target, ...summarize(warm) },
            { name: `model list via sidecar, refresh, ${count} installed files`, unit: 'ms', target, ...summarize(refreshed) },
        ];
    } finally {
        await sidecar.stop();
    }
}

async function main(): Promise<void> {
    const fixtures = defaultFixtureDir();
    // LOCAL_AI_BENCH_MEMORY=cycles,store runs only those sections; `list` adds the model list through the sidecar.
    const sections = process.env.LOCAL_AI_BENCH_MEMORY?.split(',') ?? ['cycles', 'store'];
    const rounds = Number(process.env.LOCAL_AI_BENCH_ROUNDS) || 9;
    if (sections.includes('store')) report(await storeRows(ensureFixtureModel(fixtures, tinyModel), rounds, sections.includes('list')));
    if (sections.includes('cycles')) report(await cycleRows(ensureFixtureModel(fixtures, benchModel)));
}

runBench(main);
