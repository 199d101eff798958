/**
 * The one interface every engine sits behind: the local llama.cpp engine, each cloud provider, and
 * the router that chooses between them.
 */
import type { ChatChunk, ChatMessage, ChatResult } from '../common/chat';
import type { ChatParams } from '../common/protocol';

/** A chat as the engines take it: the protocol's parameters, with a sink for the streamed chunks and a signal. */
export interface ChatCall extends Omit<ChatParams, 'partialResultToken'> {
    /** Receives the 'start' chunk, then every piece of text as it is produced. */
    onChunk: (chunk: ChatChunk) => void;
    /** Aborts generation (the protocol's $/cancelRequest); the result then has finishReason 'cancelled'. */
    signal: AbortSignal;
}

export interface ChatEngine {
    chat(call: ChatCall): Promise<ChatResult>;
    /** Tokens the model would see for this text or conversation, and its context size. */
    countTokens?(input: { model?: string; text?: string; messages?: ChatMessage[] }, signal: AbortSignal): Promise<{ tokens: number; contextSize: number }>;
    embed?(input: { model?: string; input: string[] }, signal: AbortSignal): Promise<{ vectors: number[][]; model: string }>;
}
