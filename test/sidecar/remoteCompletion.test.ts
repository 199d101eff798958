/**
 * Remote completion against loopback servers that answer as OpenAI's /v1/completions, llama-server's
 * /infill and Ollama's /api/generate do: each gets the prefix and suffix in its own fields, the key only
 * where it takes one, offline mode sends nothing beyond this machine or the local network, a cancel
 * closes the connection, and failures come back typed and worded.
 */
import { strict as assert } from 'node:assert';
import type { CompletionParams } from '../../src/common/completion';
import { ErrorCode, LocalAiError } from '../../src/common/errors';
import { defaultSettings, type SidecarSecrets, type SidecarSettings } from '../../src/common/settings';
import { isLocalHost, RemoteCompletionEngine } from '../../src/sidecar/completion/remote';
import { startCompletionServer, type CompletionServerKind, type MockCompletionServer } from '../fixtures/mockProviders/completionServer';

const REQUEST: CompletionParams = {
    prefix: 'function add(a, b) {\n    ',
    suffix: '\n}\n',
    extra: [{ fileName: 'src/math.ts', text: 'export const zero = 0;' }],
    maxTokens: 24,
};

function engineFor(
    server: MockCompletionServer,
    provider: CompletionServerKind,
    overrides: Partial<SidecarSettings> = {},
    keys: SidecarSecrets['providerKeys'] = {},
) {
    const settings: SidecarSettings = {
        ...defaultSettings(),
        ...overrides,
        completion: { model: '', provider, baseUrl: server.baseUrl, remoteModel: 'mock-coder' },
    };
    return new RemoteCompletionEngine({ settings: () => settings, secrets: () => ({ providerKeys: keys }) });
}

async function rejection(promise: Promise<unknown>): Promise<LocalAiError> {
    const error = await promise.then(
        () => undefined,
        (caught: unknown) => caught,
    );
    assert.ok(error instanceof LocalAiError, `expected a LocalAiError, got ${String(error)}`);
    return error;
}

describe('remote completion', function () {
    this.timeout(60_000);
    const servers: MockCompletionServer[] = [];
    const start = async (kind: CompletionServerKind) => {
        const server = await startCompletionServer(kind);
        servers.push(server);
        return server;
    };

    afterEach(async () => {
        await Promise.all(servers.splice(0).map((server) => server.stop()));
    });

    it('asks an OpenAI-compatible server at /completions with prompt and suffix, with its key', async () => {
        const server = await start('openai-compatible');
        const result = await engineFor(server, 'openai-compatible', {}, { 'openai-compatible': 'sk-team' }).complete({
            ...REQUEST,
            signal: new AbortController().signal,
        });
        assert.equal(result.text, 'return a + b;');
        assert.deepEqual(result.engine, { kind: 'remote', model: 'mock-coder', endpoint: `${server.baseUrl}/completions` });
        assert.deepEqual([result.finishReason, result.usage.promptTokens, result.usage.completionTokens], ['stop', 11, 3]);
        const [sent] = server.requests;
        assert.equal(sent.path, '/v1/completions');
        assert.equal(sent.authorization, 'Bearer sk-team');
        assert.equal(sent.body.model, 'mock-coder');
        assert.ok(String(sent.body.prompt).endsWith(REQUEST.prefix) && String(sent.body.prompt).includes('export const zero = 0;'), String(sent.body.prompt));
        assert.deepEqual([sent.body.suffix, sent.body.max_tokens, sent.body.stream], [REQUEST.suffix, 24, false]);
    });

    it('asks llama-server at /infill with input_prefix, input_suffix, input_extra and n_predict, and no key', async () => {
        const server = await start('llama-server');
        const result = await engineFor(server, 'llama-server', {}, { 'openai-compatible': 'sk-team', ollama: 'ol-key' }).complete({
            ...REQUEST,
            signal: new AbortController().signal,
        });
        assert.equal(result.text, 'return a + b;');
        const [sent] = server.requests;
        assert.equal(sent.path, '/infill');
        assert.equal(sent.authorization, undefined);
        assert.deepEqual(
            [sent.body.input_prefix, sent.body.input_suffix, sent.body.input_extra, sent.body.n_predict, sent.body.cache_prompt],
            [REQUEST.prefix, REQUEST.suffix, [{ filename: 'src/math.ts', text: 'export const zero = 0;' }], 24, true],
        );
        assert.deepEqual([result.usage.promptTokens, result.usage.completionTokens], [11, 3]);
    });

    it('asks Ollama at /api/generate with prompt, suffix and options.num_predict, unstreamed', async () => {
        const server = await start('ollama');
        const result = await engineFor(server, 'ollama', {}, { ollama: 'ol-key' }).complete({ ...REQUEST, signal: new AbortController().signal });
        assert.equal(result.text, 'return a + b;');
        const [sent] = server.requests;
        assert.equal(sent.path, '/api/generate');
        assert.equal(sent.authorization, 'Bearer ol-key');
        assert.ok(String(sent.body.prompt).endsWith(REQUEST.prefix));
        assert.deepEqual(
            [sent.body.suffix, sent.body.stream, sent.body.raw, (sent.body.options as { num_predict: number }).num_predict],
            [REQUEST.suffix, false, false, 24],
        );
    });

    it('offline, answers from a loopback server and refuses a public address without sending a byte', async () => {
        const server = await start('llama-server');
        const local = await engineFor(server, 'llama-server', { offline: true }).complete({ ...REQUEST, signal: new AbortController().signal });
        assert.equal(local.text, 'return a + b;');
        const settings: SidecarSettings = {
            ...defaultSettings(),
            offline: true,
            completion: { model: '', provider: 'ollama', baseUrl: 'http://203.0.113.7:11434', remoteModel: 'm' },
        };
        const engine = new RemoteCompletionEngine({ settings: () => settings, secrets: () => ({ providerKeys: {} }) });
        const error = await rejection(engine.complete({ ...REQUEST, signal: new AbortController().signal }));
        assert.equal(error.code, ErrorCode.NetworkError);
        assert.match(
            error.message,
            /^Offline mode is on \(localAi\.offline\): completions go only to this machine or a private address, and 203\.0\.113\.7 is neither\.$/,
        );
        const forbidden = { ...settings, offline: false, fallback: { ...settings.fallback, forbidden: true } };
        const inWorkspace = new RemoteCompletionEngine({ settings: () => forbidden, secrets: () => ({ providerKeys: {} }) });
        assert.match(
            (await rejection(inWorkspace.complete({ ...REQUEST, signal: new AbortController().signal }))).message,
            /^This workspace forbids cloud use/,
        );
        assert.deepEqual(
            ['127.0.0.1', 'localhost', '[::1]', '10.1.2.3', '172.20.0.1', '192.168.1.20', 'fd12::1', '8.8.8.8', '172.32.0.1', 'example.com'].map(isLocalHost),
            [true, true, true, true, true, true, true, false, false, false],
        );
    });

    it('a cancel closes the connection and answers cancelled', async function () {
        // The request's own time limit is far beyond the test's: only the cancel can end it in time.
        this.timeout(20_000);
        const server = await start('openai-compatible');
        server.mode = 'stall';
        const controller = new AbortController();
        const answer = engineFor(server, 'openai-compatible').complete({ ...REQUEST, timeoutMs: 120_000, signal: controller.signal });
        await server.nextRequest();
        controller.abort();
        await server.whenClosedEarly();
        const result = await answer;
        assert.deepEqual([result.finishReason, result.text], ['cancelled', '']);
    });

    it('a refused key and a page that is not an answer come back typed and worded', async () => {
        const server = await start('ollama');
        server.mode = 'unauthorized';
        const refused = await rejection(engineFor(server, 'ollama', {}, { ollama: 'ol-key' }).complete({ ...REQUEST, signal: new AbortController().signal }));
        assert.equal(refused.code, ErrorCode.Unauthorized);
        assert.equal(refused.message, 'Ollama refused the key (HTTP 401).');
        server.mode = 'html';
        const html = await rejection(engineFor(server, 'ollama').complete({ ...REQUEST, signal: new AbortController().signal }));
        assert.equal(html.code, ErrorCode.ProviderError);
        assert.equal(html.message, 'Ollama answered with something that is not JSON');
    });
});
