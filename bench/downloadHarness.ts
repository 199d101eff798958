/**
 * What the download benchmarks share: random files of a given size, the fake hub in its own process (so
 * serving costs the measured process nothing) with its request log, our model services on a folder, and
 * curl, the baseline, timed with /usr/bin/time for its CPU.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { defaultSettings, type SidecarSettings } from '../src/common/settings';
import { SidecarContext } from '../src/sidecar/context';
import { createModelServices, type ModelServices } from '../src/sidecar/models';
import type { DownloadManagerOptions } from '../src/sidecar/models/download';
import { elapsedMs } from './lib';

export const MIB = 1024 * 1024;
export const REPO = 'bench/big-GGUF';
export const FILE = 'big-Q4_K_M.gguf';
export const MODEL = `hf:${REPO}/${FILE}`;
const log = { error: (m: string) => console.error(m), warn: () => undefined, info: () => undefined, debug: () => undefined };

export const sizeLabel = (size: number) => (size >= 1024 * MIB ? `${size / (1024 * MIB)} GiB` : `${size / MIB} MiB`);

/** A file of `size` random bytes, kept between runs (writing it is not what we measure). */
export function benchFile(size: number): string {
    const file = path.join(tmpdir(), `local-ai-bench-download-${size / MIB}MiB.bin`);
    if (existsSync(file) && statSync(file).size === size) return file;
    const fd = openSync(file, 'w');
    for (let written = 0; written < size; written += 16 * MIB) writeSync(fd, randomBytes(Math.min(16 * MIB, size - written)));
    closeSync(fd);
    return file;
}

export interface HubProcess {
    url: string;
    /** Body bytes the CDN sent for the next `count` file requests logged from now, once they are logged. */
    nextRequests(count: number): Promise<number>;
    stop(): void;
}

/** The fake hub serving `file` as MODEL; `faults` as server.cli.ts takes them; `rate`: bytes/s per connection. */
export async function startHubProcess(file: string, options: { faults?: string[]; rate?: number } = {}): Promise<HubProcess> {
    const script = path.join(process.cwd(), 'dist', 'test', 'fixtures', 'fakeHub', 'server.cli.mjs');
    const args = [
        script,
        '--file',
        `${REPO}/${FILE}=${file}`,
        ...(options.faults ?? []).flatMap((fault) => ['--fault', fault]),
        ...(options.rate ? ['--rate', String(options.rate)] : []),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Lines such as "cdn GET /bench/big-GGUF/…/big-Q4_K_M.gguf bytes=536870912- → 206 536870912B".
    const served: number[] = [];
    const waiters: (() => void)[] = [];
    let taken = 0;
    createInterface({ input: child.stderr }).on('line', (line) => {
        const match = /^cdn GET \S+ .*→ \d+ (\d+)B/.exec(line);
        if (!match) return;
        served.push(Number(match[1]));
        for (const wake of waiters.splice(0)) wake();
    });
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    return {
        url: (JSON.parse(line) as { url: string }).url,
        async nextRequests(count) {
            // The server logs a request when its response closes, which may be after the client is done.
            while (served.length < taken + count) await new Promise<void>((wake) => waiters.push(wake));
            const bytes = served.slice(taken, taken + count).reduce((sum, b) => sum + b, 0);
            taken += count;
            return bytes;
        },
        stop: () => child.kill('SIGTERM'),
    };
}

export function modelServices(
    hubUrl: string,
    dir: string,
    options: { settings?: Partial<SidecarSettings>; downloads?: Partial<DownloadManagerOptions> } = {},
): ModelServices {
    const context = new SidecarContext({
        log,
        settings: { ...defaultSettings(), hubEndpoint: hubUrl, ...options.settings },
        secrets: { providerKeys: {} },
        defaultModelsPath: dir,
        statePath: dir,
    });
    return createModelServices(context, {
        discoveryFolders: () => ({ huggingFaceCache: dir, lmStudio: [], extra: [] }),
        downloads: options.downloads,
    });
}

export interface Transfer {
    seconds: number;
    /** Bytes the server sent for it. */
    served: number;
    /** Client CPU seconds. */
    cpu: number;
}

/** curl (one connection) to `output`; with `resume`, continues the bytes already there (`-C -`). */
export async function curlDownload(hub: HubProcess, output: string, options: { size: number; resume?: boolean }): Promise<Transfer> {
    const args = ['-f', '%U %S', 'curl', '-sSfL', ...(options.resume ? ['-C', '-'] : []), '-o', output, `${hub.url}/${REPO}/resolve/main/${FILE}`];
    let run: ReturnType<typeof spawnSync> | undefined;
    const ms = await elapsedMs(() => (run = spawnSync('/usr/bin/time', args)));
    if (run!.status !== 0) throw new Error(`curl failed: ${run!.stderr.toString()}`);
    if (statSync(output).size !== options.size) throw new Error(`curl left ${statSync(output).size} bytes, not ${options.size}`);
    const [user, system] = run!.stderr.toString().trim().split('\n').at(-1)!.split(' ').map(Number);
    return { seconds: ms / 1000, served: await hub.nextRequests(1), cpu: user + system };
}
