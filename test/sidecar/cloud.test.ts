/**
 * Every provider streams through the one ChatEngine interface, using its real SDK against a loopback
 * server that speaks the provider's real wire format; failures are sorted the way the fallback chain
 * needs; cancellation closes the connection at the server; the API key never shows in a message.
 */
import * as assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { ChatChunk, ProviderId } from '../../src/common/chat';
import { ErrorCode, LocalAiError } from '../../src/common/errors';
import { PROVIDER_IDS } from '../../src/common/providers';
import { defaultSettings } from '../../src/common/settings';
import { SidecarContext } from '../../src/sidecar/context';
import { createProvider, ProviderFailure } from '../../src/sidecar/providers/index';
import { ChatRouter } from '../../src/sidecar/chat/router';
import type { ChatEngine } from '../../src/sidecar/chatEngine';
import { startMockProvider, type MockMode, type MockProvider } from '../fixtures/mockProviders/server';

const KEY = 'sk-test-9f8e7d6c5b4a';
const conversation = [
    { role: 'system' as const, content: 'Be brief.' },
    { role: 'user' as const, content: 'What does this regex match?' },
];

function engineFor(mock: MockProvider, id: ProviderId, idleTimeoutMs = 5_000) {
    return createProvider({ setting: { id, baseUrl: mock.baseUrl, model: 'the-model' }, apiKey: KEY, idleTimeoutMs });
}

async function failureOf(promise: Promise<unknown>): Promise<ProviderFailure> {
    try {
        await promise;
    } catch (error) {
        assert.ok(error instanceof ProviderFailure, `expected a ProviderFailure, got ${String(error)}`);
        return error;
    }
    assert.fail('expected the call to fail');
}

describe('cloud providers', function () {
    this.timeout(30_000);
    const mocks: MockProvider[] = [];
    const start = async (provider: ProviderId, mode?: MockMode | MockMode[], retryAfterSeconds?: number) => {
        const mock = await startMockProvider({ provider, mode, retryAfterSeconds, answer: ['The', ' regex', ' matches', ' digits.'] });
        mocks.push(mock);
        return mock;
    };
    afterEach(async () => {
        await Promise.all(mocks.splice(0).map((mock) => mock.stop()));
    });

    for (const id of PROVIDER_IDS) {
        describe(id, () => {
            it('streams an answer piece by piece, with token counts from the provider', async () => {
                const mock = await start(id);
                const chunks: ChatChunk[] = [];
                const result = await engineFor(mock, id).chat({
                    messages: conversation,
                    options: { maxTokens: 64 },
                    onChunk: (chunk) => chunks.push(chunk),
                    signal: new AbortController().signal,
                });
                assert.equal(result.text, 'The regex matches digits.');
                assert.deepEqual(
                    chunks.filter((chunk) => chunk.kind === 'text').map((chunk) => (chunk.kind === 'text' ? chunk.text : '')),
                    ['The', ' regex', ' matches', ' digits.'],
                );
                assert.deepEqual(chunks[0], { kind: 'start', engine: { kind: 'cloud', model: 'the-model', modelName: 'the-model', device: id } });
                assert.deepEqual(result.usage, { promptTokens: 7, completionTokens: 4 });
                assert.equal(result.finishReason, 'stop');
                assert.equal(mock.requests.length, 1);
                // Each API carries the key its own way; every one of them received it.
                assert.equal(mock.requests[0].apiKey, KEY);
                assert.match(JSON.stringify(mock.requests[0].body), /Be brief\./, 'the system prompt reaches the provider');
            });

            it('401: refused key, in words that do not contain it', async () => {
                const failure = await failureOf(engineFor(await start(id, 'unauthorized'), id).chat(call()));
                assert.equal(failure.kind, 'unauthorized');
                assert.equal(failure.code, ErrorCode.Unauthorized);
                assert.ok(!failure.message.includes(KEY));
            });

            it('429: rate limited, with the Retry-After the provider sent', async () => {
                const failure = await failureOf(engineFor(await start(id, 'rateLimited', 3), id).chat(call()));
                assert.equal(failure.kind, 'rateLimited');
                assert.equal(failure.retryAfterMs, 3000);
            });

            it('500: a server error whose body quoted the key; the message does not', async () => {
                const mock = await start(id, 'serverError');
                const failure = await failureOf(engineFor(mock, id).chat(call()));
                assert.equal(failure.kind, 'serverError');
                assert.ok(!failure.message.includes(KEY), failure.message);
                assert.ok(!JSON.stringify(failure).includes(KEY));
            });

            it('stall: gives up after the idle timeout and closes the connection', async () => {
                const mock = await start(id, 'stall');
                const failure = await failureOf(engineFor(mock, id, 300).chat(call()));
                assert.equal(failure.kind, 'timeout');
                await mock.whenClosedEarly();
            });

            it('malformed stream: reported as a broken answer, not a crash', async () => {
                const failure = await failureOf(engineFor(await start(id, 'malformed'), id).chat(call()));
                assert.ok(failure.kind === 'brokenStream', `${failure.kind}: ${failure.message}`);
            });

            it('cancel: the answer stops and the provider sees the connection closed', async () => {
                const mock = await start(id, 'stallAfterFirst');
                const controller = new AbortController();
                const result = await engineFor(mock, id).chat({
                    messages: conversation,
                    onChunk: (chunk) => {
                        if (chunk.kind === 'text') controller.abort();
                    },
                    signal: controller.signal,
                });
                assert.equal(result.finishReason, 'cancelled');
                assert.equal(result.text, 'The');
                await mock.whenClosedEarly();
                assert.equal(mock.closedEarly, 1);
            });

            if (id !== 'anthropic') {
                it('embeddings: one vector per input, in order', async () => {
                    const mock = await start(id);
                    const engine = engineFor(mock, id);
                    const result = await engine.embed({ input: ['a', 'bcd'] }, new AbortController().signal);
                    assert.deepEqual(
                        result.vectors.map((vector) => vector[0]),
                        [1, 3],
                    );
                    assert.equal(result.model, 'the-model');
                });
            }
        });
    }

    describe('fallback chain', () => {
        function routerFor(providers: { id: ProviderId; mock: MockProvider }[], log: string[], rejected: ProviderId[]): ChatEngine {
            const settings = defaultSettings();
            settings.fallback.mode = 'auto';
            settings.fallback.providers = providers.map(({ id, mock }) => ({ id, baseUrl: mock.baseUrl, model: `${id}-model` }));
            const context = new SidecarContext({
                log: { error: (m) => log.push(m), warn: (m) => log.push(m), info: (m) => log.push(m), debug: (m) => log.push(m) },
                settings,
                secrets: { providerKeys: Object.fromEntries(providers.map(({ id }) => [id, KEY])) },
                defaultModelsPath: '',
                statePath: '',
            });
            const local: ChatEngine = {
                chat: async () => {
                    throw new LocalAiError(ErrorCode.ModelNotInstalled, 'No model is installed.');
                },
            };
            return new ChatRouter({ context, local, client: { keyRejected: (id) => rejected.push(id) }, maxRetryAfterMs: 2_000 });
        }

        it('tries providers in order: 500 → next, 401 → key reported and next, 429 → waits Retry-After and retries', async () => {
            const openai = await start('openai', 'serverError');
            const anthropic = await start('anthropic', 'unauthorized');
            const gemini = await start('gemini', ['rateLimited'], 1);
            const log: string[] = [];
            const rejected: ProviderId[] = [];
            const router = routerFor(
                [
                    { id: 'openai', mock: openai },
                    { id: 'anthropic', mock: anthropic },
                    { id: 'gemini', mock: gemini },
                ],
                log,
                rejected,
            );
            const result = await router.chat(call());
            assert.equal(result.text, 'The regex matches digits.');
            assert.equal(result.engine.device, 'gemini');
            assert.deepEqual(result.fallback && { reason: result.fallback.reason, provider: result.fallback.provider }, {
                reason: 'noLocalModel',
                provider: 'gemini',
            });
            assert.deepEqual([openai.requests.length, anthropic.requests.length, gemini.requests.length], [1, 1, 2]);
            assert.deepEqual(rejected, ['anthropic']);
            assert.ok(log.length >= 3, 'each failure is logged');
            assert.ok(
                log.every((line) => !line.includes(KEY)),
                'no log line carries the key',
            );
        });

        it('a 429 asking for longer than the bound moves on at once', async () => {
            const slow = await start('ollama', 'rateLimited', 3600);
            const next = await start('openai-compatible');
            const router = routerFor(
                [
                    { id: 'ollama', mock: slow },
                    { id: 'openai-compatible', mock: next },
                ],
                [],
                [],
            );
            const result = await router.chat(call());
            assert.equal(result.engine.device, 'openai-compatible');
            assert.equal(slow.requests.length, 1);
        });

        it('when every provider fails, the error names each failure and never the key', async () => {
            const a = await start('openai', 'serverError');
            const b = await start('ollama', 'malformed');
            const log: string[] = [];
            const router = routerFor(
                [
                    { id: 'openai', mock: a },
                    { id: 'ollama', mock: b },
                ],
                log,
                [],
            );
            await assert.rejects(router.chat(call()), (error: LocalAiError) => {
                assert.equal(error.code, ErrorCode.ProviderError);
                assert.match(error.message, /OpenAI.*500/);
                assert.match(error.message, /Ollama/);
                assert.ok(!JSON.stringify({ message: error.message, data: error.data }).includes(KEY));
                return true;
            });
            assert.ok(log.every((line) => !line.includes(KEY)));
        });

        it('cancelling during a fallback answer reaches the provider', async () => {
            const mock = await start('anthropic', 'stallAfterFirst');
            const router = routerFor([{ id: 'anthropic', mock }], [], []);
            const controller = new AbortController();
            const result = await router.chat({
                messages: conversation,
                onChunk: (chunk) => {
                    if (chunk.kind === 'text') controller.abort();
                },
                signal: controller.signal,
            });
            assert.equal(result.finishReason, 'cancelled');
            assert.equal(result.fallback?.provider, 'anthropic');
            await mock.whenClosedEarly();
        });
    });
});

describe('local-ai chat --provider', function () {
    this.timeout(60_000);
    const cli = path.join(process.cwd(), 'dist', 'cli.mjs');
    const run = (args: string[], env: NodeJS.ProcessEnv) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
            execFile(process.execPath, [cli, 'chat', ...args], { env: { PATH: process.env.PATH, ...env } }, (error, stdout, stderr) =>
                resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
            );
        });

    it("streams a provider's answer with the key from the provider's usual variable (mock run as its own process)", async () => {
        const requestsFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-mock-')), 'requests.jsonl');
        const server = spawn(process.execPath, [
            path.join(process.cwd(), 'dist', 'test', 'fixtures', 'mockProviders', 'server.cli.mjs'),
            '--provider',
            'gemini',
            '--answer',
            'Forty two.',
            '--requests',
            requestsFile,
        ]);
        try {
            const [line] = (await once(readline.createInterface({ input: server.stdout! }), 'line')) as [string];
            const { baseUrl } = JSON.parse(line) as { baseUrl: string };
            const result = await run(['What is six times seven?', '--provider', 'gemini', '--base-url', baseUrl, '--model', 'gemini-x'], {
                GEMINI_API_KEY: KEY,
            });
            assert.equal(result.code, 0, result.stderr);
            assert.equal(result.stdout, 'Forty two.\n');
            const requests = fs
                .readFileSync(requestsFile, 'utf8')
                .trim()
                .split('\n')
                .map((entry) => JSON.parse(entry) as { apiKey?: string; path: string });
            assert.equal(requests.length, 1);
            assert.equal(requests[0].apiKey, KEY);
            assert.match(requests[0].path, /models\/gemini-x:streamGenerateContent\?alt=sse/);
        } finally {
            server.kill('SIGTERM');
            await once(server, 'exit');
        }
    });

    it('LOCAL_AI_API_KEY wins; a failure names the provider and not the key; offline sends nothing', async () => {
        const mock = await startMockProvider({ provider: 'openai-compatible', mode: 'serverError' });
        try {
            const args = ['hi', '--provider', 'openai-compatible', '--base-url', mock.baseUrl, '--model', 'team'];
            const failed = await run(args, { LOCAL_AI_API_KEY: KEY, OPENAI_API_KEY: 'sk-not-for-a-team-server' });
            assert.equal(failed.code, 5);
            assert.match(failed.stderr, /OpenAI-compatible server \(team\) failed \(HTTP 500\)/);
            assert.ok(!failed.stderr.includes(KEY) && !failed.stdout.includes(KEY));
            assert.equal(mock.requests[0].apiKey, KEY);
            const offline = await run(args, { LOCAL_AI_API_KEY: KEY, LOCAL_AI_OFFLINE: '1' });
            assert.equal(offline.code, 1);
            assert.match(offline.stderr, /Offline/);
            assert.equal(mock.requests.length, 1);
        } finally {
            await mock.stop();
        }
    });
});

function call() {
    return { messages: conversation, onChunk: () => undefined, signal: new AbortController().signal };
}
