/**
 * The interface code completion sits behind in the sidecar (src/sidecar/completion): the local
 * fill-in-the-middle engine or a configured remote server. The JSON-RPC handler, the CLI's `complete`
 * and the local server's `/v1/completions` all call it.
 */
import type { CompletionParams, CompletionResult, CompletionStatus } from '../common/completion';

export interface CompletionCall extends CompletionParams {
    /**
     * Raw: no editor stop rules (indentation, suffix overlap) and no cache, only maxTokens, stop strings
     * and the end of generation; an empty suffix is a plain completion of `prefix`. `/v1/completions` uses it.
     */
    raw?: boolean;
    /** Receives the text as it is produced (the server streams it). */
    onText?: (text: string) => void;
    /** Aborts generation in llama.cpp; the result then has finishReason 'cancelled'. */
    signal: AbortSignal;
}

export interface CompletionEngine {
    complete(call: CompletionCall): Promise<CompletionResult>;
    status(): CompletionStatus;
}
