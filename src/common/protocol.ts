/**
 * The protocol between the extension host and the sidecar: JSON-RPC over stdio through
 * vscode-languageclient / vscode-languageserver. Every custom message is typed here, once.
 *
 * Streaming uses the protocol's own progress machinery: a request that streams carries a
 * `partialResultToken`, and the sidecar sends `$/progress` with the typed value below on that token.
 * Cancellation is the protocol's `$/cancelRequest`.
 */
import {
    NotificationType,
    ProgressType,
    RequestType,
    RequestType0,
    type PartialResultParams,
    type WorkDoneProgressParams,
} from 'vscode-languageserver-protocol';
import type { ChatChunk, ChatMessage, ChatResult, ProviderId, SamplingOptions, FallbackReason, FallbackInfo } from './chat';
import type { FitEstimate, HardwareReport, LoadConfig, ResolvedLoadConfig } from './hardware';
import type { DownloadProgress, ModelEntry, Recommendation } from './models';
import type { SidecarSecrets, SidecarSettings } from './settings';

// ---------------------------------------------------------------- lifecycle

/** Passed in `initializationOptions` when the client starts the sidecar. */
export interface SidecarInitOptions {
    settings: SidecarSettings;
    secrets: SidecarSecrets;
    /** Default models folder (the extension's global storage) when the setting is empty. */
    defaultModelsPath: string;
    /** Folder for the sidecar's own state (measurements, download journal). */
    statePath: string;
    /**
     * Folder for GPU backends fetched on demand: the extension passes `<context.globalStorageUri.fsPath>/gpu-backends`
     * (writable, and kept across extension updates, unlike the extension's own folder). Default: LOCAL_AI_GPU_DIR,
     * then the CLI's per-user folder (~/.local-ai/gpu-backends).
     */
    gpuBackendsPath?: string;
}

export type SidecarHealth = 'starting' | 'ready' | 'busy' | 'error';

export interface ActiveModelInfo {
    modelId: string;
    name: string;
    quant?: string;
    device: 'GPU' | 'CPU';
    contextSize: number;
    /** Conversations whose cache is kept at once, each with `contextSize` tokens. */
    sequences?: number;
    /** Which chat template prompts are written in (`the model's own (Jinja)`, `generic ChatML (fallback)`). */
    chatTemplate: string;
}

export interface StatusParams {
    health: SidecarHealth;
    busy: boolean;
    /** One line for the status bar tooltip and the log. */
    message: string;
    activeModel?: ActiveModelInfo;
    /** Every download that is not finished, for the status bar. */
    downloads: DownloadProgress[];
}

/** Sent by the sidecar whenever its health, its activity, the active model or a download changes. */
export namespace StatusNotification {
    export const method = 'localAi/status' as const;
    export const type = new NotificationType<StatusParams>(method);
}

/** Sent by the extension when a setting the sidecar reads has changed. */
export namespace SettingsChangedNotification {
    export const method = 'localAi/settings/changed' as const;
    export const type = new NotificationType<SidecarSettings>(method);
}

/** Sent by the extension when a secret (token, API key) was set or cleared. Never logged. */
export namespace SecretsChangedNotification {
    export const method = 'localAi/secrets/changed' as const;
    export const type = new NotificationType<SidecarSecrets>(method);
}

// ---------------------------------------------------------------- hardware and fit

/** Sent by the extension or the CLI: what this machine has and what llama.cpp can use. */
export namespace HardwareRequest {
    export const method = 'localAi/hardware/get' as const;
    export const type = new RequestType<{ refresh?: boolean }, HardwareReport, void>(method);
}

export interface FitParams {
    /** A catalog or user model id, a `hf:` URI, or an absolute path to a GGUF file. */
    model: string;
    /** Only this quantization; default: every file of the model. */
    quant?: string;
    /** Default: the context size the engine would choose. */
    contextSize?: number;
}

export interface FitResult {
    estimates: { quant: string; file: string; estimate: FitEstimate }[];
}

/** Sent by the extension or the CLI: how each file of a model fits here (reads only GGUF headers). */
export namespace FitRequest {
    export const method = 'localAi/fit/estimate' as const;
    export const type = new RequestType<FitParams, FitResult, void>(method);
}

// ---------------------------------------------------------------- models

export interface ModelListResult {
    models: ModelEntry[];
    recommended?: Recommendation;
    /** The completion (FIM) model for this machine, chosen to fit beside `recommended` by the one memory model. */
    recommendedCompletion?: Recommendation;
    /** The model chat uses by default (setting, else the last loaded, else the recommendation if installed). */
    activeModelId?: string;
    /** The quantization of the active model the user picked ("Use for Chat" on one file); default: its default file. */
    activeQuant?: string;
    modelsPath: string;
    /** Free space where downloads go, in bytes; absent when it could not be read. */
    freeDiskBytes?: number;
}

/** Sent by the extension or the CLI: the catalog, user models and models found on disk, with their state. */
export namespace ModelListRequest {
    export const method = 'localAi/models/list' as const;
    export const type = new RequestType<{ refresh?: boolean }, ModelListResult, void>(method);
}

/** Sent by the sidecar when the list changed (install, delete, download state, discovery). */
export namespace ModelsChangedNotification {
    export const method = 'localAi/models/changed' as const;
    export const type = new NotificationType<void>(method);
}

export interface ModelFileParams {
    /** A model id or a `hf:` URI (`hf:owner/repo/file.gguf` or `hf:owner/repo:Q4_K_M`). */
    model: string;
    /** Default: the model's default quantization for this machine. */
    quant?: string;
}

export interface DownloadParams extends ModelFileParams, PartialResultParams {
    /** Download even when the model does not fit this machine. */
    force?: boolean;
    /**
     * When the store holds this file from another commit: answer with `replaceOffer` and fetch nothing, so the
     * caller can ask the user first. Default false: the newer copy replaces the installed one once verified.
     */
    askBeforeReplacing?: boolean;
}

/** An installed copy of a hub file: the revision asked for and the commit its bytes came from. */
export interface InstalledRevision {
    revision: string;
    commit?: string;
}

export interface DownloadResult {
    modelId: string;
    quant: string;
    path: string;
    /** False when the file was already installed and nothing was fetched. */
    downloaded: boolean;
    bytesFetched: number;
    /** The copy this download replaced (one copy per path: the other commit's file is gone). */
    replaced?: InstalledRevision;
    /** Set instead of downloading when `askBeforeReplacing` found another commit installed. */
    replaceOffer?: { installed: InstalledRevision; incoming: InstalledRevision };
}

/** Progress values sent on a download's `partialResultToken`. */
export const DownloadProgressType = new ProgressType<DownloadProgress>();

/** Sent by the extension or the CLI; resolves when the file is installed and verified. Cancel keeps the partial. */
export namespace DownloadRequest {
    export const method = 'localAi/models/download' as const;
    export const type = new RequestType<DownloadParams, DownloadResult, void>(method);
}

/** Sent by the extension: cancel a running download for every requester (the partial is kept). */
export namespace CancelDownloadRequest {
    export const method = 'localAi/models/cancelDownload' as const;
    export const type = new RequestType<ModelFileParams, { cancelled: boolean }, void>(method);
}

/** Sent by the extension or the CLI: delete an installed model (and its partial, manifest). */
export namespace DeleteModelRequest {
    export const method = 'localAi/models/delete' as const;
    export const type = new RequestType<ModelFileParams, { deletedFiles: string[] }, void>(method);
}

export interface CheckResultItem {
    modelId: string;
    quant: string;
    path: string;
    ok: boolean;
    /**
     * Whether the bytes were compared with the hub's sha256. False when no hash is known (offline before it
     * was recorded, or a hub that gives none): then only the size was checked.
     */
    verified: boolean;
    /** What is wrong, in plain words, when not ok. */
    problem?: string;
}

/** Sent by the extension or the CLI: verify installed files (size, then sha256). */
export namespace CheckModelsRequest {
    export const method = 'localAi/models/check' as const;
    export const type = new RequestType<{ model?: string }, { results: CheckResultItem[] }, void>(method);
}

/** One damaged or missing file fetched again (from the commit its manifest recorded), or why that failed. */
export interface RepairResultItem extends CheckResultItem {
    /** True when a verified copy now replaces the damaged one. */
    repaired: boolean;
    /** Why the repair failed; the damaged file was left as it was. */
    error?: { code: number; message: string };
}

/**
 * Sent by the extension or the CLI: check installed files (all, or `model`'s) and fetch each damaged or
 * missing one again; a damaged copy is replaced only once the new one is verified.
 */
export namespace RepairModelsRequest {
    export const method = 'localAi/models/repair' as const;
    export const type = new RequestType<{ model?: string; quant?: string }, { results: RepairResultItem[] }, void>(method);
}

/** Sent by the extension or the CLI: delete partial downloads that no download is using. */
export namespace CleanupRequest {
    export const method = 'localAi/models/cleanup' as const;
    export const type = new RequestType0<{ removedFiles: string[]; freedBytes: number }, void>(method);
}

// ---------------------------------------------------------------- engine

export interface LoadParams extends WorkDoneProgressParams {
    /** A model id, `hf:` URI or absolute path; default: the active model. */
    model?: string;
    quant?: string;
    /** Load even when the model does not fit. */
    force?: boolean;
    /** Overrides of the automatic configuration. */
    config?: Partial<LoadConfig>;
}

export interface LoadedModel {
    modelId: string;
    name: string;
    path: string;
    quant?: string;
    device: 'GPU' | 'CPU';
    config: ResolvedLoadConfig;
    loadMs: number;
    /** Memory measured after the load. */
    ramBytes: number;
    vramBytes: number;
    /** Set when a GPU load failed and the model was loaded on the CPU instead. */
    cpuFallbackReason?: string;
    /** Which chat template prompts are written in (`the model's own (Jinja)`, `generic ChatML (fallback)`). */
    chatTemplate: string;
}

/** Sent by the extension or the CLI: load a model (frees the previous one first). */
export namespace LoadModelRequest {
    export const method = 'localAi/model/load' as const;
    export const type = new RequestType<LoadParams, LoadedModel, void>(method);
}

/** Sent by the extension or the CLI: unload the loaded model (or the one named). */
export namespace UnloadModelRequest {
    export const method = 'localAi/model/unload' as const;
    export const type = new RequestType<{ model?: string }, { unloaded: string[] }, void>(method);
}

/** Sent by the extension or the CLI: the models loaded in memory now. */
export namespace LoadedModelsRequest {
    export const method = 'localAi/model/listLoaded' as const;
    export const type = new RequestType0<{ models: LoadedModel[] }, void>(method);
}

export interface ChatParams extends PartialResultParams {
    messages: ChatMessage[];
    /** A local model id/path; default: the active model. */
    model?: string;
    /** Use this provider directly instead of the local engine (the user picked a cloud model). */
    provider?: ProviderId;
    /** The provider's model name, with `provider`. */
    providerModel?: string;
    options?: SamplingOptions;
}

/** Chunks sent on a chat's `partialResultToken` while the answer streams. */
export const ChatChunkType = new ProgressType<ChatChunk>();

/** Sent by the extension or the CLI: answer a conversation, streaming; routed local-first with the fallback policy. */
export namespace ChatRequest {
    export const method = 'localAi/chat/complete' as const;
    export const type = new RequestType<ChatParams, ChatResult, void>(method);
}

export interface CountTokensParams {
    model?: string;
    text?: string;
    messages?: ChatMessage[];
}

/** Sent by the extension: count tokens as the model would see them (loads the model if needed). */
export namespace CountTokensRequest {
    export const method = 'localAi/tokens/count' as const;
    export const type = new RequestType<CountTokensParams, { tokens: number; contextSize: number }, void>(method);
}

/** Sent by the extension or the CLI: embedding vectors for each input. */
export namespace EmbeddingsRequest {
    export const method = 'localAi/embeddings/create' as const;
    export const type = new RequestType<{ model?: string; input: string[] }, { vectors: number[][]; model: string }, void>(method);
}

// ---------------------------------------------------------------- fallback

export interface FallbackConfirmParams {
    reason: FallbackReason;
    /** Why local cannot answer, in plain words. */
    message: string;
    provider: ProviderId;
    providerModel: string;
}

/** Sent by the sidecar in `ask` mode before anything leaves the machine. */
export namespace FallbackConfirmRequest {
    export const method = 'localAi/fallback/confirm' as const;
    export const type = new RequestType<FallbackConfirmParams, { allow: boolean }, void>(method);
}

/** Sent by the sidecar when a provider refused its key (401), so the extension can ask for one. */
export namespace ProviderKeyRejectedNotification {
    export const method = 'localAi/provider/keyRejected' as const;
    export const type = new NotificationType<{ provider: ProviderId }>(method);
}

/** Sent by the sidecar each time a conversation is sent to a provider because local could not answer. */
export namespace FallbackUsedNotification {
    export const method = 'localAi/fallback/used' as const;
    export const type = new NotificationType<FallbackInfo>(method);
}

// ---------------------------------------------------------------- GPU backends fetched on demand

// In their own file to keep this one readable; imported from here like every other message.
export * from './gpuProtocol';

// ---------------------------------------------------------------- diagnostics

export interface SidecarInfo {
    pid: number;
    version: string;
    node: string;
    modelsPath: string;
}

/** Sent by the extension (tests, the bug-report action): which process answers and where it keeps models. */
export namespace SidecarInfoRequest {
    export const method = 'localAi/sidecar/info' as const;
    export const type = new RequestType0<SidecarInfo, void>(method);
}
