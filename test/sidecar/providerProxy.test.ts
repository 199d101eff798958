/**
 * Provider calls go through the proxy a user configured, like the hub's: VS Code's http.proxy (the
 * sidecar's `proxy` setting), else HTTPS_PROXY / HTTP_PROXY for the CLI; NO_PROXY keeps a host off it,
 * and with neither the call goes direct. Seen from a loopback proxy that records where it connected.
 */
import * as assert from 'node:assert/strict';
import type { ChatResult } from '../../src/common/chat';
import { ChatRequest, SecretsChangedNotification } from '../../src/common/protocol';
import { defaultSettings } from '../../src/common/settings';
import { runCli } from '../fixtures/cliProcess';
import { startMockProvider, type MockProvider } from '../fixtures/mockProviders/server';
import { startProxy } from '../fixtures/proxy';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';

const KEY = 'sk-proxy-5e6f7a8b9c';
/** No proxy from the environment the tests run in, unless a test sets one. */
const NO_ENV_PROXY = { HTTPS_PROXY: '', https_proxy: '', HTTP_PROXY: '', http_proxy: '', NO_PROXY: '', no_proxy: '' };
/** Both spellings: undici reads the lower-case one first, even when it is empty. */
const env = (name: 'HTTP_PROXY' | 'HTTPS_PROXY' | 'NO_PROXY', value: string) => ({ [name]: value, [name.toLowerCase()]: value });

describe('provider calls and the proxy', function () {
    this.timeout(120_000);
    let proxy: Awaited<ReturnType<typeof startProxy>>;
    let mock: MockProvider;
    let sidecar: SidecarProcess | undefined;
    const viaProxy = () => proxy.targets.filter((target) => target.endsWith(`:${new URL(mock.url).port}`) || target.startsWith(mock.url));

    beforeEach(async () => {
        proxy = await startProxy();
        mock = await startMockProvider({ provider: 'openai', answer: ['Through', ' the', ' proxy.'] });
    });
    afterEach(async () => {
        await sidecar?.stop();
        sidecar = undefined;
        await mock.stop();
        await proxy.stop();
    });

    /** A sidecar whose openai provider is the mock, asked by hand. */
    async function sidecarAnswer(proxySetting: string, env: NodeJS.ProcessEnv): Promise<ChatResult> {
        const fallback = { ...defaultSettings().fallback, providers: [{ id: 'openai' as const, baseUrl: mock.baseUrl, model: 'gpt-test' }] };
        sidecar = await startSidecar({ settings: { fallback, proxy: proxySetting }, env: { ...NO_ENV_PROXY, ...env } });
        await sidecar.connection.sendNotification(SecretsChangedNotification.method, { providerKeys: { openai: KEY } });
        return sidecar.connection.sendRequest(ChatRequest.method, {
            messages: [{ role: 'user', content: 'Hello?' }],
            provider: 'openai',
            providerModel: 'gpt-test',
        });
    }

    it("the sidecar's proxy setting (VS Code's http.proxy) carries the provider call", async () => {
        const result = await sidecarAnswer(proxy.url, {});
        assert.equal(result.text, 'Through the proxy.');
        assert.equal(viaProxy().length, 1, `proxy saw: ${proxy.targets.join(', ') || 'nothing'}`);
        assert.equal(mock.requests[0].apiKey, KEY);
    });

    it('NO_PROXY naming the host keeps it off the configured proxy', async () => {
        const result = await sidecarAnswer(proxy.url, env('NO_PROXY', '127.0.0.1'));
        assert.equal(result.text, 'Through the proxy.');
        assert.deepEqual(proxy.targets, []);
        assert.equal(mock.requests.length, 1);
    });

    it('no setting and no proxy variable: the call goes direct', async () => {
        const result = await sidecarAnswer('', {});
        assert.equal(result.text, 'Through the proxy.');
        assert.deepEqual(proxy.targets, []);
    });

    it('the CLI uses HTTP(S)_PROXY, and NO_PROXY', async () => {
        const args = ['chat', 'Hello?', '--provider', 'openai', '--base-url', mock.baseUrl, '--model', 'gpt-test'];
        const proxied = await runCli(args, { ...NO_ENV_PROXY, OPENAI_API_KEY: KEY, ...env('HTTP_PROXY', proxy.url), ...env('HTTPS_PROXY', proxy.url) }).done;
        assert.equal(proxied.code, 0, proxied.stderr);
        assert.equal(proxied.stdout, 'Through the proxy.\n');
        assert.equal(viaProxy().length, 1, `proxy saw: ${proxy.targets.join(', ') || 'nothing'}`);

        const bypassed = await runCli(args, {
            ...NO_ENV_PROXY,
            OPENAI_API_KEY: KEY,
            ...env('HTTP_PROXY', proxy.url),
            ...env('HTTPS_PROXY', proxy.url),
            ...env('NO_PROXY', '127.0.0.1'),
        }).done;
        assert.equal(bypassed.code, 0, bypassed.stderr);
        assert.equal(viaProxy().length, 1, 'the second call did not reach the proxy');
        assert.equal(mock.requests.length, 2);
    });
});
