/**
 * The Hugging Face preset of "Use a Cloud Provider…" (issue 14, item 5), through the real sidecar: it
 * answers through Hugging Face's OpenAI-compatible inference router (a loopback stand-in here) with
 * the Hugging Face token the user already stored for downloads, and comes after a local server such as
 * Ollama in the fallback chain the product was specified with; without a token the message says what
 * to do.
 */
import * as assert from 'node:assert/strict';
import type { ChatResult } from '../../src/common/chat';
import { ChatRequest } from '../../src/common/protocol';
import { PROVIDERS } from '../../src/common/providers';
import { defaultSettings, type ProviderSetting, type SidecarSecrets } from '../../src/common/settings';
import { startMockProvider, type MockProvider } from '../fixtures/mockProviders/server';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';

const HF_TOKEN = 'hf_router7c6b5a4f3e2d1';
const MODEL = PROVIDERS.huggingface.suggestedModel;

describe('the Hugging Face preset: the inference router with the stored token', function () {
    this.timeout(120_000);
    let sidecar: SidecarProcess | undefined;
    const mocks: MockProvider[] = [];

    afterEach(async () => {
        await sidecar?.stop();
        sidecar = undefined;
        await Promise.all(mocks.splice(0).map((mock) => mock.stop()));
    });

    async function router(): Promise<MockProvider> {
        const mock = await startMockProvider({ provider: 'huggingface', answer: ['Answered', ' by', ' the', ' router.'] });
        mocks.push(mock);
        return mock;
    }

    /** A sidecar with no local model, whose only way to answer is these providers, tried in order without asking. */
    async function startWith(providers: ProviderSetting[], secrets: SidecarSecrets): Promise<SidecarProcess> {
        sidecar = await startSidecar({ settings: { fallback: { ...defaultSettings().fallback, mode: 'auto', providers } }, secrets });
        return sidecar;
    }

    const ask = (process: SidecarProcess) =>
        process.connection.sendRequest(ChatRequest.method, { messages: [{ role: 'user', content: 'Hello?' }] }) as Promise<ChatResult>;

    it('is the router, OpenAI-compatible, keyed by the Hugging Face token', () => {
        assert.equal(PROVIDERS.huggingface.defaultBaseUrl, 'https://router.huggingface.co/v1');
        assert.equal(PROVIDERS.huggingface.keyIsHuggingFaceToken, true);
    });

    it('answers with the Hugging Face token already stored, no API key of its own', async () => {
        const hub = await router();
        const process = await startWith([{ id: 'huggingface', baseUrl: hub.baseUrl, model: MODEL }], { huggingFaceToken: HF_TOKEN, providerKeys: {} });
        const result = await ask(process);
        assert.equal(result.text, 'Answered by the router.');
        assert.equal(result.engine.device, 'huggingface');
        assert.equal(hub.requests.length, 1);
        const [request] = hub.requests;
        assert.equal(request.path, '/v1/chat/completions');
        assert.equal(request.apiKey, HF_TOKEN, 'the router receives the stored Hugging Face token as its bearer key');
        assert.equal((request.body as { model?: string }).model, MODEL);
    });

    it('comes after a local Ollama server that is down, as specified: Ollama, then Hugging Face', async () => {
        const ollama = await startMockProvider({ provider: 'ollama' });
        // Stopped: nothing listens on its port any more, as when Ollama is not running.
        await ollama.stop();
        const hub = await router();
        const process = await startWith(
            [
                { id: 'ollama', baseUrl: ollama.baseUrl, model: 'llama3.2' },
                { id: 'huggingface', baseUrl: hub.baseUrl, model: MODEL },
            ],
            { huggingFaceToken: HF_TOKEN, providerKeys: {} },
        );
        const result = await ask(process);
        assert.equal(result.engine.device, 'huggingface');
        assert.equal(result.fallback?.provider, 'huggingface');
        assert.equal(hub.requests.length, 1);
    });

    it('without a Hugging Face token, the router is never called and the message says how to set one', async () => {
        const hub = await router();
        const process = await startWith([{ id: 'huggingface', baseUrl: hub.baseUrl, model: MODEL }], { providerKeys: {} });
        await assert.rejects(ask(process), (error: Error) => {
            assert.match(error.message, /no configured provider has an API key/);
            return true;
        });
        assert.equal(hub.requests.length, 0);
        assert.ok(
            process.logs.some((line) => /Hugging Face is configured for fallback but has no API key/.test(line)),
            process.logs.join('\n'),
        );
    });
});
