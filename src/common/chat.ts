/** Chat, shared by the local engine, the cloud providers, the webview, the inline chat and the CLI. */

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
    role: ChatRole;
    content: string;
}

export interface SamplingOptions {
    /** Default: the model preset, else 0.7. */
    temperature?: number;
    topP?: number;
    topK?: number;
    /** Default: until the model stops or the context is full. */
    maxTokens?: number;
    stop?: string[];
    seed?: number;
    /**
     * The answer mostly copies the last user message (an edit of the code in it): the local engine
     * guesses the next tokens from that message and checks them in one batch. The answer is the same,
     * only sooner when the guesses hold. Providers ignore it. Default: false.
     */
    copiesInput?: boolean;
}

import type { ProviderId } from './providers';

export type { ProviderId };

/** Which engine produced an answer: shown on every answer. */
export interface EngineInfo {
    kind: 'local' | 'cloud';
    /** Model id (local) or provider model name (cloud). */
    model: string;
    /** Display name of the model. */
    modelName: string;
    /** 'GPU' | 'CPU' for local, the provider id for cloud. */
    device: 'GPU' | 'CPU' | ProviderId;
    /** Context size in tokens, when known. */
    contextSize?: number;
    /** Local models: which chat template prompts are written in (`the model's own (Jinja)`, `generic ChatML (fallback)`). */
    chatTemplate?: string;
}

export interface ChatUsage {
    promptTokens: number;
    completionTokens: number;
    /** With `copiesInput` on a local model: tokens guessed from the input that the model confirmed (kept) or not (refused). */
    guessedTokens?: { kept: number; refused: number };
    /** Prompt tokens llama.cpp evaluated for this answer (local models); the others came from the conversation's cache. */
    evaluatedPromptTokens?: number;
}

export interface ChatTimings {
    timeToFirstTokenMs: number;
    tokensPerSecond: number;
    totalMs: number;
}

/** What was done when the conversation did not fit the context: never silent. */
export interface TruncationReport {
    strategy: 'dropOldest';
    droppedMessages: number;
    contextSize: number;
}

/** Why an answer came from a provider instead of the local model. */
export const FALLBACK_REASONS = ['noLocalModel', 'downloading', 'doesNotFit', 'loadFailed', 'localError', 'firstTokenTimeout'] as const;

export type FallbackReason = (typeof FALLBACK_REASONS)[number];

export interface FallbackInfo {
    reason: FallbackReason;
    /** Plain words for the user. */
    message: string;
    provider: ProviderId;
}

/** Streamed while an answer is produced. */
export type ChatChunk = { kind: 'start'; engine: EngineInfo; fallback?: FallbackInfo; truncation?: TruncationReport } | { kind: 'text'; text: string };

export interface ChatResult {
    text: string;
    engine: EngineInfo;
    usage: ChatUsage;
    timings: ChatTimings;
    finishReason: 'stop' | 'length' | 'cancelled';
    truncation?: TruncationReport;
    fallback?: FallbackInfo;
}
