/**
 * The fallback policy matrix, through the real ChatRouter and a real loopback OpenAI-compatible
 * server: for every mode and trigger, either the provider answers (and the answer says so), or the
 * provider never receives a single request.
 */
import * as assert from 'node:assert/strict';
import type { ChatChunk, ChatResult, FallbackReason, ProviderId } from '../../src/common/chat';
import { ErrorCode, LocalAiError } from '../../src/common/errors';
import type { FallbackConfirmParams } from '../../src/common/protocol';
import { defaultSettings, type SidecarSettings } from '../../src/common/settings';
import { SidecarContext } from '../../src/sidecar/context';
import { ChatRouter } from '../../src/sidecar/chat/router';
import type { ChatCall, ChatEngine } from '../../src/sidecar/chatEngine';
import { startMockProvider, type MockProvider } from '../fixtures/mockProviders/server';

/** A local engine whose behaviour the test scripts: it answers, fails with a code, or never starts. */
class ScriptedLocalEngine implements ChatEngine {
    calls = 0;
    abortedWhileWaiting = false;
    constructor(private readonly behaviour: { fail?: Error; stall?: boolean; answer?: string }) {}

    async chat(call: ChatCall): Promise<ChatResult> {
        this.calls++;
        const engine = { kind: 'local' as const, model: 'tiny', modelName: 'Tiny', device: 'CPU' as const };
        call.onChunk({ kind: 'start', engine });
        if (this.behaviour.fail) throw this.behaviour.fail;
        if (this.behaviour.stall) {
            await new Promise<void>((resolve) => call.signal.addEventListener('abort', () => resolve(), { once: true }));
            this.abortedWhileWaiting = true;
        } else {
            call.onChunk({ kind: 'text', text: this.behaviour.answer ?? 'local answer' });
        }
        return {
            text: call.signal.aborted ? '' : (this.behaviour.answer ?? 'local answer'),
            engine,
            usage: { promptTokens: 1, completionTokens: 1 },
            timings: { timeToFirstTokenMs: 1, tokensPerSecond: 1, totalMs: 1 },
            finishReason: call.signal.aborted ? 'cancelled' : 'stop',
        };
    }
}

const LOCAL_FAILURES: Record<Exclude<FallbackReason, 'firstTokenTimeout'>, { error: Error; downloading?: boolean }> = {
    noLocalModel: { error: new LocalAiError(ErrorCode.ModelNotInstalled, 'Qwen is not installed.') },
    downloading: { error: new LocalAiError(ErrorCode.ModelNotInstalled, 'Qwen is not installed.'), downloading: true },
    doesNotFit: { error: new LocalAiError(ErrorCode.ModelDoesNotFit, 'Needs 9 GB, 6 GB free.') },
    loadFailed: { error: new LocalAiError(ErrorCode.LoadFailed, 'llama.cpp could not load it.') },
    localError: { error: new Error('the context crashed') },
};
const REASONS = [...Object.keys(LOCAL_FAILURES), 'firstTokenTimeout'] as FallbackReason[];

/** The first-token timer, driven by the test instead of the wall clock. */
class FakeClock {
    private timers: { at: number; fire: () => void }[] = [];
    private now = 0;

    readonly startTimer = (fire: () => void, ms: number): (() => void) => {
        const timer = { at: this.now + ms, fire };
        this.timers.push(timer);
        return () => (this.timers = this.timers.filter((t) => t !== timer));
    };

    /** Moves time on, fires what is due, and lets every reaction to it run before returning. */
    async advance(ms: number): Promise<void> {
        this.now += ms;
        const due = this.timers.filter((t) => t.at <= this.now);
        this.timers = this.timers.filter((t) => t.at > this.now);
        for (const timer of due) timer.fire();
        await new Promise((resolve) => setImmediate(resolve));
    }
}

interface Harness {
    router: ChatRouter;
    clock: FakeClock;
    local: ScriptedLocalEngine;
    confirmations: FallbackConfirmParams[];
    /** Resolves when the user is first asked. */
    asked: Promise<void>;
    keyRejected: ProviderId[];
    used: FallbackReason[];
    chunks: ChatChunk[];
    ask(): Promise<ChatResult>;
}

describe('fallback policy', () => {
    let mock: MockProvider;

    beforeEach(async () => {
        mock = await startMockProvider({ provider: 'openai-compatible', answer: ['from', ' the', ' cloud'] });
    });
    afterEach(() => mock.stop());

    function harness(options: {
        reason: FallbackReason;
        configure?: (settings: SidecarSettings) => void;
        allow?: boolean;
        keys?: Partial<Record<ProviderId, string>>;
        provider?: ProviderId;
        /** Default: fails the way `reason` says. */
        local?: ScriptedLocalEngine;
    }): Harness {
        const settings = defaultSettings();
        settings.fallback.providers = [{ id: 'openai-compatible', baseUrl: mock.baseUrl, model: 'team-model' }];
        settings.fallback.firstTokenTimeoutSeconds = 0.2;
        options.configure?.(settings);
        const failure = options.reason === 'firstTokenTimeout' ? undefined : LOCAL_FAILURES[options.reason];
        const local = options.local ?? new ScriptedLocalEngine(failure ? { fail: failure.error } : { stall: true });
        let markAsked: () => void = () => undefined;
        const context = new SidecarContext({
            log: { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined },
            settings,
            secrets: { providerKeys: options.keys ?? {} },
            defaultModelsPath: '',
            statePath: '',
        });
        const clock = new FakeClock();
        const h: Harness = {
            clock,
            local,
            confirmations: [],
            asked: new Promise((resolve) => (markAsked = resolve)),
            keyRejected: [],
            used: [],
            chunks: [],
            router: new ChatRouter({
                context,
                local,
                isDownloading: () => failure?.downloading ?? false,
                startTimer: clock.startTimer,
                client: {
                    confirm: async (params) => {
                        h.confirmations.push(params);
                        markAsked();
                        return options.allow ?? false;
                    },
                    keyRejected: (provider) => h.keyRejected.push(provider),
                    fallbackUsed: (info) => h.used.push(info.reason),
                },
            }),
            ask: () => {
                const answer = h.router.chat({
                    messages: [{ role: 'user', content: 'Explain this function.' }],
                    provider: options.provider,
                    onChunk: (chunk) => h.chunks.push(chunk),
                    signal: new AbortController().signal,
                });
                // A local model that stalls never answers in time: let the first-token timeout pass.
                if (options.reason === 'firstTokenTimeout') void clock.advance(settings.fallback.firstTokenTimeoutSeconds * 1000);
                return answer;
            },
        };
        return h;
    }

    for (const reason of REASONS) {
        describe(`when the local model cannot answer: ${reason}`, () => {
            it('mode off: the error is the local one and the provider receives nothing', async () => {
                const h = harness({ reason });
                if (reason === 'firstTokenTimeout') {
                    // With fallback off, the router simply keeps waiting for the local model; it is cancelled here.
                    const controller = new AbortController();
                    const answer = h.router.chat({ messages: [{ role: 'user', content: 'hi' }], onChunk: () => undefined, signal: controller.signal });
                    await h.clock.advance(10_000);
                    assert.equal(h.local.abortedWhileWaiting, false, 'the local answer was given up on');
                    controller.abort();
                    assert.equal((await answer).finishReason, 'cancelled');
                } else {
                    await assert.rejects(h.ask(), (error: Error) => error === LOCAL_FAILURES[reason].error);
                }
                assert.equal(mock.requests.length, 0);
                assert.deepEqual(h.used, []);
            });

            it('mode auto: the provider answers and the answer says why', async () => {
                const h = harness({ reason, configure: (s) => (s.fallback.mode = 'auto') });
                const result = await h.ask();
                assert.equal(result.text, 'from the cloud');
                assert.equal(result.engine.kind, 'cloud');
                assert.equal(result.engine.device, 'openai-compatible');
                assert.equal(result.fallback?.reason, reason);
                assert.equal(result.fallback?.provider, 'openai-compatible');
                const start = h.chunks.find((chunk) => chunk.kind === 'start');
                assert.equal(start?.kind === 'start' && start.engine.kind, 'cloud', "the local engine's badge is never shown for a cloud answer");
                assert.equal(start?.kind === 'start' && start.fallback?.reason, reason);
                assert.deepEqual(h.used, [reason]);
                assert.equal(mock.requests.length, 1);
                assert.equal((mock.requests[0].body as { model: string }).model, 'team-model');
                if (reason === 'firstTokenTimeout') assert.ok(h.local.abortedWhileWaiting, 'the slow local answer is aborted');
            });

            it('mode ask, declined: the user was asked with the reason and the provider receives nothing', async () => {
                const h = harness({ reason, configure: (s) => (s.fallback.mode = 'ask'), allow: false });
                if (reason === 'firstTokenTimeout') {
                    const controller = new AbortController();
                    const answer = h.router.chat({ messages: [{ role: 'user', content: 'hi' }], onChunk: () => undefined, signal: controller.signal });
                    await h.clock.advance(10_000);
                    await h.asked;
                    controller.abort();
                    assert.equal((await answer).finishReason, 'cancelled', 'declining keeps waiting for the local model');
                } else {
                    await assert.rejects(h.ask(), (error: LocalAiError) => error.code === ErrorCode.NoEngineAvailable && /declined/.test(error.message));
                }
                assert.equal(h.confirmations[0]?.reason, reason);
                assert.equal(h.confirmations[0]?.provider, 'openai-compatible');
                assert.equal(h.confirmations[0]?.providerModel, 'team-model');
                assert.ok(h.confirmations[0]?.message.length > 0);
                assert.equal(mock.requests.length, 0);
            });

            it('mode ask, allowed: the provider answers', async () => {
                const h = harness({ reason, configure: (s) => (s.fallback.mode = 'ask'), allow: true });
                const result = await h.ask();
                assert.equal(result.text, 'from the cloud');
                assert.equal(h.confirmations.length, 1, 'asked once');
                assert.equal(mock.requests.length, 1);
            });

            it('mode auto with this trigger switched off: the provider receives nothing', async () => {
                const h = harness({
                    reason,
                    configure: (s) => {
                        s.fallback.mode = 'auto';
                        s.fallback.triggers[reason] = false;
                    },
                });
                if (reason === 'firstTokenTimeout') {
                    const controller = new AbortController();
                    const answer = h.router.chat({ messages: [{ role: 'user', content: 'hi' }], onChunk: () => undefined, signal: controller.signal });
                    await h.clock.advance(10_000);
                    assert.equal(h.local.abortedWhileWaiting, false, 'the local answer was given up on');
                    controller.abort();
                    await answer;
                } else {
                    await assert.rejects(h.ask());
                }
                assert.equal(mock.requests.length, 0);
            });
        });
    }

    for (const [name, configure] of [
        ['the workspace forbids cloud use', (s: SidecarSettings) => (s.fallback.forbidden = true)],
        ['offline mode is on', (s: SidecarSettings) => (s.offline = true)],
    ] as const) {
        it(`mode auto but ${name}: nothing is sent, even for a provider picked by hand`, async () => {
            const fallback = harness({
                reason: 'noLocalModel',
                configure: (s) => {
                    s.fallback.mode = 'auto';
                    configure(s);
                },
            });
            await assert.rejects(fallback.ask(), (error: Error) => error === LOCAL_FAILURES.noLocalModel.error);
            const picked = harness({
                reason: 'noLocalModel',
                provider: 'openai-compatible',
                configure: (s) => {
                    s.fallback.mode = 'auto';
                    configure(s);
                },
            });
            await assert.rejects(picked.ask(), (error: LocalAiError) => error.code === ErrorCode.NoEngineAvailable || error.code === ErrorCode.NetworkError);
            assert.equal(mock.requests.length, 0);
        });
    }

    it('a provider picked by hand is used with mode off, without trying the local model', async () => {
        const h = harness({ reason: 'noLocalModel', provider: 'openai-compatible' });
        const result = await h.ask();
        assert.equal(result.text, 'from the cloud');
        assert.equal(result.fallback, undefined, 'not a fallback: the user chose it');
        assert.equal(h.local.calls, 0);
        assert.equal(mock.requests.length, 1);
    });

    it('a local model that answers keeps everything on the machine, whatever the mode', async () => {
        const h = harness({ reason: 'noLocalModel', configure: (s) => (s.fallback.mode = 'auto'), local: new ScriptedLocalEngine({ answer: 'local answer' }) });
        const result = await h.ask();
        assert.equal(result.engine.kind, 'local');
        assert.equal(result.text, 'local answer');
        assert.deepEqual(
            h.chunks.map((chunk) => chunk.kind),
            ['start', 'text'],
        );
        assert.equal(result.fallback, undefined);
        assert.equal(mock.requests.length, 0);
    });

    it('a slow local answer is not aborted when no provider could take over', async () => {
        const h = harness({
            reason: 'firstTokenTimeout',
            configure: (s) => {
                s.fallback.mode = 'auto';
                s.fallback.providers = [{ id: 'openai', baseUrl: mock.baseUrl, model: 'gpt' }];
            },
        });
        const controller = new AbortController();
        const answer = h.router.chat({ messages: [{ role: 'user', content: 'hi' }], onChunk: () => undefined, signal: controller.signal });
        await h.clock.advance(10_000);
        assert.equal(h.local.abortedWhileWaiting, false, 'still waiting for the local model after the timeout');
        controller.abort();
        assert.equal((await answer).engine.kind, 'local');
        assert.equal(mock.requests.length, 0);
    });

    it('a provider that needs a key and has none is skipped, and the extension is told', async () => {
        const h = harness({
            reason: 'noLocalModel',
            configure: (s) => {
                s.fallback.mode = 'auto';
                s.fallback.providers = [{ id: 'openai', baseUrl: mock.baseUrl, model: 'gpt' }];
            },
        });
        await assert.rejects(h.ask(), (error: LocalAiError) => error.code === ErrorCode.NoEngineAvailable);
        assert.deepEqual(h.keyRejected, ['openai']);
        assert.equal(mock.requests.length, 0);
    });
});
