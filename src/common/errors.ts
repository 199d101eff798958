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
    /**
     * The local file system refused a store operation: no permission, a read-only disk, a file where a
     * folder should be, a name too long, a loop of links. Not the network: retrying does not help.
     */
    FileSystemError = -32014,
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

/**
 * What the user can do about an error. Each renderer (a notification, the chat view, VS Code's chat,
 * inline chat) offers the fixes it can run, in this order.
 */
export type ErrorFix =
    | 'retry'
    | 'restartSidecar'
    | 'refreshModels'
    | 'downloadModel'
    | 'chooseQuantization'
    | 'deleteModel'
    | 'newChat'
    | 'openContextSetting'
    | 'cleanupPartials'
    | 'openModelsPathSetting'
    | 'openModelPage'
    | 'setApiKey'
    | 'setToken'
    | 'openNetworkSettings'
    | 'showLogs';

export interface ErrorAdvice {
    /** The error's message followed by what to do, with the numbers from its data. */
    message: string;
    fixes: ErrorFix[];
}

/** How bytes and tokens are written in the advice (the caller's formatter, so sizes read the same everywhere). */
export type AmountFormatter = (value: number, unit: 'bytes' | 'tokens') => string;

/**
 * The one table from an error code (and its data) to the sentence that follows the message and the
 * fixes to offer. `code` is undefined for errors that did not come from the sidecar.
 */
export function adviseOn(code: number | undefined, message: string, data: ErrorData, amount: AmountFormatter): ErrorAdvice {
    /** The sentence quoting what is needed and what is available, and a space; nothing without the numbers. */
    const numbers = (unit: 'bytes' | 'tokens', sentence: (needed: string, available: string) => string) =>
        data.needed !== undefined ? `${sentence(amount(data.needed, unit), data.available !== undefined ? amount(data.available, unit) : '?')} ` : '';
    const advice = (sentence: string, fixes: ErrorFix[]): ErrorAdvice => {
        const text = sentence ? `${message} ${sentence}` : message;
        return { message: data.hint && !text.includes(data.hint) ? `${text} ${data.hint}` : text, fixes };
    };
    switch (code) {
        case ErrorCode.ModelNotFound:
            return advice('Check the model id or the hf: URI (hf:owner/repo/file.gguf), or refresh the list.', ['refreshModels', 'downloadModel']);
        case ErrorCode.ModelNotInstalled:
            return advice('Download it first.', ['downloadModel']);
        case ErrorCode.ModelDoesNotFit:
            return advice(
                `${numbers(data.unit ?? 'bytes', (needed, available) => `It needs ${needed}, ${available} is free.`)}Choose a smaller quantization or close other apps.`,
                ['chooseQuantization'],
            );
        case ErrorCode.InvalidModelFile:
            return advice(`${data.file ? `(${data.file}) ` : ''}The file is not a model llama.cpp can load: delete it and download it again.`, [
                'deleteModel',
                'showLogs',
            ]);
        case ErrorCode.ContextOverflow:
            return advice(
                `${numbers('tokens', (needed, available) => `The prompt has ${needed}, the model takes ${available}.`)}Shorten it, start a new chat, or raise localAi.contextSize.`,
                ['newChat', 'openContextSetting'],
            );
        case ErrorCode.DownloadFailed:
            return advice('The part already downloaded is kept: downloading again resumes it.', ['retry', 'showLogs']);
        case ErrorCode.ChecksumMismatch:
            return advice('The damaged file was deleted; download it again.', ['retry']);
        case ErrorCode.DiskFull:
            return advice(
                `${numbers('bytes', (needed, available) => `It needs ${needed}, ${available} is free.`)}Free some space or move models elsewhere (localAi.modelsPath); the partial file is kept.`,
                ['cleanupPartials', 'openModelsPathSetting'],
            );
        case ErrorCode.Unauthorized:
            return data.provider
                ? advice(`The key for ${data.provider} was refused.`, ['setApiKey'])
                : data.url
                  ? advice('This model is gated: accept its license on Hugging Face, then set a token that can read it.', ['openModelPage', 'setToken'])
                  : advice('', ['setToken']);
        case ErrorCode.NetworkError:
            return advice('Check your connection, the proxy (http.proxy), localAi.hubEndpoint and localAi.offline.', ['retry', 'openNetworkSettings']);
        case ErrorCode.FileSystemError:
            return advice('Choose a models folder you can write to (localAi.modelsPath).', ['openModelsPathSetting', 'showLogs']);
        case ErrorCode.NoEngineAvailable:
            return advice('', ['downloadModel', 'showLogs']);
        case ErrorCode.LoadFailed:
            return advice('Try a smaller quantization, or set localAi.gpu to "off".', ['showLogs', 'chooseQuantization']);
        default:
            return advice('', ['retry', 'showLogs']);
    }
}
