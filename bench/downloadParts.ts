/**
 * Downloads in parallel range parts (issue 21 §3 and §5), in interleaved rounds:
 * - the fake hub capping each connection at 20 MB/s, as real CDNs cap one: our download with the product's
 *   defaults (up to 16 parts of at least 16 MiB) vs our single stream and vs curl (one connection);
 * - uncapped, files of 64 MiB, 256 MiB and 1 GiB: throughput, and how much this process's RSS grows during the
 *   download (sampled every 20 ms), to show both stay flat as the file grows.
 * `LOCAL_AI_BENCH_CAPPED_MIB` (default 256) sizes the capped file.
 */
import { mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_CONNECTIONS, planParts } from '../src/sidecar/models/fileParts';
import { benchFile, curlDownload, type HubProcess, MIB, MODEL, modelServices, sizeLabel, startHubProcess } from './downloadHarness';
import { compare, elapsedMs, type BenchRow, summarize } from './lib';

const CAP_BYTES_PER_SECOND = 20e6;
const CAPPED_SIZE = (Number(process.env.LOCAL_AI_BENCH_CAPPED_MIB) || 256) * MIB;
const SIZES = [64 * MIB, 256 * MIB, 1024 * MIB];

interface Measured {
    /** MB/s */
    rate: number;
    /** Peak RSS during the download minus RSS before it, MB. */
    rssGrowth: number;
}

/** One download by fresh model services; `connections: 1` makes it one stream. */
async function ours(hub: HubProcess, dir: string, size: number, connections?: number): Promise<Measured> {
    const models = modelServices(hub.url, dir, { downloads: connections ? { connections } : undefined });
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
        const ms = await elapsedMs(() => models.registry.download({ model: MODEL }));
        // Each part is one request in the hub's log; taken here so that the next side counts only its own.
        await hub.nextRequests(connections === 1 ? 1 : planParts(size).length);
        return { rate: size / 1e6 / (ms / 1000), rssGrowth: (peak - before) / 1e6 };
    } finally {
        clearInterval(sampler);
        await models.dispose();
        rmSync(dir, { recursive: true, force: true });
    }
}

async function capped(work: string, rounds: number): Promise<BenchRow[]> {
    const hub = await startHubProcess(benchFile(CAPPED_SIZE), { rate: CAP_BYTES_PER_SECOND });
    const parts: number[] = [];
    const single: number[] = [];
    const curl: number[] = [];
    try {
        for (let round = 0; round < rounds; round++) {
            const sides = [
                async () => void parts.push((await ours(hub, path.join(work, 'parts'), CAPPED_SIZE)).rate),
                async () => void single.push((await ours(hub, path.join(work, 'single'), CAPPED_SIZE, 1)).rate),
                async () => {
                    mkdirSync(path.join(work, 'curl'), { recursive: true });
                    const transfer = await curlDownload(hub, path.join(work, 'curl', 'capped.bin'), { size: CAPPED_SIZE });
                    curl.push(CAPPED_SIZE / 1e6 / transfer.seconds);
                    rmSync(path.join(work, 'curl'), { recursive: true, force: true });
                },
            ];
            for (let step = 0; step < sides.length; step++) await sides[(round + step) % sides.length]();
            process.stderr.write(
                `[download bench] capped round ${round}: parts ${parts.at(-1)?.toFixed(1)} MB/s, one stream ${single.at(-1)?.toFixed(1)} MB/s, curl ${curl.at(-1)?.toFixed(1)} MB/s\n`,
            );
        }
    } finally {
        hub.stop();
    }
    const label = `${sizeLabel(CAPPED_SIZE)}, the hub capping each connection at ${CAP_BYTES_PER_SECOND / 1e6} MB/s`;
    return [
        {
            name: `download ${label}: in parts (${planParts(CAPPED_SIZE).length} over ${DEFAULT_CONNECTIONS} connections) vs one stream`,
            unit: 'MB/s',
            target: '≥ 4×',
            ...compare(parts, single),
        },
        { name: `download ${label}: in parts vs curl (one connection)`, unit: 'MB/s', target: '≥ 3×', ...compare(parts, curl) },
    ];
}

async function bySize(work: string, rounds: number): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    for (const size of SIZES) {
        const hub = await startHubProcess(benchFile(size));
        const measured: Measured[] = [];
        try {
            for (let round = 0; round < rounds; round++) measured.push(await ours(hub, path.join(work, 'sized'), size));
        } finally {
            hub.stop();
        }
        process.stderr.write(
            `[download bench] ${sizeLabel(size)}: ${measured.map((m) => `${m.rate.toFixed(0)} MB/s +${m.rssGrowth.toFixed(0)} MB`).join(', ')}\n`,
        );
        const label = `${sizeLabel(size)} (${planParts(size).length} parts, uncapped loopback)`;
        rows.push(
            {
                name: `download cost against file size: ${label}, throughput`,
                unit: 'MB/s',
                target: 'flat as the file grows',
                ...summarize(measured.map((m) => m.rate)),
            },
            {
                name: `download cost against file size: ${label}, RSS growth`,
                unit: 'MB',
                target: size >= 1024 * MIB ? '≤ 64 MB' : 'flat as the file grows',
                ...summarize(measured.map((m) => m.rssGrowth)),
            },
        );
    }
    return rows;
}

/** The rows of both sections; `work` is a scratch folder. */
export async function partRows(work: string, rounds: number): Promise<BenchRow[]> {
    return [...(await capped(work, rounds)), ...(await bySize(work, rounds))];
}
