/**
 * Hostile providers as a user meets them: `local-ai chat --provider …` exits 5 with a plain sentence
 * (never 0 with a half answer), cuts an endless answer at --max-tokens, and never prints the key; the
 * real sidecar answers a chat request with ProviderError and the same sentence.
 */
import * as assert from 'node:assert/strict';
import type { ChatResult, ProviderId } from '../../src/common/chat';
import { ErrorCode } from '../../src/common/errors';
import { ChatRequest, SecretsChangedNotification, SettingsChangedNotification } from '../../src/common/protocol';
import { defaultSettings } from '../../src/common/settings';
import { runCli } from '../fixtures/cliProcess';
import { BROKEN, HOSTILE_KEY, keyLeaks } from '../fixtures/mockProviders/hostile';
import { startMockProvider, type MockMode, type MockProvider } from '../fixtures/mockProviders/server';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';

/** One wire per broken stream, so every wire is seen through the CLI without running all 28 pairs. */
const CLI_CASES: { id: ProviderId; mode: MockMode }[] = [
    { id: 'openai-compatible', mode: 'noTerminator' },
    { id: 'anthropic', mode: 'cutMidJson' },
    { id: 'gemini', mode: 'html' },
    { id: 'ollama', mode: 'json' },
    { id: 'openai-compatible', mode: 'shapeless' },
    { id: 'anthropic', mode: 'hugeLine' },
    { id: 'gemini', mode: 'hugeChunk' },
];

describe('hostile providers through local-ai chat', function () {
    this.timeout(60_000);
    const mocks: MockProvider[] = [];
    const start = async (provider: ProviderId, mode: MockMode) => {
        const mock = await startMockProvider({ provider, mode, answer: ['Half', ' an', ' answer'] });
        mocks.push(mock);
        return mock;
    };
    const chat = (id: ProviderId, mock: MockProvider, ...extra: string[]) =>
        runCli(['chat', 'Hello?', '--provider', id, '--base-url', mock.baseUrl, '--model', 'm', ...extra], { LOCAL_AI_API_KEY: HOSTILE_KEY }).done;
    afterEach(async () => {
        await Promise.all(mocks.splice(0).map((mock) => mock.stop()));
    });

    for (const { id, mode } of CLI_CASES) {
        it(`${id}, ${mode}: exit 5 and what broke, never an answer`, async () => {
            const run = await chat(id, await start(id, mode));
            assert.equal(run.code, 5, run.stderr);
            assert.match(run.stderr, BROKEN.find((item) => item.mode === mode)!.says);
            assert.doesNotMatch(run.stderr, /Cannot read|TypeError|at .*\.m?js:\d+/);
        });
    }

    it('silent after the first piece: exit 5 after --timeout', async () => {
        const run = await chat('ollama', await start('ollama', 'stallAfterFirst'), '--timeout', '1');
        assert.equal(run.code, 5, run.stderr);
        assert.match(run.stderr, /Ollama \(m\) sent nothing for 1 s/);
    });

    it('endless: --max-tokens is enforced, the answer ends "length" with exit 0', async () => {
        const mock = await start('anthropic', 'endless');
        const run = await chat('anthropic', mock, '--max-tokens', '20', '--json');
        assert.equal(run.code, 0, run.stderr);
        const result = run.stdout
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line) as { kind: string; result?: ChatResult })
            .find((line) => line.kind === 'result')?.result;
        assert.equal(result?.finishReason, 'length');
        assert.equal(result?.text.length, 120);
        await mock.whenClosedEarly();
    });

    it('a key echoed in five forms is not printed', async () => {
        const run = await chat('openai-compatible', await start('openai-compatible', 'keyEcho'));
        assert.equal(run.code, 5);
        assert.match(run.stderr, /failed \(HTTP 500\)/);
        assert.deepEqual(keyLeaks(run.stderr + run.stdout), []);
    });
});

describe('hostile providers through the sidecar', function () {
    this.timeout(120_000);
    let sidecar: SidecarProcess;
    const mocks: MockProvider[] = [];
    before(async () => {
        sidecar = await startSidecar();
        await sidecar.connection.sendNotification(SecretsChangedNotification.method, { providerKeys: { anthropic: HOSTILE_KEY } });
    });
    after(async () => {
        await sidecar.stop();
    });
    afterEach(async () => {
        await Promise.all(mocks.splice(0).map((mock) => mock.stop()));
    });

    /** Points the sidecar's anthropic provider at a fresh mock, then asks it by hand (the consent). */
    async function ask(mode: MockMode): Promise<unknown> {
        const mock = await startMockProvider({ provider: 'anthropic', mode, answer: ['Half', ' an', ' answer'] });
        mocks.push(mock);
        const settings = defaultSettings();
        settings.fallback.providers = [{ id: 'anthropic', baseUrl: mock.baseUrl, model: 'claude-test' }];
        await sidecar.connection.sendNotification(SettingsChangedNotification.method, settings);
        try {
            await sidecar.connection.sendRequest(ChatRequest.method, {
                messages: [{ role: 'user', content: 'Hello?' }],
                provider: 'anthropic',
                providerModel: 'claude-test',
            });
        } catch (error) {
            return error;
        }
        assert.fail('expected the chat request to fail');
    }

    for (const mode of ['noTerminator', 'shapeless', 'hugeLine', 'keyEcho'] as const) {
        it(`${mode}: ProviderError with what broke, never the key`, async () => {
            const error = (await ask(mode)) as { code: number; message: string; data?: unknown };
            assert.equal(error.code, ErrorCode.ProviderError, error.message);
            const says = BROKEN.find((item) => item.mode === mode)?.says ?? /failed \(HTTP 500\)/;
            assert.match(error.message, says);
            assert.deepEqual(keyLeaks(JSON.stringify({ message: error.message, data: error.data })), []);
            assert.deepEqual(keyLeaks(sidecar.logs.join('\n')), [], 'the key is not logged either');
        });
    }
});
