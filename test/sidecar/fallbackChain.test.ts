/**
 * The fallback chain as shipped: the real sidecar process with its default router (no option
 * overridden), no local model, mode `auto`, and loopback providers speaking their real wire formats.
 * A 429 whose Retry-After is within the default 10 s cap is waited for and the same provider asked
 * once more; a longer one moves on to the next provider at once. An OPENAI_API_KEY in the
 * environment (meant for api.openai.com) never reaches an OpenAI-compatible server, from the sidecar
 * or from `local-ai chat`.
 */
import * as assert from 'node:assert/strict';
import type { ChatResult } from '../../src/common/chat';
import { ChatRequest } from '../../src/common/protocol';
import { defaultSettings } from '../../src/common/settings';
import { runCli } from '../fixtures/cliProcess';
import { startMockProvider, type MockMode, type MockProvider } from '../fixtures/mockProviders/server';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';

/** What a user exported for api.openai.com. */
const ENV_KEY = 'sk-env-for-api-openai-com-5e4d3c2b1a';

describe('the fallback chain with its defaults, through the real sidecar', function () {
    this.timeout(120_000);
    let sidecar: SidecarProcess | undefined;
    const mocks: MockProvider[] = [];
    /** When each mock received each request (performance.now()), by mock. */
    const arrivals = new Map<MockProvider, number[]>();

    afterEach(async () => {
        await sidecar?.stop();
        sidecar = undefined;
        await Promise.all(mocks.splice(0).map((mock) => mock.stop()));
        arrivals.clear();
    });

    async function mock(provider: 'openai-compatible' | 'ollama', mode: MockMode | MockMode[], retryAfterSeconds?: number): Promise<MockProvider> {
        const times: number[] = [];
        const started = await startMockProvider({
            provider,
            mode,
            retryAfterSeconds,
            answer: [`Answered by ${provider}.`],
            onRequest: () => times.push(performance.now()),
        });
        arrivals.set(started, times);
        mocks.push(started);
        return started;
    }

    /** A sidecar whose only way to answer is the providers, in this order, tried without asking. */
    async function startWith(providers: { id: 'openai-compatible' | 'ollama'; mock: MockProvider }[], env: NodeJS.ProcessEnv = {}): Promise<SidecarProcess> {
        const fallback = {
            ...defaultSettings().fallback,
            mode: 'auto' as const,
            providers: providers.map(({ id, mock }) => ({ id, baseUrl: mock.baseUrl, model: `${id}-model` })),
        };
        sidecar = await startSidecar({ settings: { fallback }, env });
        return sidecar;
    }

    const ask = (process: SidecarProcess) =>
        process.connection.sendRequest(ChatRequest.method, { messages: [{ role: 'user', content: 'Hello?' }] }) as Promise<ChatResult>;

    it('a 429 with Retry-After 1 s is waited for, then the same provider answers', async () => {
        const limited = await mock('openai-compatible', ['rateLimited', 'ok'], 1);
        const next = await mock('ollama', 'ok');
        const result = await ask(
            await startWith([
                { id: 'openai-compatible', mock: limited },
                { id: 'ollama', mock: next },
            ]),
        );
        assert.equal(result.text, 'Answered by openai-compatible.');
        assert.equal(result.engine.device, 'openai-compatible');
        assert.equal(limited.requests.length, 2, 'the rate-limited provider was not asked again');
        assert.equal(next.requests.length, 0, 'the chain moved on instead of waiting');
        const [first, second] = arrivals.get(limited)!;
        assert.ok(second - first >= 990, `asked again after ${Math.round(second - first)} ms, before the Retry-After of 1 s`);
    });

    it('a 429 with Retry-After 11 s (over the 10 s cap) moves on to the next provider at once', async () => {
        const limited = await mock('openai-compatible', ['rateLimited', 'ok'], 11);
        const next = await mock('ollama', 'ok');
        const result = await ask(
            await startWith([
                { id: 'openai-compatible', mock: limited },
                { id: 'ollama', mock: next },
            ]),
        );
        assert.equal(result.text, 'Answered by ollama.');
        assert.equal(result.engine.device, 'ollama');
        assert.equal(limited.requests.length, 1, 'the rate-limited provider was asked again');
        const waited = arrivals.get(next)![0] - arrivals.get(limited)![0];
        assert.ok(waited < 10_000, `the next provider was asked only ${Math.round(waited)} ms later`);
    });

    it("OPENAI_API_KEY in the sidecar's environment is not sent to an OpenAI-compatible server without a key", async () => {
        const server = await mock('openai-compatible', 'ok');
        const result = await ask(await startWith([{ id: 'openai-compatible', mock: server }], { OPENAI_API_KEY: ENV_KEY }));
        assert.equal(result.text, 'Answered by openai-compatible.', 'the server was not asked, so the test proves nothing');
        assert.equal(server.requests.length, 1);
        assert.ok(!JSON.stringify(server.requests[0].headers).includes(ENV_KEY), `the server received the key: ${server.requests[0].headers.authorization}`);
    });

    it('nor does `local-ai chat --provider openai-compatible` send it', async () => {
        const server = await mock('openai-compatible', 'ok');
        const run = await runCli(['chat', 'Hello?', '--provider', 'openai-compatible', '--base-url', server.baseUrl, '--model', 'team'], {
            OPENAI_API_KEY: ENV_KEY,
            LOCAL_AI_API_KEY: '',
        }).done;
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.stdout, 'Answered by openai-compatible.\n');
        assert.equal(server.requests.length, 1);
        assert.ok(!JSON.stringify(server.requests[0].headers).includes(ENV_KEY), `the server received the key: ${server.requests[0].headers.authorization}`);
    });
});
