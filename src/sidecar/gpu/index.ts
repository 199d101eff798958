/**
 * GPU acceleration on demand: which backend the detected GPU could use and what it costs to fetch (the offer),
 * fetching it from the npm registry verified and unpacked safely (enable), removing it (disable), and where things
 * stand (status, and the hardware report's part). node-llama-cpp resolves its backend once per process, so a
 * fetched backend is used from the next start of the sidecar (resolver.ts points node-llama-cpp at it).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, LocalAiError } from '../../common/errors';
import type { ComputeBackend, FetchableGpuBackend, GpuBackendsReport, HardwareReport, InstalledGpuBackend } from '../../common/hardware';
import type { GpuEnableResult, GpuFetchProgress, GpuOffer, GpuOfferResult, GpuStatus } from '../../common/protocol';
import { formatBytes } from '../../common/format';
import { gpuRegistry } from '../../common/settings';
import type { SidecarContext } from '../context';
import { gpuName, isVirtualAdapter } from '../hardware/report';
import type { BackendLoadFailure } from '../llama/runtime';
import { describeOwner, tryLock } from '../models/fileLock';
import { proxyDispatcher } from '../proxy';
import { GpuBackendFolder } from './backends';
import { fetchableBackends, nodeLlamaCppVersion, nothingToFetchReason, packagesFor, targetOf } from './packages';
import { RegistryClient, type PackageVersionInfo } from './registry';
import { gpuResolutions } from '../llama/backendResolver';
import { extractTarGz } from './tar';

export interface GpuServiceOptions {
    context: SidecarContext;
    /** The hardware report (the detected GPUs, or an injected profile's). */
    hardware: () => Promise<HardwareReport>;
    /** What the process's llama.cpp runs on, once started, and the fetched backend that failed to load, if any. */
    runtime: { active(): ComputeBackend | undefined; loadFailure(): BackendLoadFailure | undefined };
    /** Node's platform and arch. Default: this process's. */
    platform?: string;
    arch?: string;
}

/** Without `dist.unpackedSize`, no GPU package of node-llama-cpp 3.x comes near this. */
const DEFAULT_UNPACK_CAP = 2 << 30;
/** The CUDA build node-llama-cpp 3.21 ships links libcudart.so.13: CUDA 13 needs this driver or newer. */
const MIN_NVIDIA_DRIVER = '580';

export class GpuService {
    readonly target: string;
    readonly version: string;
    readonly folder: GpuBackendFolder;

    constructor(private readonly options: GpuServiceOptions) {
        this.target = targetOf(options.platform ?? process.platform, options.arch ?? process.arch);
        this.version = nodeLlamaCppVersion();
        this.folder = new GpuBackendFolder({ root: options.context.gpuBackendsPath, version: this.version, target: this.target, log: options.context.log });
    }

    async status(): Promise<GpuStatus> {
        const installed = await this.folder.installed();
        const failure = this.options.runtime.loadFailure();
        const active = this.options.runtime.active();
        const resolved = gpuResolutions();
        return {
            nodeLlamaCppVersion: this.version,
            target: this.target,
            backendsPath: this.folder.root,
            fetchable: fetchableBackends(this.target),
            installed,
            active,
            resolved,
            loadFailure: failure?.reason,
            message: this.describe(installed, active, failure),
        };
    }

    /** The hardware report's part: what is installed, why it did not load, and what to do. */
    async report(): Promise<GpuBackendsReport> {
        const installed = await this.folder.installed();
        const failure = this.options.runtime.loadFailure();
        return { installed, loadFailure: failure?.reason, advice: failure ? this.adviceFor(failure, installed) : nothingToFetchReason(this.target) };
    }

    /** What Enable GPU Acceleration would fetch for the detected GPU (or for `backend`), with sizes from the registry. */
    async offer(backend?: FetchableGpuBackend, signal?: AbortSignal): Promise<GpuOfferResult> {
        const nothing = nothingToFetchReason(this.target);
        if (nothing) return { advice: nothing };
        const gpu = bestGpu(await this.options.hardware());
        if (!gpu && !backend) return {};
        const installed = await this.folder.installed();
        const failure = this.options.runtime.loadFailure();
        const advice = failure ? this.adviceFor(failure, installed) : undefined;
        const chosen = backend ?? (failure?.backend === 'cuda' ? 'vulkan' : failure ? undefined : gpu?.backend);
        if (!chosen || installed.some((each) => each.backend === chosen)) return { advice };
        this.refuseOffline();
        const infos = await this.describePackages(chosen, signal);
        const registry = this.registry().registry;
        const downloadBytes = sum(infos.map((info) => info.downloadBytes));
        const unpackedBytes = sum(infos.map((info) => info.unpackedBytes));
        const offer: GpuOffer = {
            backend: chosen,
            gpu: gpu?.name ?? 'the GPU',
            target: this.target,
            packages: infos.map(({ name, version, downloadBytes, unpackedBytes }) => ({ name, version, downloadBytes, unpackedBytes })),
            registry,
            downloadBytes,
            unpackedBytes,
            summary: `Fetches ${infos.map((info) => `${info.name}@${info.version}`).join(' and ')} (${formatBytes(downloadBytes)} download, ${formatBytes(unpackedBytes)} on disk) from ${registry} into ${this.folder.root}.`,
        };
        return { offer, advice };
    }

    /** Fetches, verifies and installs a backend; `onProgress` hears bytes and phases. Cancel keeps the partial tarballs. */
    async enable(backend: FetchableGpuBackend | undefined, onProgress: (progress: GpuFetchProgress) => void, signal: AbortSignal): Promise<GpuEnableResult> {
        this.refuseOffline();
        const chosen = backend ?? (await this.offer(undefined, signal)).offer?.backend;
        if (!chosen) {
            throw new LocalAiError(ErrorCode.InvalidParams, 'No GPU that a fetched llama.cpp backend could drive was detected, and no backend was named.', {
                hint: nothingToFetchReason(this.target) ?? 'Name one: cuda (NVIDIA) or vulkan (AMD, Intel, NVIDIA).',
            });
        }
        if (!fetchableBackends(this.target).includes(chosen)) {
            throw new LocalAiError(ErrorCode.InvalidParams, `There is no ${chosen} build of llama.cpp for ${this.target}.`, {
                hint: nothingToFetchReason(this.target) ?? `Choose one of: ${fetchableBackends(this.target).join(', ')}.`,
            });
        }
        try {
            return await this.locked(async () => {
                await this.folder.removeStale();
                const already = (await this.folder.installed()).find((each) => each.backend === chosen);
                if (already) return { installed: already, downloaded: false, bytesFetched: 0, restartRequired: !this.inUse(already) };
                return await this.fetch(chosen, onProgress, signal);
            });
        } catch (error) {
            if (!signal.aborted || error instanceof LocalAiError) throw error;
            throw new LocalAiError(
                ErrorCode.Cancelled,
                `Fetching the ${label(chosen)} backend was cancelled; nothing was installed, and what was downloaded is kept for a resume.`,
            );
        }
    }

    /** Deletes every fetched backend and partial download; llama.cpp is back on the CPU build from the next start. */
    async disable(): Promise<{ removed: string[]; restartRequired: boolean }> {
        return await this.locked(async () => {
            const removed = await this.folder.removeStale();
            for (const backend of ['cuda', 'vulkan'] as const) if (await this.folder.remove(backend)) removed.push(this.folder.folderOf(backend));
            await this.folder.removeDownloads();
            return { removed, restartRequired: gpuResolutions().length > 0 };
        });
    }

    private async fetch(backend: FetchableGpuBackend, onProgress: (progress: GpuFetchProgress) => void, signal: AbortSignal): Promise<GpuEnableResult> {
        const infos = await this.describePackages(backend, signal);
        const totalBytes = sum(infos.map((info) => info.downloadBytes));
        const registry = this.registry();
        let done = 0;
        let bytesFetched = 0;
        // Every tarball is downloaded and verified before any is unpacked (the partials' folder may not exist yet).
        await fs.mkdir(path.dirname(this.folder.partialOf(infos[0].name)), { recursive: true });
        for (const info of infos) {
            onProgress({ package: info.name, phase: 'download', bytes: done, totalBytes });
            bytesFetched += await registry.download(
                info,
                this.folder.partialOf(info.name),
                (_, offset) => onProgress({ package: info.name, phase: 'download', bytes: done + offset, totalBytes }),
                signal,
            );
            done += info.downloadBytes ?? 0;
            onProgress({ package: info.name, phase: 'verify', bytes: done, totalBytes });
        }
        const staging = await this.folder.stage();
        try {
            for (const info of infos) {
                onProgress({ package: info.name, phase: 'unpack', bytes: done, totalBytes });
                const cap = info.unpackedBytes ? info.unpackedBytes + (1 << 20) : DEFAULT_UNPACK_CAP;
                await extractTarGz(this.folder.partialOf(info.name), { dest: path.join(staging, 'node_modules', info.name), maxBytes: cap, signal });
            }
            const folder = await this.folder.commit(staging, {
                backend,
                target: this.target,
                nodeLlamaCppVersion: this.version,
                packages: infos.map((info) => info.name),
                installedAt: new Date().toISOString(),
            });
            this.options.context.log.info(`GPU backends: ${backend} installed in ${folder} (${bytesFetched} bytes fetched).`);
        } catch (error) {
            await fs.rm(staging, { recursive: true, force: true });
            throw error;
        }
        await this.folder.removeDownloads();
        const installed = (await this.folder.installed()).find((each) => each.backend === backend);
        if (!installed)
            throw new LocalAiError(ErrorCode.FileSystemError, `The ${backend} backend was unpacked but is not readable in ${this.folder.folderOf(backend)}.`);
        return { installed, downloaded: true, bytesFetched, restartRequired: true };
    }

    private async describePackages(backend: FetchableGpuBackend, signal?: AbortSignal): Promise<PackageVersionInfo[]> {
        const registry = this.registry();
        const infos: PackageVersionInfo[] = [];
        for (const name of packagesFor(this.target, backend)) infos.push(await registry.describe(name, this.version, signal));
        return infos;
    }

    private registry(): RegistryClient {
        const settings = this.options.context.settings;
        return new RegistryClient({ registry: gpuRegistry(settings.gpuRegistry, process.env), dispatcher: () => proxyDispatcher(settings.proxy) });
    }

    private refuseOffline(): void {
        if (!this.options.context.settings.offline) return;
        throw new LocalAiError(ErrorCode.NetworkError, 'Local AI is in offline mode, so it cannot fetch a GPU backend from the npm registry.', {
            hint: 'Turn off localAi.offline (or LOCAL_AI_OFFLINE for the CLI), enable GPU acceleration, then turn offline mode back on.',
        });
    }

    /** One process at a time changes the backends folder (every window's sidecar and the CLI share it). */
    private async locked<T>(work: () => Promise<T>): Promise<T> {
        await fs.mkdir(this.folder.root, { recursive: true });
        const attempt = await tryLock(path.join(this.folder.root, '.lock'));
        if (!attempt.held) {
            throw new LocalAiError(ErrorCode.DownloadFailed, `Another Local AI process (${describeOwner(attempt.heldBy)}) is changing the GPU backends.`, {
                hint: 'Wait for it to finish, then try again.',
            });
        }
        try {
            return await work();
        } finally {
            await attempt.held.release();
        }
    }

    private inUse(installed: InstalledGpuBackend): boolean {
        return gpuResolutions().some((each) => each.folder === installed.folder) && this.options.runtime.active() === installed.backend;
    }

    private adviceFor(failure: BackendLoadFailure, installed: InstalledGpuBackend[]): string {
        if (failure.backend === 'cuda') {
            const vulkan = installed.some((each) => each.backend === 'vulkan') ? 'switch Local AI › GPU to "vulkan"' : 'try Vulkan instead';
            return `Install or update the NVIDIA driver (${MIN_NVIDIA_DRIVER} or newer for this CUDA 13 build), then restart Local AI; or ${vulkan}.`;
        }
        return "Install or update the GPU's Vulkan driver (for NVIDIA, the NVIDIA driver includes it), then restart Local AI.";
    }

    private describe(installed: InstalledGpuBackend[], active: ComputeBackend | undefined, failure: BackendLoadFailure | undefined): string {
        const nothing = nothingToFetchReason(this.target);
        if (nothing) return nothing;
        if (failure) return `${failure.reason} llama.cpp runs on the CPU.`;
        if (installed.length === 0) return 'No GPU backend is installed: llama.cpp uses the CPU build that ships with Local AI.';
        const used = installed.find((each) => this.inUse(each));
        if (used) return `llama.cpp runs on ${label(used.backend)} from ${used.folder}.`;
        const names = installed.map((each) => label(each.backend)).join(' and ');
        return active === undefined
            ? `${names} ${installed.length > 1 ? 'are' : 'is'} installed; llama.cpp has not started yet in this process.`
            : `${names} ${installed.length > 1 ? 'are' : 'is'} installed; restart Local AI to use it.`;
    }
}

export function label(backend: FetchableGpuBackend): string {
    return backend === 'cuda' ? 'CUDA' : 'Vulkan';
}

/** The real GPU a fetched backend would serve best (most VRAM), and the backend for it. */
function bestGpu(report: HardwareReport): { name: string; backend: FetchableGpuBackend } | undefined {
    const gpu = report.gpus
        .filter((each) => !isVirtualAdapter(each) && !/apple/i.test(`${each.vendor} ${each.model}`))
        .sort((a, b) => b.vramTotalBytes - a.vramTotalBytes)[0];
    if (!gpu) return undefined;
    const nvidia = /nvidia/i.test(`${gpu.vendor} ${gpu.model}`);
    // NVIDIA with a driver → CUDA; AMD, Intel, or NVIDIA without the driver CUDA needs → Vulkan.
    return { name: gpuName(gpu), backend: nvidia && gpu.driver ? 'cuda' : 'vulkan' };
}

function sum(values: (number | undefined)[]): number {
    return values.reduce<number>((total, value) => total + (value ?? 0), 0);
}
