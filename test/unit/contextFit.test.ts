import * as assert from 'node:assert/strict';
import type { ChatMessage } from '../../src/common/chat';
import { ErrorCode, LocalAiError } from '../../src/common/errors';
import { answerReserve, fitConversation } from '../../src/sidecar/local/contextFit';

/** One token per character plus 4 per message, like a chat template's framing. */
const countTokens = (messages: ChatMessage[]) => messages.reduce((sum, m) => sum + m.content.length + 4, 0);

const turn = (role: ChatMessage['role'], length: number): ChatMessage => ({ role, content: 'x'.repeat(length) });

describe('fitConversation', () => {
    it('keeps a conversation that fits untouched, with no truncation report', () => {
        const messages = [turn('system', 10), turn('user', 20)];
        const fitted = fitConversation({ messages, countTokens, contextSize: 100, reserveTokens: 10 });
        assert.equal(fitted.messages, messages);
        assert.equal(fitted.promptTokens, 38);
        assert.equal(fitted.truncation, undefined);
    });

    it('drops the oldest turns first and keeps every system prompt', () => {
        const messages = [turn('system', 6), turn('user', 40), turn('assistant', 40), turn('user', 10), turn('assistant', 10), turn('user', 10)];
        const fitted = fitConversation({ messages, countTokens, contextSize: 80, reserveTokens: 10 });
        assert.deepEqual(fitted.messages, [messages[0], ...messages.slice(3)]);
        assert.deepEqual(fitted.truncation, { strategy: 'dropOldest', droppedMessages: 2, contextSize: 80 });
        assert.ok(fitted.promptTokens <= 70);
    });

    it('never starts the kept turns with an assistant message', () => {
        const messages = [turn('user', 50), turn('assistant', 5), turn('user', 5)];
        const fitted = fitConversation({ messages, countTokens, contextSize: 30, reserveTokens: 5 });
        assert.deepEqual(fitted.messages, [messages[2]]);
        assert.equal(fitted.truncation?.droppedMessages, 2);
    });

    it('throws ContextOverflow with the numbers when the last message alone cannot fit', () => {
        const messages = [turn('system', 10), turn('user', 5), turn('user', 200)];
        assert.throws(
            () => fitConversation({ messages, countTokens, contextSize: 100, reserveTokens: 20 }),
            (error: unknown) => {
                assert.ok(error instanceof LocalAiError);
                assert.equal(error.code, ErrorCode.ContextOverflow);
                assert.deepEqual([error.data.needed, error.data.available, error.data.unit], [218, 80, 'tokens']);
                return true;
            },
        );
    });
});

describe('answerReserve', () => {
    it('keeps the requested answer length free, at most a quarter of the context', () => {
        assert.equal(answerReserve(1000, 50), 50);
        assert.equal(answerReserve(1000, 5000), 250);
        assert.equal(answerReserve(1000, undefined), 250);
        assert.equal(answerReserve(2, 0), 1);
    });
});
