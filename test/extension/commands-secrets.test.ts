/**
 * Tokens, keys and providers as the commands set them, inside the real extension host: Set/Clear Hugging
 * Face Token and Set/Clear Cloud API Key store and remove the secret in VS Code's SecretStorage, and the
 * sidecar is seen to use it and then to stop (a fake hub with a gated file, a mock provider recording
 * the key it receives); Use a Cloud Provider writes the provider settings, and the provider answers.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ErrorCode } from '../../src/common/errors';
import { ChatChunkType, ChatRequest, DeleteModelRequest, DownloadRequest, type ChatParams } from '../../src/common/protocol';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { ModelsTreeProvider } from '../../src/extension/views/modelsTree';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { startMockProvider, type MockProvider } from '../fixtures/mockProviders/server';
import { hubWith, localAi, setSettings, untilModels } from './harness';
import { Prompts } from './prompts';

const TOKEN = 'hf_commandsTestToken0123456789';
const KEY = 'sk-commands-test-key-0123456789';
const GATED = { repo: 'local-ai-test/Gated-Commands-GGUF', path: 'Gated-Commands-Q8_0.gguf' };

describe('Commands: secrets and providers', function () {
    this.timeout(180_000);
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-secrets-'));
    let local: LocalAiTestApi;
    let restoreSettings: () => Promise<void>;
    let prompts: Prompts;
    const providers: MockProvider[] = [];
    const storage = () => local.services.context.secrets;

    /** Asks a provider through the sidecar, as the chat does when the user picked it. */
    function ask(params: Pick<ChatParams, 'provider' | 'providerModel'>): Promise<string> {
        return local.services.sidecar
            .requestWithProgress(ChatRequest.type, ChatChunkType, { messages: [{ role: 'user', content: 'hello' }], ...params }, () => undefined)
            .then((result) => result.text);
    }

    before(async () => {
        local = await localAi();
        restoreSettings = await setSettings({ modelsPath: path.join(scratch, 'models'), 'fallback.providers': [], 'fallback.mode': undefined });
    });

    after(async () => {
        await local.services.secrets.setHuggingFaceToken(undefined);
        for (const id of ['openai-compatible', 'ollama'] as const) await local.services.secrets.setProviderKey(id, undefined);
        await Promise.all(providers.map((provider) => provider.stop()));
        await restoreSettings?.();
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    beforeEach(() => (prompts = new Prompts()));
    afterEach(function () {
        prompts.dispose(this.currentTest?.state === 'passed');
    });

    it('Set Hugging Face Token stores it and a gated download goes through; Clear removes it and the hub refuses again', async () => {
        const hub = await hubWith([{ ...GATED, filePath: ensureFixtureModel(defaultFixtureDir(), tinyModel), gatedToken: TOKEN }]);
        const download = () => local.services.sidecar.request(DownloadRequest.type, { model: `hf:${GATED.repo}/${GATED.path}` });
        try {
            prompts.answer('inputBox', /^Hugging Face token$/, TOKEN);
            await vscode.commands.executeCommand('localAi.setHuggingFaceToken');
            const box = await prompts.next('inputBox', /^Hugging Face token$/);
            assert.equal(box.options.password, true, 'the token is typed in the clear');
            await prompts.next('info', /^Local AI: Hugging Face token saved\.$/);
            assert.equal(await storage().get('localAi.huggingFaceToken'), TOKEN);
            const result = await download();
            assert.equal(result.downloaded, true);
            assert.ok(
                hub.requests.some((request) => request.authorization),
                'the hub never saw the token',
            );

            await local.services.sidecar.request(DeleteModelRequest.type, { model: result.modelId });
            await vscode.commands.executeCommand('localAi.clearHuggingFaceToken');
            await prompts.next('info', /^Local AI: Hugging Face token removed\.$/);
            assert.equal(await storage().get('localAi.huggingFaceToken'), undefined);
            hub.resetCounters();
            await assert.rejects(download(), (error: Error & { code?: number }) => error.code === ErrorCode.Unauthorized);
            assert.ok(hub.requests.length > 0 && hub.requests.every((request) => !request.authorization), 'a token still went to the hub');
        } finally {
            await hub.close();
        }
    });

    it('Set Cloud API Key, picked from the palette, stores the key the provider then receives; Clear stops it', async () => {
        const provider = await startMockProvider({ provider: 'openai-compatible' });
        providers.push(provider);
        const restore = await setSettings({ 'fallback.providers': [{ id: 'openai-compatible', baseUrl: provider.baseUrl, model: 'mock-model' }] });
        try {
            prompts.answer('inputBox', /^OpenAI-compatible server API key$/, KEY);
            const setting = vscode.commands.executeCommand('localAi.setCloudApiKey');
            await prompts.pick(/^Set Cloud API Key$/, /^OpenAI-compatible server/);
            await setting;
            const box = await prompts.next('inputBox', /API key$/);
            assert.equal(box.options.password, true, 'the key is typed in the clear');
            await prompts.next('info', /^Local AI: the OpenAI-compatible server key is stored\.$/);
            assert.equal(await storage().get('localAi.apiKey.openai-compatible'), KEY);
            assert.equal(await ask({ provider: 'openai-compatible', providerModel: 'mock-model' }), 'Hello from the mock.');
            assert.equal(provider.requests.at(-1)?.apiKey, KEY);

            const clearing = vscode.commands.executeCommand('localAi.clearCloudApiKey');
            await prompts.pick(/^Clear Cloud API Key$/, /^OpenAI-compatible server/);
            await clearing;
            await prompts.next('info', /^Local AI: the OpenAI-compatible server key is removed\.$/);
            assert.equal(await storage().get('localAi.apiKey.openai-compatible'), undefined);
            const asked = provider.requests.length;
            await ask({ provider: 'openai-compatible', providerModel: 'mock-model' });
            assert.equal(provider.requests.length, asked + 1);
            // (The OpenAI SDK sends a placeholder when there is no key.)
            assert.notEqual(provider.requests.at(-1)?.apiKey, KEY, 'the cleared key still went to the provider');
        } finally {
            await restore();
        }
    });

    it('Use a Cloud Provider offers Hugging Face, which reuses the stored Hugging Face token and answers through the router', async () => {
        const router = await startMockProvider({ provider: 'huggingface', answer: ['Hello from', ' the router.'] });
        providers.push(router);
        await local.services.secrets.setHuggingFaceToken(TOKEN);
        const restore = await setSettings({ 'fallback.providers': [], 'fallback.mode': undefined });
        try {
            const adding = vscode.commands.executeCommand('localAi.useCloudProvider');
            const pick = await prompts.pick(/^Use a Cloud Provider$/, /^Hugging Face inference providers/);
            assert.ok(
                ['OpenAI', 'Anthropic', 'Google Gemini', 'Ollama'].every((name) => pick.items.includes(name)),
                `offered next to the others: ${pick.items.join(', ')}`,
            );
            const model = await prompts.accept(/^Hugging Face: model name$/);
            assert.equal(model.options.value, 'meta-llama/Llama-3.1-8B-Instruct');
            await prompts.pick(/^When may Hugging Face answer\?$/, /^Only when I pick it in the chat$/);
            await adding;
            assert.ok(
                !prompts.shown.some((shown) => shown.kind === 'inputBox' && /token|key/i.test(shown.text)),
                'a key was asked for although the Hugging Face token is stored',
            );
            const config = vscode.workspace.getConfiguration('localAi');
            // The public router is the default endpoint: nothing to type.
            assert.deepEqual(config.get('fallback.providers'), [{ id: 'huggingface', model: 'meta-llama/Llama-3.1-8B-Instruct' }]);
            // The loopback router stands in for https://router.huggingface.co/v1.
            await setSettings({ 'fallback.providers': [{ id: 'huggingface', model: 'meta-llama/Llama-3.1-8B-Instruct', baseUrl: router.baseUrl }] });
            assert.equal(await ask({ provider: 'huggingface' }), 'Hello from the router.');
            assert.equal(router.requests.at(-1)?.apiKey, TOKEN, 'the router did not receive the stored Hugging Face token');
        } finally {
            await local.services.secrets.setHuggingFaceToken(undefined);
            await restore();
        }
    });

    it('Use a Cloud Provider adds the provider with its endpoint and model, sets when it may answer, and it answers', async () => {
        const provider = await startMockProvider({ provider: 'ollama' });
        providers.push(provider);
        // With a model installed the Models tree shows its groups (with none, its welcome view speaks).
        const gguf = path.join(scratch, 'Provider-Test-F32.gguf');
        fs.copyFileSync(ensureFixtureModel(defaultFixtureDir(), tinyModel), gguf);
        const restore = await setSettings({ 'fallback.providers': [], 'fallback.mode': undefined, models: [{ source: gguf }] });
        await untilModels(local.services.models, 'the fixture installed', () => local.services.models.installed().some(({ file }) => file.path === gguf));
        const tree = new ModelsTreeProvider(local.services.models);
        try {
            prompts.answer('inputBox', /^Ollama: endpoint$/, provider.baseUrl);
            const adding = vscode.commands.executeCommand('localAi.useCloudProvider');
            await prompts.pick(/^Use a Cloud Provider$/, /^Ollama$/);
            const endpoint = await prompts.next('inputBox', /^Ollama: endpoint$/);
            assert.equal(endpoint.options.value, 'http://127.0.0.1:11434', 'the endpoint is not suggested');
            const model = await prompts.accept(/^Ollama: model name$/);
            assert.equal(model.options.value, 'llama3.2');
            await prompts.pick(/^When may Ollama answer\?$/, /^Automatically$/);
            // Ollama needs no key: the user closes the question.
            await prompts.close('info', /need an API key\?$/);
            await adding;

            const config = vscode.workspace.getConfiguration('localAi');
            assert.deepEqual(config.get('fallback.providers'), [{ id: 'ollama', model: 'llama3.2', baseUrl: provider.baseUrl }]);
            assert.equal(config.get('fallback.mode'), 'auto');
            assert.equal(await storage().get('localAi.apiKey.ollama'), undefined, 'a key was stored though none was given');
            const group = tree.getChildren().find((node) => tree.getTreeItem(node).label === 'Cloud providers');
            const rows = group ? tree.getChildren(group).map((node) => tree.getTreeItem(node)) : [];
            assert.deepEqual(
                rows.map((row) => [row.label, row.description]),
                [['ollama', 'llama3.2']],
            );
            assert.equal(await ask({ provider: 'ollama', providerModel: 'llama3.2' }), 'Hello from the mock.');
            assert.equal((provider.requests.at(-1)?.body as { model?: string } | undefined)?.model, 'llama3.2');
        } finally {
            tree.dispose();
            await restore();
        }
    });
});
