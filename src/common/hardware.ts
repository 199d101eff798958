/** What the machine has, and what llama.cpp can use of it. */

export type GpuBackend = 'cuda' | 'vulkan' | 'metal';
export type ComputeBackend = GpuBackend | 'cpu';
export type GpuMode = 'auto' | 'off' | GpuBackend;
/** The GPU builds of llama.cpp fetched on demand (node-llama-cpp's prebuilt packages); Metal is built into the macOS build. */
export type FetchableGpuBackend = 'cuda' | 'vulkan';

/** A GPU backend fetched into the backends folder, keyed by node-llama-cpp version, platform and backend. */
export interface InstalledGpuBackend {
    backend: FetchableGpuBackend;
    /** node-llama-cpp's platform name and the architecture, e.g. `linux-x64`, `win-x64`. */
    target: string;
    /** The node-llama-cpp version its binaries belong to (always the bundled one: other versions' folders are removed). */
    nodeLlamaCppVersion: string;
    /** `<backendsPath>/<version>/<target>-<backend>`. */
    folder: string;
    /** Bytes on disk. */
    sizeBytes: number;
    /** The packages it holds, e.g. `@node-llama-cpp/linux-x64-cuda` and `@node-llama-cpp/linux-x64-cuda-ext`. */
    packages: string[];
}

/** The on-demand GPU backends as the hardware report shows them. */
export interface GpuBackendsReport {
    /** Backends fetched for this node-llama-cpp version. */
    installed: InstalledGpuBackend[];
    /** When a fetched backend was asked for and did not load: node-llama-cpp's reason, in plain words. */
    loadFailure?: string;
    /** What to do next, in plain words ("Install or update the NVIDIA driver…", "Try Vulkan instead…", "Metal is built in…"). */
    advice?: string;
}

export interface GpuInfo {
    vendor: string;
    model: string;
    /** Dedicated VRAM, or the unified memory for Apple Silicon. */
    vramTotalBytes: number;
    /** Free VRAM when the driver tells us; otherwise undefined. */
    vramFreeBytes?: number;
    driver?: string;
    /** The backend llama.cpp would use for this GPU, if any. */
    backend?: GpuBackend;
    /** Whether llama.cpp can actually run on it in this process. */
    usable: boolean;
    /** Why it cannot be used, in plain words, when `usable` is false. */
    unusableReason?: string;
}

export interface HardwareReport {
    os: { platform: string; release: string; arch: string; distro?: string };
    cpu: {
        model: string;
        physicalCores: number;
        logicalCores: number;
        /** Cores llama.cpp should compute on (performance cores, not hyper-threads). */
        mathCores: number;
        simd: { avx: boolean; avx2: boolean; avx512: boolean; neon: boolean; flags: string[] };
    };
    memory: {
        totalBytes: number;
        freeBytes: number;
        swapTotalBytes: number;
        swapFreeBytes: number;
        /** True on Apple Silicon: the same memory serves the CPU and the GPU. */
        unified: boolean;
        /** Estimated memory bandwidth in bytes/s, the ceiling of tokens/s. */
        bandwidthBytesPerSecond: number;
    };
    gpus: GpuInfo[];
    backend: {
        /** What llama.cpp runs on in this process. */
        active: ComputeBackend;
        /** Backends whose binaries are present and whose driver loads. */
        available: ComputeBackend[];
        /** When a GPU exists but llama.cpp runs on the CPU: why, in plain words, and what to do. */
        cpuReason?: string;
    };
    /** GPU backends fetched on demand; absent where the sidecar has no backends folder. */
    gpuBackends?: GpuBackendsReport;
    /** ISO time the report was made. */
    detectedAt: string;
}

/** How a model file fits on this machine. */
export type FitClass = 'gpu' | 'partial' | 'cpu' | 'none';

export interface FitEstimate {
    fit: FitClass;
    /** Layers that would go to the GPU, and the model's total. */
    gpuLayers: number;
    totalLayers: number;
    /** Context size the estimate is for. */
    contextSize: number;
    /** RAM and VRAM the model needs at that context size. */
    ramBytes: number;
    vramBytes: number;
    /** Rough generation speed ceiling (bandwidth ÷ bytes read per token), corrected by measurements. */
    tokensPerSecond: number;
    /** True when a real load on this machine corrected the numbers. */
    measured: boolean;
    /** One line for the user: why it fits or not. */
    reason: string;
}

/** The configuration the engine loads a model with; every knob can be overridden by settings. */
export interface LoadConfig {
    gpu: GpuMode;
    /** Number of layers on the GPU, or 'auto'. */
    gpuLayers: number | 'auto' | 'max';
    /** Context size in tokens, or 'auto' (largest that fits, capped by the trained context and the user cap). */
    contextSize: number | 'auto';
    threads: number | 'auto';
    batchSize: number | 'auto';
    flashAttention: boolean | 'auto';
}

/** The configuration after `auto` was resolved for this machine and this model. */
export interface ResolvedLoadConfig {
    gpuLayers: number;
    contextSize: number;
    threads: number;
    batchSize: number;
    flashAttention: boolean;
    /** Conversations kept in parallel, each with its own KV cache of `contextSize` tokens. Default: the engine's (2). */
    sequences?: number;
    /** Why each value was chosen, for the hardware report and the logs. */
    notes: string[];
}
