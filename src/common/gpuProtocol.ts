/**
 * The GPU backends' messages (gpu/status, gpu/offer, gpu/enable, gpu/disable) of the extension ↔ sidecar protocol;
 * protocol.ts re-exports them, so both sides import them from there.
 */
import { type PartialResultParams, ProgressType, RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import type { ComputeBackend, FetchableGpuBackend, InstalledGpuBackend } from './hardware';

/** One npm package of a GPU backend, at exactly the bundled node-llama-cpp version, as the registry describes it. */
export interface GpuPackageInfo {
    /** e.g. `@node-llama-cpp/linux-x64-cuda`. */
    name: string;
    version: string;
    /** Size of its tarball (what is downloaded); undefined when the registry did not say. */
    downloadBytes?: number;
    /** Size once unpacked (`dist.unpackedSize`); undefined when the registry did not say. */
    unpackedBytes?: number;
}

/** What Enable GPU Acceleration would fetch, from where, and how large it is: known before anything is fetched. */
export interface GpuOffer {
    backend: FetchableGpuBackend;
    /** The GPU it is for, e.g. `NVIDIA GeForce RTX 3060 Laptop GPU`. */
    gpu: string;
    /** node-llama-cpp's platform and architecture, e.g. `linux-x64`. */
    target: string;
    /** The packages (CUDA: the main package and its `-cuda-ext` companion with the CUDA runtime). */
    packages: GpuPackageInfo[];
    /** The registry they come from (`localAi.gpuRegistry`, else npm_config_registry, else registry.npmjs.org). */
    registry: string;
    /** Sum of the tarballs' sizes (0 for a package whose size the registry did not give). */
    downloadBytes: number;
    /** Sum of the unpacked sizes, likewise. */
    unpackedBytes: number;
    /** One sentence for the user: "Fetches @node-llama-cpp/linux-x64-cuda … (180 MB) from https://registry.npmjs.org/." */
    summary: string;
}

export interface GpuStatus {
    /** The node-llama-cpp version the binaries must match. */
    nodeLlamaCppVersion: string;
    /** node-llama-cpp's platform and architecture of this process, e.g. `linux-x64`. */
    target: string;
    /** Where fetched backends live. */
    backendsPath: string;
    /** The backends that can be fetched for this target (empty on macOS: Metal is part of the build that ships). */
    fetchable: FetchableGpuBackend[];
    installed: InstalledGpuBackend[];
    /** What llama.cpp runs on in this process; undefined while llama.cpp has not been started yet. */
    active?: ComputeBackend;
    /** `@node-llama-cpp/*` imports that were answered from the backends folder in this process, and where from. */
    resolved: { specifier: string; folder: string }[];
    /** When a fetched backend was asked for and did not load: node-llama-cpp's reason, in plain words. */
    loadFailure?: string;
    /** One line for the user about the state (on macOS: "Metal is built into this build; there is nothing to fetch."). */
    message: string;
}

/** Sent by the extension or the CLI: the backends installed, which one llama.cpp uses, and why not when it could not. */
export namespace GpuStatusRequest {
    export const method = 'localAi/gpu/status' as const;
    export const type = new RequestType0<GpuStatus, void>(method);
}

export interface GpuOfferResult {
    /** What can be fetched for the detected GPU; undefined when nothing (no GPU, macOS, already installed and working). */
    offer?: GpuOffer;
    /** What to do instead or as well, in plain words ("Install or update the NVIDIA driver…", "Try Vulkan instead…"). */
    advice?: string;
}

/**
 * Sent by the extension or the CLI: which backend the detected GPU could use and its sizes, read from the registry's
 * metadata (nothing is downloaded). Fails with NetworkError when offline or unreachable.
 */
export namespace GpuOfferRequest {
    export const method = 'localAi/gpu/offer' as const;
    export const type = new RequestType<{ backend?: FetchableGpuBackend }, GpuOfferResult, void>(method);
}

export interface GpuEnableParams extends PartialResultParams {
    /** Default: the backend of the offer for the detected GPU. */
    backend?: FetchableGpuBackend;
}

/** Progress values sent on a `GpuEnableRequest`'s `partialResultToken`. */
export interface GpuFetchProgress {
    /** The package being fetched, e.g. `@node-llama-cpp/linux-x64-cuda-ext`. */
    package: string;
    phase: 'download' | 'verify' | 'unpack';
    /** Bytes of all the backend's tarballs received so far (a resumed download counts what was already on disk). */
    bytes: number;
    /** All the backend's tarballs together (0 while unknown). */
    totalBytes: number;
}

export const GpuFetchProgressType = new ProgressType<GpuFetchProgress>();

export interface GpuEnableResult {
    installed: InstalledGpuBackend;
    /** False when it was already installed and nothing was fetched. */
    downloaded: boolean;
    bytesFetched: number;
    /**
     * True: node-llama-cpp resolves its backend packages once per process, so the sidecar must be restarted to use
     * it (the extension restarts it; the CLI's next command uses it).
     */
    restartRequired: boolean;
}

/**
 * Sent by the extension or the CLI: fetch, verify (sha512 from the registry) and install the backend. Cancellable
 * (`$/cancelRequest`): the partial tarball is kept for a resume and nothing is installed. Refused when offline.
 */
export namespace GpuEnableRequest {
    export const method = 'localAi/gpu/enable' as const;
    export const type = new RequestType<GpuEnableParams, GpuEnableResult, void>(method);
}

/** Sent by the extension or the CLI: delete every fetched backend (back to the CPU build after a restart). */
export namespace GpuDisableRequest {
    export const method = 'localAi/gpu/disable' as const;
    export const type = new RequestType0<{ removed: string[]; restartRequired: boolean }, void>(method);
}
