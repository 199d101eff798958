/**
 * Cloud fallback through the real sidecar process and its protocol: with no local model installed,
 * `ask` sends FallbackConfirmRequest to the client before anything leaves the machine, then streams
 * the provider's answer on the partialResultToken with the fallback facts and announces it with
 * FallbackUsedNotification; a refused key comes back as ProviderKeyRejectedNotification; `off`
 * sends nothing.
 */
import * as assert from 'node:assert/strict';
import type { ChatChunk, ChatResult, FallbackInfo, ProviderId } from '../../src/common/chat';
import { ErrorCode } from '../../src/common/errors';
import {
    ChatChunkType,
    ChatRequest,
    FallbackConfirmRequest,
    FallbackUsedNotification,
    ProviderKeyRejectedNotification,
    SecretsChangedNotification,
    type FallbackConfirmParams,
} from '../../src/common/protocol';
import { defaultSettings, type SidecarSettings } from '../../src/common/settings';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';
import { startMockProvider, type MockMode, type MockProvider } from '../fixtures/mockProviders/server';

const KEY = 'sk-proto-0a1b2c3d4e';

describe('cloud fallback through the sidecar protocol', function () {
    this.timeout(120_000);
    let sidecar: SidecarProcess | undefined;
    let mock: MockProvider | undefined;

    afterEach(async () => {
        await sidecar?.stop();
        await mock?.stop();
        sidecar = mock = undefined;
    });

    async function start(mode: SidecarSettings['fallback']['mode'], providerMode: MockMode = 'ok') {
        mock = await startMockProvider({ provider: 'openai', mode: providerMode, answer: ['Sent', ' with', ' consent.'] });
        const fallback = { ...defaultSettings().fallback, mode, providers: [{ id: 'openai' as const, baseUrl: mock.baseUrl, model: 'gpt-test' }] };
        sidecar = await startSidecar({ settings: { fallback } });
        const seen = { confirmations: [] as FallbackConfirmParams[], used: [] as FallbackInfo[], rejected: [] as ProviderId[] };
        sidecar.connection.onRequest(FallbackConfirmRequest.method, (params: FallbackConfirmParams) => {
            seen.confirmations.push(params);
            return { allow: true };
        });
        sidecar.connection.onNotification(FallbackUsedNotification.method, (info: FallbackInfo) => seen.used.push(info));
        sidecar.connection.onNotification(ProviderKeyRejectedNotification.method, ({ provider }: { provider: ProviderId }) => seen.rejected.push(provider));
        await sidecar.connection.sendNotification(SecretsChangedNotification.method, { providerKeys: { openai: KEY } });
        return seen;
    }

    async function chat(): Promise<{ result: ChatResult; chunks: ChatChunk[] }> {
        const chunks: ChatChunk[] = [];
        const token = `chat-${Math.random()}`;
        const subscription = sidecar!.connection.onProgress(ChatChunkType, token, (chunk) => chunks.push(chunk));
        try {
            const result = await sidecar!.connection.sendRequest(ChatRequest.method, {
                messages: [{ role: 'user', content: 'Hello?' }],
                partialResultToken: token,
            });
            return { result: result as ChatResult, chunks };
        } finally {
            subscription.dispose();
        }
    }

    it('ask: the client is asked why and which provider, then the answer streams from it', async () => {
        const seen = await start('ask');
        const { result, chunks } = await chat();
        assert.equal(seen.confirmations.length, 1);
        assert.equal(seen.confirmations[0].reason, 'noLocalModel');
        assert.equal(seen.confirmations[0].provider, 'openai');
        assert.equal(seen.confirmations[0].providerModel, 'gpt-test');
        assert.equal(result.text, 'Sent with consent.');
        assert.equal(result.engine.kind, 'cloud');
        assert.equal(result.fallback?.reason, 'noLocalModel');
        const first = chunks[0];
        assert.equal(first.kind === 'start' && first.fallback?.provider, 'openai');
        // The provider's pieces, in order and whole. The first goes a turn of the event loop later (textBatcher.ts:
        // never from inside a token callback), so pieces that arrive in the same read go out as one.
        const texts = chunks.slice(1).map((chunk) => (chunk.kind === 'text' ? chunk.text : ''));
        assert.ok(texts[0].startsWith('Sent') && texts.every((text) => text.length > 0), JSON.stringify(texts));
        assert.equal(texts.join(''), 'Sent with consent.');
        assert.deepEqual(
            seen.used.map((info) => info.provider),
            ['openai'],
        );
        assert.equal(mock!.requests[0].apiKey, KEY);
        assert.ok(
            sidecar!.logs.every((line) => !line.includes(KEY)),
            'the key is never logged',
        );
    });

    it('off: the local error comes back and the provider receives nothing', async () => {
        const seen = await start('off');
        await assert.rejects(chat(), (error: { code: number }) => error.code === ErrorCode.ModelNotFound || error.code === ErrorCode.ModelNotInstalled);
        assert.equal(seen.confirmations.length, 0);
        assert.equal(mock!.requests.length, 0);
    });

    it('a provider picked by hand is used with mode off, with the key from the secrets', async () => {
        const seen = await start('off');
        const chunks: ChatChunk[] = [];
        const token = 'picked';
        const subscription = sidecar!.connection.onProgress(ChatChunkType, token, (chunk) => chunks.push(chunk));
        const result = (await sidecar!.connection.sendRequest(ChatRequest.method, {
            messages: [{ role: 'user', content: 'Hello?' }],
            provider: 'openai',
            providerModel: 'gpt-picked',
            partialResultToken: token,
        })) as ChatResult;
        subscription.dispose();
        assert.equal(result.text, 'Sent with consent.');
        assert.equal(result.fallback, undefined);
        assert.equal(seen.confirmations.length, 0, 'picking the model was the consent');
        assert.equal((mock!.requests[0].body as { model: string }).model, 'gpt-picked');
        assert.equal(mock!.requests[0].apiKey, KEY);
    });

    it('a refused key is reported to the client, and the error says what to do', async () => {
        const seen = await start('auto', 'unauthorized');
        await assert.rejects(chat(), (error: { code: number; message: string }) => {
            assert.equal(error.code, ErrorCode.Unauthorized);
            assert.ok(!error.message.includes(KEY));
            return true;
        });
        assert.deepEqual(seen.rejected, ['openai']);
        assert.ok(sidecar!.logs.every((line) => !line.includes(KEY)));
    });
});
