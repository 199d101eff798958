/** Models as both sides see them: the catalog, what is installed, and what is downloading. */
import type { FitEstimate, LoadConfig } from './hardware';

/** Per-model tuned defaults (the catalog's presets); any of them can be overridden by settings. */
export interface ModelPresets {
    temperature?: number;
    topP?: number;
    topK?: number;
    contextSize?: number;
    systemPrompt?: string;
    load?: Partial<LoadConfig>;
}

/** One file of a split GGUF (`…-00002-of-00003.gguf`): downloaded and verified on its own, loaded as a set. */
export interface ModelFilePart {
    /** File name in the repository. */
    file: string;
    sizeBytes: number;
    /** The hub's LFS sha256, when known. */
    sha256?: string;
}

/** One quantization (one GGUF file, or one split GGUF's set of parts) of a model. */
export interface ModelFile {
    /** e.g. Q4_K_M, Q8_0, F16. */
    quant: string;
    /** File name in the repository (may contain folders); for a split GGUF, its first part, which llama.cpp loads. */
    file: string;
    /** For a split GGUF: the sum of its parts. */
    sizeBytes: number;
    /** The hub's LFS sha256, when known (a split GGUF's are on its parts). */
    sha256?: string;
    /** Set for a split GGUF: every part, first to last (`file` is the first); installed only when all of them are. */
    parts?: ModelFilePart[];
    /** For a split GGUF that is not installed although something of it is on disk: the parts still missing. */
    missingParts?: string[];
    /** Absolute path when installed (or found on disk), else undefined. */
    path?: string;
    state: 'available' | 'partial' | 'downloading' | 'installed';
    /** Bytes already on disk for a partial or running download. */
    partialBytes?: number;
    /** How it fits on this machine, when estimated. */
    fit?: FitEstimate;
    /** What the last check found wrong with the installed file (it can be repaired); undefined when intact or unchecked. */
    damage?: string;
}

export interface ModelArchitecture {
    /** llama, qwen2, gemma2, phi3, … */
    name: string;
    layers: number;
    embeddingLength: number;
    headCount: number;
    /** KV heads (grouped-query attention); equals headCount without GQA. */
    headCountKv: number;
    /** Size of one head's key and value vectors (the GGUF's attention.key_length); the KV cache grows with it. */
    headDim: number;
}

export type ModelSource = 'catalog' | 'user' | 'discovered';

export interface ModelEntry {
    /** Stable id: the catalog id, `hf:owner/repo/file.gguf`, or `file:/abs/path.gguf`. */
    id: string;
    name: string;
    family: string;
    source: ModelSource;
    /** Hub repository, when the model comes from the hub. */
    repo?: string;
    revision?: string;
    /** Parameters in billions. */
    parametersB?: number;
    /** Shape facts used to estimate memory without reading the file (catalog models). */
    architecture?: ModelArchitecture;
    contextLength?: number;
    license?: string;
    gated?: boolean;
    /** 1 (worst) to 5 (best). */
    quality?: number;
    speed?: number;
    tags: string[];
    /**
     * Fill-in-the-middle: the model carries FIM tokens, so it can serve code completion. Read from the GGUF's
     * `tokenizer.ggml.fim_*` keys when the file is at hand, else from the catalog.
     */
    fim?: boolean;
    description?: string;
    presets?: ModelPresets;
    files: ModelFile[];
    /** The quantization chosen by default for this machine. */
    defaultQuant?: string;
}

export interface Recommendation {
    modelId: string;
    quant: string;
    /** One line: why this model for this machine. */
    reason: string;
}

export interface DownloadProgress {
    modelId: string;
    quant: string;
    name: string;
    receivedBytes: number;
    totalBytes: number;
    bytesPerSecond: number;
    /** Seconds left at the current speed; undefined until the speed is known. */
    etaSeconds?: number;
    state: 'queued' | 'downloading' | 'verifying' | 'retrying' | 'done' | 'failed' | 'cancelled';
    /** For 'retrying' and 'failed': what went wrong. */
    message?: string;
}

/** A manifest written next to each installed model file (`<file>.manifest.json`). */
export interface ModelManifest {
    modelId: string;
    repo?: string;
    /** The revision that was asked for (a branch, tag or commit); default main. */
    revision?: string;
    /** The commit the bytes came from (the revision resolved once, when the download started). */
    commit?: string;
    file: string;
    quant: string;
    sizeBytes: number;
    sha256?: string;
    /** ISO time of install. */
    installedAt: string;
    source: string;
}
