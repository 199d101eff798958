/**
 * The one interface every engine sits behind (seed 004's "unified model interface"): the local
 * llama.cpp engine, each cloud provider, and the router that chooses between them.
 */
import type { ChatChunk, ChatMessage, ChatResult, ProviderId, SamplingOptions } from '../../common/chat';

export interface ChatCall {
    messages: ChatMessage[];
    /** Local model id/path; default: the active model. */
    model?: string;
    /** Ask this provider directly (the user picked a cloud model). */
    provider?: ProviderId;
    providerModel?: string;
    options?: SamplingOptions;
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
