/**
 * Providers that break the rules of their own wire format, each against the real SDK through the one
 * ChatEngine: an answer counts as finished only when the wire said so (finish_reason, message_stop,
 * finishReason, done), anything else is a typed ProviderFailure in plain words; what a provider sends
 * is bounded (one event, one answer, maxTokens) and a bound passed fails at once; the key never shows,
 * whatever form the server echoes it in.
 */
import * as assert from 'node:assert/strict';
import type { ChatResult, ProviderId } from '../../src/common/chat';
import { createProvider, ProviderFailure } from '../../src/sidecar/providers/index';
import { BROKEN, HOSTILE_KEY, keyLeaks, WIRES } from '../fixtures/mockProviders/hostile';
import { startMockProvider, type MockMode, type MockProvider } from '../fixtures/mockProviders/server';

async function failureOf(promise: Promise<ChatResult>): Promise<ProviderFailure> {
    let result: ChatResult;
    try {
        result = await promise;
    } catch (error) {
        assert.ok(error instanceof ProviderFailure, `expected a ProviderFailure, got ${error instanceof Error ? error.stack : String(error)}`);
        assert.doesNotMatch(error.message, /Cannot read|undefined|TypeError/);
        return error;
    }
    assert.fail(`expected a failure, got an answer that ended "${result.finishReason}" with ${result.text.length} characters`);
}

describe('hostile providers', function () {
    this.timeout(60_000);
    const mocks: MockProvider[] = [];
    const start = async (provider: ProviderId, mode: MockMode) => {
        const mock = await startMockProvider({ provider, mode, answer: ['Half', ' an', ' answer'] });
        mocks.push(mock);
        return mock;
    };
    const chat = (mock: MockProvider, id: ProviderId, options: { maxTokens?: number; idleTimeoutMs?: number } = {}) =>
        createProvider({ setting: { id, baseUrl: mock.baseUrl, model: 'm' }, apiKey: HOSTILE_KEY, idleTimeoutMs: options.idleTimeoutMs ?? 10_000 }).chat({
            messages: [{ role: 'user', content: 'Hello?' }],
            options: { maxTokens: options.maxTokens },
            onChunk: () => undefined,
            signal: new AbortController().signal,
        });
    afterEach(async () => {
        await Promise.all(mocks.splice(0).map((mock) => mock.stop()));
    });

    for (const id of WIRES) {
        describe(id, () => {
            for (const { mode, says } of BROKEN) {
                it(`${mode}: a broken answer (brokenStream), never "stop"`, async () => {
                    const mock = await start(id, mode);
                    const started = performance.now();
                    const failure = await failureOf(chat(mock, id));
                    assert.equal(failure.kind, 'brokenStream', failure.message);
                    assert.match(failure.message, says);
                    // Before the bounds, a 30 MB line took a minute of CPU in the SDK's line decoder.
                    assert.ok(performance.now() - started < 10_000, `took ${Math.round(performance.now() - started)} ms`);
                });
            }

            it('idle after the first piece: a timeout after text, not a finished answer', async () => {
                const failure = await failureOf(chat(await start(id, 'stallAfterFirst'), id, { idleTimeoutMs: 300 }));
                assert.equal(failure.kind, 'timeout');
                assert.equal(failure.afterText, true);
            });

            it('endless stream with maxTokens: cut on the client, "length", connection closed', async () => {
                const mock = await start(id, 'endless');
                const chunks: string[] = [];
                const result = await createProvider({ setting: { id, baseUrl: mock.baseUrl, model: 'm' }, apiKey: HOSTILE_KEY }).chat({
                    messages: [{ role: 'user', content: 'Go on.' }],
                    options: { maxTokens: 50 },
                    onChunk: (chunk) => chunk.kind === 'text' && chunks.push(chunk.text),
                    signal: new AbortController().signal,
                });
                assert.equal(result.finishReason, 'length');
                assert.equal(result.text.length, 50 * 6, 'cut at maxTokens × 6 characters');
                assert.equal(chunks.join(''), result.text, 'nothing past the limit reached the caller');
                await mock.whenClosedEarly();
            });

            it('endless stream without maxTokens: a typed failure at 8 M characters, connection closed', async () => {
                const mock = await start(id, 'endless');
                const failure = await failureOf(chat(mock, id));
                assert.equal(failure.kind, 'brokenStream');
                assert.match(failure.message, /sent more than 8 M characters of text/);
                assert.equal(failure.afterText, true);
                await mock.whenClosedEarly();
            });

            it('key echoed in five forms: none of them, nor 8 characters of the key, in the failure', async () => {
                const failure = await failureOf(chat(await start(id, 'keyEcho'), id));
                assert.equal(failure.kind, 'serverError');
                assert.match(failure.message, /token ••••/, 'the body is still quoted, masked');
                assert.deepEqual(keyLeaks(failure.message), []);
                assert.deepEqual(keyLeaks(JSON.stringify(failure)), []);
                assert.ok(failure.message.length <= 501, `${failure.message.length} characters`);
            });
        });
    }
});
