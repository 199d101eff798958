/**
 * Error codes the sidecar answers with (in `ResponseError.code`), shared by both sides so the
 * extension can turn each one into a message the user can act on.
 * Codes live in the JSON-RPC "server error" range reserved for implementations.
 */
export enum ErrorCode {
    /** No model with that id, path or hub URI is known. */
    ModelNotFound = -32001,
    /** The model is known but its file is not on disk yet. */
    ModelNotInstalled = -32002,
    /** The model needs more memory than this machine has; `data` carries the numbers. */
    ModelDoesNotFit = -32003,
    /** The file is not a GGUF llama.cpp can load (bad magic, truncated, hostile metadata). */
    InvalidModelFile = -32004,
    /** A single prompt is larger than the model's context; `data` carries the numbers. */
    ContextOverflow = -32005,
    /** A download failed after its retries; the partial file is kept for a resume. */
    DownloadFailed = -32006,
    /** The downloaded bytes do not match the hub's sha256; they were deleted. */
    ChecksumMismatch = -32007,
    /** Not enough free disk space for the download; the partial file is kept. */
    DiskFull = -32008,
    /** The hub or a provider refused the credentials (gated model, missing or wrong key). */
    Unauthorized = -32009,
    /** The network could not be reached, or offline mode forbids it. */
    NetworkError = -32010,
    /** A cloud or remote provider failed (after retries and the fallback chain). */
    ProviderError = -32011,
    /** The local engine cannot answer and the fallback policy does not allow a provider. */
    NoEngineAvailable = -32012,
    /** The model failed to load in llama.cpp. */
    LoadFailed = -32013,
    /** A request's parameters were malformed. */
    InvalidParams = -32602,
    /** The request was cancelled by the caller (`$/cancelRequest`). */
    Cancelled = -32800,
}

/** Extra, structured facts attached to an error so messages can quote numbers. */
export interface ErrorData {
    /** The file the error is about (model file, partial download). */
    file?: string;
    /** Bytes or tokens needed, when the error is about a lack of them. */
    needed?: number;
    /** Bytes or tokens available. */
    available?: number;
    /** Unit of `needed`/`available`. */
    unit?: 'bytes' | 'tokens';
    /** A page where the user can fix the problem (accept a license, create a key). */
    url?: string;
    /** The provider the error is about, for cloud errors. */
    provider?: string;
    /** A short suggestion of what to do next, already phrased for the user. */
    hint?: string;
}

/** An error with a code from {@link ErrorCode}, thrown inside the sidecar and turned into a ResponseError. */
export class LocalAiError extends Error {
    constructor(
        readonly code: ErrorCode,
        message: string,
        readonly data: ErrorData = {},
    ) {
        super(message);
        this.name = 'LocalAiError';
    }
}

export function isLocalAiError(value: unknown): value is LocalAiError {
    return value instanceof LocalAiError;
}
