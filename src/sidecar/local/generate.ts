/**
 * Generation on a loaded model: a conversation in the model's own chat template (from the
 * GGUF, through node-llama-cpp's chat-wrapper resolution), streamed token by token, stopped
 * by an AbortSignal between two tokens, with the numbers a user sees on every answer.
 */
import type { ChatHistoryItem, LlamaContextSequence, Token } from 'node-llama-cpp';
import type { ChatMessage, ChatResult, EngineInfo, SamplingOptions, TruncationReport } from '../../common/chat';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { answerReserve, fitConversation } from './contextFit';
import { importNodeLlamaCpp } from '../llama/runtime';
import { useInputLookup } from './inputLookup';
import type { LoadedState } from './modelHost';
import type { SequenceLane } from './savedStates';

/** Default temperature when neither the request nor a model preset sets one. */
export const defaultTemperature = 0.7;

export interface ChatHooks {
    /** Once, before the first token: which engine answers and whether the conversation was trimmed. */
    onStart?: (engine: EngineInfo, truncation: TruncationReport | undefined) => void;
    /** Each piece of text as it is generated. */
    onText?: (text: string) => void;
    /** Each generated token (ids), for callers that count. */
    onTokens?: (tokens: Token[]) => void;
}

/** Converts protocol messages to node-llama-cpp's history, ending with the (empty) turn to generate. */
export function toChatHistory(messages: ChatMessage[]): ChatHistoryItem[] {
    const history: ChatHistoryItem[] = messages.map((message): ChatHistoryItem => {
        switch (message.role) {
            case 'system':
                return { type: 'system', text: message.content };
            case 'user':
                return { type: 'user', text: message.content };
            case 'assistant':
                return { type: 'model', response: [message.content] };
            default: {
                // validateMessages refuses other roles first; `never` keeps this switch complete when a role is added.
                const role: never = message.role;
                throw new Error(`Unknown message role: ${String(role)}`);
            }
        }
    });
    if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] });
    return history;
}

/** The tokens the model sees for this conversation, template and generation prompt included. */
export function conversationTokens(state: LoadedState, messages: ChatMessage[]): Token[] {
    const { contextText } = state.chatWrapper.generateContextState({ chatHistory: toChatHistory(messages) });
    return contextText.tokenize(state.model.tokenizer);
}

/** Tokens the model sees for this conversation, template and generation prompt included. */
export function countConversationTokens(state: LoadedState, messages: ChatMessage[]): number {
    return conversationTokens(state, messages).length;
}

/** Tokens llama.cpp has evaluated on a sequence so far. */
function evaluatedTokens(sequence: LlamaContextSequence): number {
    return sequence.tokenMeter.usedInputTokens + sequence.tokenMeter.usedOutputTokens;
}

export function engineInfo(state: LoadedState): EngineInfo {
    return {
        kind: 'local',
        model: state.info.modelId,
        modelName: state.info.name,
        device: state.info.device,
        contextSize: state.context.contextSize,
        chatTemplate: state.info.chatTemplate,
    };
}

function validateMessages(messages: ChatMessage[]): void {
    if (!Array.isArray(messages) || messages.length === 0) {
        throw new LocalAiError(ErrorCode.InvalidParams, 'A chat needs at least one message.');
    }
    for (const message of messages) {
        if (!['system', 'user', 'assistant'].includes(message?.role) || typeof message.content !== 'string') {
            throw new LocalAiError(ErrorCode.InvalidParams, 'Each message needs a role (system, user or assistant) and a text content.');
        }
    }
}

/** Maps protocol sampling options to node-llama-cpp's, with the engine's defaults. */
export function samplingToLlama(options: SamplingOptions = {}): {
    temperature: number;
    topP?: number;
    topK?: number;
    seed?: number;
    maxTokens?: number;
    customStopTriggers?: string[];
} {
    return {
        temperature: options.temperature ?? defaultTemperature,
        topP: options.topP,
        topK: options.topK,
        seed: options.seed,
        maxTokens: options.maxTokens,
        customStopTriggers: options.stop?.filter((s) => s.length > 0).length ? options.stop.filter((s) => s.length > 0) : undefined,
    };
}

/**
 * Answers a conversation on a loaded model. Waits for a free sequence (the one that holds the longest
 * prefix of this conversation, see SequencePool), trims the
 * conversation to the context, streams through `hooks`, and resolves with finishReason
 * 'cancelled' (and the text so far) when `signal` aborts.
 */
export async function generateChat(
    state: LoadedState,
    request: {
        messages: ChatMessage[];
        options?: SamplingOptions;
        /** Which of the pool's lanes the answer takes a sequence from. Default: 'chat'. */
        lane?: SequenceLane;
    },
    hooks: ChatHooks = {},
    signal?: AbortSignal,
): Promise<ChatResult> {
    validateMessages(request.messages);
    const started = performance.now();
    const contextSize = state.context.contextSize;
    const sampling = samplingToLlama(request.options);
    const fitted = fitConversation({
        messages: request.messages,
        countTokens: (messages) => countConversationTokens(state, messages),
        contextSize,
        reserveTokens: answerReserve(contextSize, sampling.maxTokens),
    });
    const room = contextSize - fitted.promptTokens;
    const maxTokens = Math.max(1, Math.min(sampling.maxTokens ?? room, room));
    const stop = AbortSignal.any([signal ?? new AbortController().signal, state.unloading]);

    const { LlamaChat } = await importNodeLlamaCpp();
    const sequence = await state.pool.acquire({ tokens: conversationTokens(state, fitted.messages), lane: request.lane, signal: stop });
    const acquiredAt = performance.now();
    const evaluatedBefore = evaluatedTokens(sequence);
    let evaluatedPromptTokens: number | undefined;
    const copiesInput = request.options?.copiesInput === true;
    useInputLookup(sequence, copiesInput);
    const predictionsBefore = { ...sequence.tokenPredictions };
    const engine = engineInfo(state);
    hooks.onStart?.(engine, fitted.truncation);
    let completionTokens = 0;
    let firstTokenAt: number | undefined;
    const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: state.chatWrapper, autoDisposeSequence: false });
    try {
        const response = await chat.generateResponse(toChatHistory(fitted.messages), {
            ...sampling,
            maxTokens,
            signal: stop,
            stopOnAbortSignal: true,
            onToken: (tokens) => {
                if (firstTokenAt === undefined) {
                    firstTokenAt = performance.now();
                    evaluatedPromptTokens = evaluatedTokens(sequence) - evaluatedBefore;
                }
                completionTokens += tokens.length;
                hooks.onTokens?.(tokens);
            },
            onTextChunk: (text) => {
                if (text.length > 0) hooks.onText?.(text);
            },
        });
        const ended = performance.now();
        const reason = response.metadata.stopReason;
        // node-llama-cpp holds back trailing whitespace tokens (trimWhitespaceSuffix) and drops them when
        // the answer ends at maxTokens, so onToken saw fewer tokens than the model generated.
        if (reason === 'maxTokens') completionTokens = Math.max(completionTokens, maxTokens);
        const decodeMs = firstTokenAt === undefined ? 0 : ended - firstTokenAt;
        return {
            text: response.response,
            engine,
            usage: {
                promptTokens: fitted.promptTokens,
                completionTokens,
                evaluatedPromptTokens,
                guessedTokens: copiesInput
                    ? {
                          kept: sequence.tokenPredictions.validated - predictionsBefore.validated,
                          refused: sequence.tokenPredictions.refuted - predictionsBefore.refuted,
                      }
                    : undefined,
            },
            timings: {
                timeToFirstTokenMs: firstTokenAt === undefined ? 0 : Math.round((firstTokenAt - started) * 10) / 10,
                tokensPerSecond: completionTokens > 1 && decodeMs > 0 ? Math.round(((completionTokens - 1) / decodeMs) * 10_000) / 10 : 0,
                totalMs: Math.round(ended - started),
            },
            finishReason: reason === 'abort' ? 'cancelled' : reason === 'maxTokens' ? 'length' : 'stop',
            truncation: fitted.truncation,
        };
    } finally {
        chat.dispose({ disposeSequence: false });
        state.pool.release(
            sequence,
            firstTokenAt === undefined || evaluatedPromptTokens === undefined ? undefined : { tokens: evaluatedPromptTokens, ms: firstTokenAt - acquiredAt },
        );
    }
}

/** Tokens in a text, or in a conversation as the model would see it. */
export function countTokens(state: LoadedState, input: { text?: string; messages?: ChatMessage[] }): number {
    if (input.messages) {
        validateMessages(input.messages);
        return countConversationTokens(state, input.messages);
    }
    if (typeof input.text !== 'string') throw new LocalAiError(ErrorCode.InvalidParams, 'Count tokens of a text or of messages.');
    return state.model.tokenize(input.text).length;
}

/** One embedding vector per input, from the model's embedding context. */
export async function embed(state: LoadedState, input: string[], signal?: AbortSignal): Promise<number[][]> {
    if (!Array.isArray(input) || input.some((text) => typeof text !== 'string')) {
        throw new LocalAiError(ErrorCode.InvalidParams, 'Embeddings need a list of texts.');
    }
    const { context, contextSize } = await state.embeddingContext();
    const vectors: number[][] = [];
    for (const text of input) {
        signal?.throwIfAborted();
        const tokens = state.model.tokenize(text).length;
        if (tokens > contextSize) {
            throw new LocalAiError(ErrorCode.ContextOverflow, `A text to embed has ${tokens} tokens; the embedding context holds ${contextSize}.`, {
                needed: tokens,
                available: contextSize,
                unit: 'tokens',
            });
        }
        vectors.push([...(await context.getEmbeddingFor(text)).vector]);
    }
    return vectors;
}
