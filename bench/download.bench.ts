/**
 * Download throughput against the fake hub (a separate process on loopback) for a 1 GiB file: our
 * DownloadManager (hashing while it writes) against curl in the same run, plus what verifying costs:
 * `check` on the installed file against sha256sum, and the one-off re-hash of a partial on resume.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { defaultSettings } from '../src/common/settings';
import { SidecarContext } from '../src/sidecar/context';
import { createModelServices } from '../src/sidecar/models';
import { median, report, type BenchRow } from './lib';

const SIZE = 1024 * 1024 * 1024;
const REPO = 'bench/big-GGUF';
const FILE = 'big-Q4_K_M.gguf';
const ROUNDS = 3;

/** A 1 GiB file of random bytes, kept between runs (writing it is not what we measure). */
function benchFile(): string {
    const file = path.join(tmpdir(), 'local-ai-bench-download-1GiB.bin');
    if (existsSync(file) && statSync(file).size === SIZE) return file;
    const fd = openSync(file, 'w');
    for (let written = 0; written < SIZE; written += 16 << 20) writeSync(fd, randomBytes(16 << 20));
    closeSync(fd);
    return file;
}

async function startHubProcess(file: string): Promise<{ url: string; stop(): void }> {
    const script = path.join(process.cwd(), 'dist', 'test', 'fixtures', 'fakeHub', 'server.cli.mjs');
    const child = spawn(process.execPath, [script, '--file', `${REPO}/${FILE}=${file}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    return { url: (JSON.parse(line) as { url: string }).url, stop: () => child.kill('SIGTERM') };
}

function seconds(work: () => void): number {
    const start = performance.now();
    work();
    return (performance.now() - start) / 1000;
}

async function secondsAsync(work: () => Promise<unknown>): Promise<number> {
    const start = performance.now();
    await work();
    return (performance.now() - start) / 1000;
}

async function main(): Promise<void> {
    const source = benchFile();
    const hub = await startHubProcess(source);
    const dir = mkdtempSync(path.join(tmpdir(), 'local-ai-bench-models-'));
    const log = { error: (m: string) => console.error(m), warn: () => undefined, info: () => undefined, debug: () => undefined };
    const rows: BenchRow[] = [];
    try {
        const ours: number[] = [];
        const curl: number[] = [];
        // CPU seconds per download: steadier than wall time on a loaded machine.
        const oursCpu: number[] = [];
        const curlCpu: number[] = [];
        const curlOut = path.join(dir, 'curl.bin');
        for (let round = 0; round < ROUNDS; round++) {
            // Alternate, so page-cache and CPU-frequency drift hit both sides alike.
            curl.push(seconds(() => {
                const run = spawnSync('/usr/bin/time', ['-f', '%U %S', 'curl', '-sSfL', '-o', curlOut, `${hub.url}/${REPO}/resolve/main/${FILE}`]);
                if (run.status !== 0) throw new Error(`curl failed: ${run.stderr.toString()}`);
                const [user, system] = run.stderr.toString().trim().split('\n').at(-1)!.split(' ').map(Number);
                curlCpu.push(user + system);
            }));
            rmSync(curlOut, { force: true });
            const context = new SidecarContext({ log, settings: { ...defaultSettings(), hubEndpoint: hub.url }, secrets: { providerKeys: {} }, defaultModelsPath: dir, statePath: dir });
            const models = createModelServices(context, { discoveryFolders: () => ({ huggingFaceCache: dir, lmStudio: [], extra: [] }) });
            await models.maintenance.delete(`hf:${REPO}/${FILE}`).catch(() => undefined);
            const cpuBefore = process.cpuUsage();
            ours.push(await secondsAsync(() => models.registry.download({ model: `hf:${REPO}/${FILE}` })));
            const cpu = process.cpuUsage(cpuBefore);
            oursCpu.push((cpu.user + cpu.system) / 1e6);
            await models.dispose();
        }
        const oursRate = SIZE / 1e6 / median(ours);
        const curlRate = SIZE / 1e6 / median(curl);
        rows.push({ name: 'download 1 GiB from the fake hub (sha256 while writing)', value: oursRate, unit: 'MB/s', baseline: curlRate, target: '≥ 0.9× curl' });
        rows.push({
            name: 'client CPU for that download (ratio = curl ÷ ours)',
            value: median(oursCpu),
            unit: 'CPU s',
            baseline: median(curlCpu),
            ratio: median(curlCpu) / median(oursCpu),
            target: 'throughput ceiling on an idle multi-core machine, relative to curl',
        });

        const context = new SidecarContext({ log, settings: { ...defaultSettings(), hubEndpoint: hub.url, offline: true }, secrets: { providerKeys: {} }, defaultModelsPath: dir, statePath: dir });
        const models = createModelServices(context, { discoveryFolders: () => ({ huggingFaceCache: dir, lmStudio: [], extra: [] }) });
        const installed = path.join(dir, REPO, FILE);
        const checks: number[] = [];
        const sums: number[] = [];
        for (let round = 0; round < ROUNDS; round++) {
            checks.push(await secondsAsync(async () => {
                const [result] = await models.maintenance.check(`hf:${REPO}/${FILE}`);
                if (!result?.ok) throw new Error(`check failed: ${result?.problem}`);
            }));
            sums.push(seconds(() => spawnSync('sha256sum', [installed])));
        }
        rows.push({ name: 'check an installed 1 GiB model (size + sha256)', value: median(checks), unit: 's', baseline: median(sums), target: 'close to sha256sum (ratio = time ÷ sha256sum time)' });
        // What a resume pays instead of persisting the hash state: one read of the partial at disk speed.
        rows.push({ name: 'resume re-hash of a 1 GiB partial, relative to downloading it again', value: median(checks), unit: 's', baseline: median(ours), target: '< 1 (re-hashing beats re-fetching)' });
        await models.dispose();
    } finally {
        hub.stop();
        rmSync(dir, { recursive: true, force: true });
    }
    report(rows);
}

main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
