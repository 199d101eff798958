/**
 * What the editor says about GPU acceleration, in one place: the notification, the hardware report, the
 * status bar's tooltip and the Models view's title all read the same offer, so they never disagree.
 * No `vscode` here: plain facts in, plain words out.
 */
import { formatBytes } from '../../common/format';
import type { FetchableGpuBackend, HardwareReport } from '../../common/hardware';
import type { DownloadProgress } from '../../common/models';
import type { GpuFetchProgress, GpuOfferResult, GpuStatus } from '../../common/protocol';

/** How a backend is written for the user. */
export const BACKEND_NAMES: Record<FetchableGpuBackend, string> = { cuda: 'CUDA', vulkan: 'Vulkan' };

/** Where NVIDIA's drivers are, for the "install or update the driver" fix. */
export const NVIDIA_DRIVER_URL = 'https://www.nvidia.com/en-us/drivers/';

/** The id the GPU fetch carries among the downloads (never a model id: those have no colon). */
export const GPU_DOWNLOAD_ID = 'gpu:backend';

/** Something the user can click about GPU acceleration: a command of this extension, or a page. */
export interface GpuAction {
    title: string;
    /** A `localAi.*` command with its arguments, or undefined for `url`. */
    command?: string;
    args?: unknown[];
    url?: string;
}

/** The offer as every surface shows it: one line, and what to click. Undefined: nothing to offer. */
export interface GpuOfferView {
    headline: string;
    actions: GpuAction[];
}

export const ENABLE_ACTION: GpuAction = { title: 'Enable GPU Acceleration', command: 'localAi.enableGpu', args: [] };

/**
 * The offer: fetch the backend the detected GPU could use; or, once a fetched backend failed to load, what
 * to fix (the driver, or another backend).
 */
export function offerView(status: GpuStatus | undefined, offer: GpuOfferResult | undefined, gpuVendor: string | undefined): GpuOfferView | undefined {
    const failed = status?.loadFailure;
    const next = offer?.offer;
    if (failed) {
        const installed = status.installed.map((backend) => BACKEND_NAMES[backend.backend]).join(' and ') || 'The GPU build';
        const actions: GpuAction[] = [];
        if (next && !status.installed.some((backend) => backend.backend === next.backend)) {
            actions.push({ title: `Try ${BACKEND_NAMES[next.backend]} Instead`, command: 'localAi.enableGpu', args: [next.backend] });
        }
        if (/nvidia/i.test(gpuVendor ?? '')) actions.push({ title: 'Install or Update the NVIDIA Driver', url: NVIDIA_DRIVER_URL });
        actions.push({ title: 'Disable GPU Acceleration', command: 'localAi.disableGpu', args: [] });
        const advice = offer?.advice ?? '';
        return { headline: sentence(`${installed} did not load, so llama.cpp runs on the CPU: ${failed}`, advice), actions };
    }
    if (!next) return offer?.advice ? { headline: offer.advice, actions: [] } : undefined;
    return {
        headline: sentence(`${BACKEND_NAMES[next.backend]} can run models on the ${next.gpu}.`, next.summary, offer?.advice ?? ''),
        actions: [ENABLE_ACTION],
    };
}

/** Joins sentences, each ending with its own full stop. */
function sentence(...parts: string[]): string {
    return parts
        .map((part) => part.trim())
        .filter(Boolean)
        .map((part) => (/[.!?)]$/.test(part) ? part : `${part}.`))
        .join(' ');
}

/** The modal's detail: what is fetched, from where, how large, where it goes, and what happens next. */
export function confirmDetail(offer: NonNullable<GpuOfferResult['offer']>, backendsPath: string | undefined): string {
    const packages = offer.packages
        .map((pkg) => `${pkg.name}@${pkg.version}${pkg.downloadBytes ? ` (${formatBytes(pkg.downloadBytes)} download)` : ''}`)
        .join('\n');
    const unpacked = offer.unpackedBytes > 0 ? `${formatBytes(offer.unpackedBytes)} on disk once unpacked` : 'its unpacked size is not given by the registry';
    return [
        `Local AI fetches llama.cpp's ${BACKEND_NAMES[offer.backend]} build for ${offer.target}:`,
        packages,
        '',
        `From: ${offer.registry}`,
        `Size: ${offer.downloadBytes > 0 ? formatBytes(offer.downloadBytes) : 'unknown'} to download, ${unpacked}.`,
        `Into: ${backendsPath ?? "the extension's storage"}`,
        '',
        "Each package is checked against the registry's sha512 before it is unpacked. Local AI then restarts its sidecar to use the GPU; Disable GPU Acceleration deletes it again.",
    ].join('\n');
}

/** What happened after the restart, read from the hardware report: running on the GPU, or why not and what to do. */
export interface GpuOutcome {
    running: boolean;
    message: string;
}

export function outcomeOf(backend: FetchableGpuBackend, report: HardwareReport): GpuOutcome {
    const name = BACKEND_NAMES[backend];
    if (report.backend.active === backend) {
        const gpu = report.gpus.find((candidate) => candidate.usable && candidate.backend === backend) ?? report.gpus.find((candidate) => candidate.usable);
        return { running: true, message: `Running on ${name}${gpu ? ` (${gpu.model})` : ''}.` };
    }
    const reason = report.gpuBackends?.loadFailure ?? report.backend.cpuReason ?? 'llama.cpp did not say why';
    const advice = report.gpuBackends?.advice;
    return { running: false, message: sentence(`${name} is installed but did not load, so models run on the CPU: ${reason}`, advice ?? '') };
}

/**
 * The fetch as a row of the downloads (status bar, Downloads list): percent, what, speed, and the phase
 * once the bytes are in.
 */
export function fetchAsDownload(backend: FetchableGpuBackend, progress: GpuFetchProgress | undefined, bytesPerSecond: number): DownloadProgress {
    const received = progress?.bytes ?? 0;
    const total = progress?.totalBytes ?? 0;
    const remaining = total - received;
    return {
        modelId: GPU_DOWNLOAD_ID,
        quant: backend,
        name: `${BACKEND_NAMES[backend]} GPU build`,
        receivedBytes: received,
        totalBytes: total,
        bytesPerSecond,
        etaSeconds: bytesPerSecond > 0 && remaining > 0 ? Math.ceil(remaining / bytesPerSecond) : undefined,
        state: !progress || progress.phase === 'download' ? 'downloading' : 'verifying',
        message: progress
            ? `${progress.package}${progress.phase === 'unpack' ? ': unpacking' : progress.phase === 'verify' ? ': checking sha512' : ''}`
            : undefined,
    };
}
