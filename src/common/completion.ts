/**
 * Code completion (fill-in-the-middle) between the extension's inline completion provider, the CLI
 * and the sidecar: the request, its result and the engine's state for the status bar. The extension
 * cuts the window (lines of prefix and suffix) and gathers extra context; the sidecar caps it in
 * tokens, reuses the completion sequence's KV cache, applies the stop rules and keeps the cache.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-languageserver-protocol';

/** A piece of another file (recently edited or open) the model sees before the prefix. */
export interface CompletionContextChunk {
    /** Workspace-relative path, shown to the model as the chunk's file name. */
    fileName: string;
    text: string;
}

export interface CompletionParams {
    /** Catalog id, `id@QUANT`, or an absolute path to a GGUF file; default: `localAi.completion.model`, else the recommended completion model installed. */
    model?: string;
    /** Text before the cursor (the window the extension cut). */
    prefix: string;
    /** Text after the cursor. */
    suffix: string;
    /** The document's language id (stop rules may depend on it). */
    languageId?: string;
    /** Workspace-relative path of the document. */
    fileName?: string;
    /** Extra context, oldest first. */
    extra?: CompletionContextChunk[];
    /** 'automatic' while typing, 'explicit' when the user asked (Alt+\ / Trigger Inline Suggestion). */
    trigger?: 'automatic' | 'explicit';
    /** Only the rest of the current line. Default: multi-line, ended by the stop rules. */
    singleLine?: boolean;
    /** Answer tokens at most. Default: the engine's cap. */
    maxTokens?: number;
    /** Give up generating after this long and answer with what there is (finishReason 'time'). Default: the engine's cap. */
    timeoutMs?: number;
    temperature?: number;
    seed?: number;
    /** Extra stop strings. */
    stop?: string[];
}

/**
 * Why the completion ended: 'stop' (end of generation or a stop string), 'length' (maxTokens), 'time'
 * (timeoutMs), 'indent' (the indentation block ended), 'suffix' (it began repeating the suffix),
 * 'line' (single-line), 'cancelled'.
 */
export type CompletionFinishReason = 'stop' | 'length' | 'time' | 'indent' | 'suffix' | 'line' | 'cancelled';

export interface CompletionResult {
    /** The text to insert at the cursor (may be empty). */
    text: string;
    finishReason: CompletionFinishReason;
    /** Answered from the cache of recent completions, without a model call. */
    fromCache: boolean;
    /**
     * Set when a multi-line suggestion was asked for (automatically) but the answer was kept to one line, because
     * this machine could not generate it within the time cap: why, in one sentence.
     */
    singleLineBecause?: string;
    engine: { kind: 'local' | 'remote'; model: string; device?: 'GPU' | 'CPU'; endpoint?: string };
    usage: {
        /** Tokens of the prompt the model saw. */
        promptTokens: number;
        /** Of those, the ones evaluated for this request (the rest came from the KV cache). */
        evaluatedTokens: number;
        completionTokens: number;
    };
    timings: { totalMs: number; timeToFirstTokenMs: number };
}

/** Sent by the extension or the CLI; the protocol's $/cancelRequest stops generation in llama.cpp. */
export namespace CompleteRequest {
    export const method = 'localAi/completion/complete' as const;
    export const type = new RequestType<CompletionParams, CompletionResult, void>(method);
}

/**
 * The sidecar's side of the status bar item: 'ready' (a model is loaded or will load on the next request),
 * 'loading', 'noModel' (no completion-capable model installed, none configured), 'yielded' (the completion
 * model does not fit beside the chat model and gave way to it), 'remote' (a configured server answers).
 * On, off and snoozed are the extension's own.
 */
export type CompletionEngineState = 'ready' | 'loading' | 'noModel' | 'yielded' | 'remote';

export interface CompletionStatus {
    state: CompletionEngineState;
    /** The model completions use (or would use), for the tooltip. */
    model?: { id: string; name: string; quant?: string };
    /** One line for the tooltip: what it uses and why (e.g. why it yielded). */
    message: string;
}

export namespace CompletionStatusRequest {
    export const method = 'localAi/completion/status' as const;
    export const type = new RequestType0<CompletionStatus, void>(method);
}

/** Sent by the sidecar whenever the completion engine's state changes. */
export namespace CompletionStatusNotification {
    export const method = 'localAi/completion/statusChanged' as const;
    export const type = new NotificationType<CompletionStatus>(method);
}
