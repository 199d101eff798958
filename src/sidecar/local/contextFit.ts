/**
 * Fitting a conversation into the model's context, never silently: when it is too long the
 * oldest turns are dropped (system prompts kept) and the caller reports how many; when even
 * the last message cannot fit, a typed error carries the numbers.
 */
import type { ChatMessage, TruncationReport } from '../../common/chat';
import { ErrorCode, LocalAiError } from '../../common/errors';

export interface FitConversationOptions {
    messages: ChatMessage[];
    /** Tokens the model would see for these messages, chat template and generation prompt included. */
    countTokens: (messages: ChatMessage[]) => number;
    contextSize: number;
    /** Tokens kept free for the answer. */
    reserveTokens: number;
}

export interface FittedConversation {
    messages: ChatMessage[];
    promptTokens: number;
    truncation?: TruncationReport;
}

/** Tokens kept free for the answer: the requested maximum, capped at a quarter of the context. */
export function answerReserve(contextSize: number, maxTokens: number | undefined): number {
    const quarter = Math.floor(contextSize / 4);
    return Math.max(1, Math.min(maxTokens ?? quarter, quarter));
}

/**
 * Drops the oldest non-system messages (and any assistant message that would then open the
 * conversation) until the prompt plus the reserve fits; throws `ContextOverflow` when the
 * system prompts and the last message alone do not fit.
 */
export function fitConversation(options: FitConversationOptions): FittedConversation {
    const { messages, countTokens, contextSize, reserveTokens } = options;
    const room = contextSize - reserveTokens;
    let promptTokens = countTokens(messages);
    if (promptTokens <= room) return { messages, promptTokens };

    const system = messages.filter((m) => m.role === 'system');
    let turns = messages.filter((m) => m.role !== 'system');
    let dropped = 0;
    while (turns.length > 1) {
        turns = turns.slice(1);
        dropped++;
        while (turns.length > 1 && turns[0].role === 'assistant') {
            turns = turns.slice(1);
            dropped++;
        }
        promptTokens = countTokens([...system, ...turns]);
        if (promptTokens <= room) {
            return {
                messages: [...system, ...turns],
                promptTokens,
                truncation: { strategy: 'dropOldest', droppedMessages: dropped, contextSize },
            };
        }
    }
    throw new LocalAiError(
        ErrorCode.ContextOverflow,
        `The prompt needs ${promptTokens} tokens, but the model's context holds ${contextSize} (${reserveTokens} kept for the answer).`,
        { needed: promptTokens, available: room, unit: 'tokens', hint: 'Shorten the message, or load the model with a larger context.' },
    );
}
