/**
 * The local server inside the REAL sidecar, as the editor runs it: it follows `settings.server` and the
 * `serverToken` secret, reports its state (request and notification), lets a second window know that
 * Local AI holds the port, refuses a model that does not fit with the typed error, and serves another
 * sidecar that uses it as its `openai-compatible` provider (a team or remote GPU host).
 */
import * as assert from 'node:assert/strict';
import { linkSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import OpenAI from 'openai';
import type { ChatResult } from '../../src/common/chat';
import { ChatRequest, SecretsChangedNotification, SettingsChangedNotification } from '../../src/common/protocol';
import { ServerStateNotification, ServerStateRequest, type ServerState } from '../../src/common/serverProtocol';
import { defaultSettings, type SidecarSecrets, type SidecarSettings } from '../../src/common/settings';
import { waitFor } from '../fixtures/cliProcess';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';
import { freePort } from '../fixtures/ports';

const TOKEN = 'sidecar-token-83d1c7e2';

describe('local server in the sidecar', function () {
    this.timeout(180_000);
    const modelPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    // Trained on 64 M tokens: the context the settings ask for below cannot fit in memory (the tiny model's 4096 can).
    const wideModel = ensureFixtureModel(defaultFixtureDir(), { ...tinyModel, name: 'tiny-wide', contextLength: 1 << 26 });
    let port: number;
    let serving: SidecarProcess;
    const states: ServerState[] = [];
    let settings: SidecarSettings;
    let secrets: SidecarSecrets;
    /** Nothing of this machine's Hugging Face cache is listed. */
    const hermetic = { HF_HUB_CACHE: mkdtempSync(path.join(tmpdir(), 'local-ai-hf-')) };

    before(async () => {
        port = await freePort();
        settings = {
            ...defaultSettings(),
            threads: 1,
            gpu: 'off',
            contextSize: 1 << 26,
            server: { enabled: false, port, host: '127.0.0.1', allowedOrigins: [] },
        };
        secrets = { providerKeys: {}, serverToken: TOKEN };
        serving = await startSidecar({ settings, secrets, env: hermetic });
        serving.connection.onNotification(ServerStateNotification.method, (state: ServerState) => states.push(state));
        await enable(true);
    });
    after(async () => {
        await serving?.stop();
    });

    const client = () => new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const state = () => serving.connection.sendRequest(ServerStateRequest.method) as Promise<ServerState>;

    /** Turns the server on or off as the setting does, and waits for the state that follows. */
    async function enable(enabled: boolean): Promise<void> {
        const before = states.length;
        settings = { ...settings, server: { ...settings.server, enabled } };
        await serving.connection.sendNotification(SettingsChangedNotification.method, settings);
        await waitFor(() => states.slice(before).some((each) => each.running === enabled));
    }

    it('starts and stops with the setting, and reports where it listens', async () => {
        assert.deepEqual({ ...(await state()), requests: 0 }, { running: true, address: `http://127.0.0.1:${port}/v1`, requests: 0 });
        await enable(false);
        assert.equal((await state()).running, false);
        await assert.rejects(fetch(`http://127.0.0.1:${port}/v1/models`), /fetch failed/);
        await enable(true);
        // Listening again, with nothing installed in this sidecar's models folder.
        const ids = [];
        for await (const model of client().models.list()) ids.push(model.id);
        assert.deepEqual(ids, []);
    });

    it('counts the requests it answered, in at most one notification a second', async () => {
        const before = (await state()).requests;
        const notified = states.length;
        const started = performance.now();
        await Promise.all(Array.from({ length: 10 }, () => client().models.list()));
        await waitFor(() => states.at(-1)!.requests >= before + 10);
        const elapsedMs = performance.now() - started;
        assert.equal((await state()).requests, before + 10);
        const sent = states.length - notified;
        assert.ok(sent <= Math.floor(elapsedMs / 1000) + 1, `${sent} notifications in ${Math.round(elapsedMs)} ms`);
    });

    it('says why it does not listen without a token, and listens once it has one', async () => {
        await serving.connection.sendNotification(SecretsChangedNotification.method, { ...secrets, serverToken: undefined });
        await waitFor(() => states.at(-1)!.problem?.kind === 'noToken');
        assert.equal((await state()).running, false);
        await serving.connection.sendNotification(SecretsChangedNotification.method, secrets);
        await waitFor(() => states.at(-1)!.running);
    });

    it('tells a second window that Local AI already serves on the port', async () => {
        const second = await startSidecar({ settings: { ...settings, server: { ...settings.server, enabled: true } }, secrets, env: hermetic });
        try {
            let seen: ServerState | undefined;
            second.connection.onNotification(ServerStateNotification.method, (each: ServerState) => (seen = each));
            await waitFor(() => seen !== undefined);
            const own = (await second.connection.sendRequest(ServerStateRequest.method)) as ServerState;
            assert.equal(own.running, false);
            assert.equal(own.problem?.kind, 'portTakenByLocalAi', own.problem?.message);
            assert.equal(own.address, `http://127.0.0.1:${port}/v1`);
        } finally {
            await second.stop();
        }
    });

    it('refuses a model that does not fit with the typed error, never forcing it', async () => {
        // A path of its own, so the request loads it rather than reusing a loaded model.
        const wide = path.join(mkdtempSync(path.join(tmpdir(), 'local-ai-wide-')), 'wide.gguf');
        linkSync(wideModel, wide);
        await assert.rejects(
            client().chat.completions.create({ model: wide, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 }),
            (error: unknown) => error instanceof OpenAI.UnprocessableEntityError && error.code === 'model_does_not_fit' && /free/.test(error.message),
        );
    });

    it('answers another sidecar that uses it as its openai-compatible provider', async () => {
        const remote = await startSidecar({
            settings: {
                threads: 1,
                gpu: 'off',
                fallback: { ...settings.fallback, providers: [{ id: 'openai-compatible', baseUrl: `http://127.0.0.1:${port}/v1`, model: modelPath }] },
            },
            secrets: { providerKeys: { 'openai-compatible': TOKEN } },
            env: hermetic,
        });
        try {
            const messages = [{ role: 'user' as const, content: 'Hello from the other machine.' }];
            const result = (await remote.connection.sendRequest(ChatRequest.method, {
                messages,
                provider: 'openai-compatible',
                options: { maxTokens: 6, seed: 9, temperature: 0 },
            })) as ChatResult;
            const direct = await client().chat.completions.create({ model: modelPath, messages, max_tokens: 6, seed: 9, temperature: 0 });
            assert.equal(result.engine.kind, 'cloud');
            assert.equal(result.text, direct.choices[0].message.content);
            assert.equal(result.usage.completionTokens, 6);
        } finally {
            await remote.stop();
        }
    });
});
