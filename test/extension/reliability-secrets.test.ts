/**
 * Reliability, inside the real extension host: a Hugging Face token and a provider key, set through
 * the extension's SecretStore, are used (a loopback hub and a loopback provider record the
 * Authorization headers) but never written down: with `localAi.trace.server: verbose` the whole
 * protocol is traced, and the Local AI log, the settings files and the error messages are scanned
 * for both values.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ChatChunkType, ChatRequest, DownloadProgressType, DownloadRequest, SidecarInfoRequest } from '../../src/common/protocol';
import type { LocalAiTestApi } from '../../src/extension/extension';

const EXTENSION_ID = 'local-ai.local-ai';
const TOKEN = 'hf_reliabilitySecretToken0123456789';
const KEY = 'sk-reliability-secret-key-9876543210';

async function api(): Promise<LocalAiTestApi> {
    const extension = vscode.extensions.getExtension<LocalAiTestApi>(EXTENSION_ID);
    assert.ok(extension, 'Local AI is not installed in this extension host');
    return extension.activate();
}

/** A loopback server that refuses everything with 401 and records each Authorization header. */
async function refusingServer(): Promise<{ url: string; authorizations: string[]; close(): Promise<void> }> {
    const authorizations: string[] = [];
    const server = http.createServer((req, res) => {
        authorizations.push(String(req.headers.authorization ?? req.headers['x-api-key'] ?? ''));
        req.resume();
        res.writeHead(401, { 'content-type': 'application/json' }).end(
            JSON.stringify({ error: { message: 'Invalid credentials', type: 'invalid_request_error' } }),
        );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
        url: `http://127.0.0.1:${port}`,
        authorizations,
        close: () =>
            new Promise((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

/** Every file under `folder` whose name matches, recursively. */
function filesUnder(folder: string, name: RegExp): string[] {
    if (!fs.existsSync(folder)) return [];
    return fs
        .readdirSync(folder, { recursive: true, encoding: 'utf8' })
        .filter((file) => name.test(path.basename(file)))
        .map((file) => path.join(folder, file))
        .filter((file) => fs.statSync(file).isFile());
}

describe('reliability: secrets never leave the SecretStore', function () {
    this.timeout(180_000);
    const config = () => vscode.workspace.getConfiguration('localAi');
    let local: LocalAiTestApi;
    let hub: Awaited<ReturnType<typeof refusingServer>>;
    let provider: Awaited<ReturnType<typeof refusingServer>>;

    before(async () => {
        local = await api();
        hub = await refusingServer();
        provider = await refusingServer();
        await config().update('trace.server', 'verbose', vscode.ConfigurationTarget.Global);
        await config().update('hubEndpoint', hub.url, vscode.ConfigurationTarget.Global);
        await config().update(
            'fallback.providers',
            [{ id: 'openai-compatible', baseUrl: `${provider.url}/v1`, model: 'reliability-model' }],
            vscode.ConfigurationTarget.Global,
        );
        await local.services.secrets.setHuggingFaceToken(TOKEN);
        await local.services.secrets.setProviderKey('openai-compatible', KEY);
        // A fresh process: its initialize request (traced verbosely) carries the secrets.
        await local.services.sidecar.restart();
        await local.services.sidecar.request0(SidecarInfoRequest.type);
    });

    after(async () => {
        await local.services.secrets.setHuggingFaceToken(undefined);
        await local.services.secrets.setProviderKey('openai-compatible', undefined);
        for (const key of ['trace.server', 'hubEndpoint', 'fallback.providers']) await config().update(key, undefined, vscode.ConfigurationTarget.Global);
        await hub?.close();
        await provider?.close();
    });

    it('uses the token and the key, then finds neither in the log, the settings or the errors', async () => {
        const errors: string[] = [];
        // Never cancelled; it stands for the token the chat and models views pass.
        const cancel = new vscode.CancellationTokenSource();
        const capture = (error: unknown) => {
            errors.push(error instanceof Error ? `${error.message} ${JSON.stringify((error as { data?: unknown }).data ?? {})}` : String(error));
        };

        await local.services.sidecar
            .requestWithProgress(
                DownloadRequest.type,
                DownloadProgressType,
                { model: 'hf:reliability/gated-GGUF/gated-Q4_K_M.gguf' },
                () => undefined,
                cancel.token,
            )
            .then(() => assert.fail('the refusing hub let the download through'), capture);
        await local.services.sidecar
            .requestWithProgress(
                ChatRequest.type,
                ChatChunkType,
                {
                    messages: [{ role: 'user', content: 'hello' }],
                    provider: 'openai-compatible',
                    providerModel: 'reliability-model',
                },
                () => undefined,
                cancel.token,
            )
            .then(() => assert.fail('the refusing provider answered'), capture);

        assert.ok(
            hub.authorizations.some((value) => value.includes(TOKEN)),
            `the hub never saw the token (saw ${hub.authorizations.length} requests; errors: ${errors.join(' | ')})`,
        );
        assert.ok(
            provider.authorizations.some((value) => value.includes(KEY)),
            `the provider never saw the key (saw ${provider.authorizations.length} requests)`,
        );
        assert.equal(errors.length, 2);

        const logs = filesUnder(path.dirname(local.services.context.logUri.fsPath), /Local AI\.log$/);
        assert.ok(logs.length > 0, `no Local AI log under ${path.dirname(local.services.context.logUri.fsPath)}`);
        const logText = logs.map((file) => fs.readFileSync(file, 'utf8')).join('\n');
        assert.match(logText, /localAi\/models\/download/, 'the protocol trace is not in the log, so the scan proves nothing');

        const agentFolder = process.env.VSCODE_AGENT_FOLDER;
        const settingsFiles = [
            ...(agentFolder ? filesUnder(path.join(agentFolder, 'data'), /^settings\.json$/) : []),
            ...(vscode.workspace.workspaceFolders ?? [])
                .map((folder) => path.join(folder.uri.fsPath, '.vscode', 'settings.json'))
                .filter((file) => fs.existsSync(file)),
        ];
        assert.ok(settingsFiles.length > 0, 'no settings file found to scan');

        const places: [string, string][] = [
            ['the Local AI log', logText],
            ...settingsFiles.map((file): [string, string] => [file, fs.readFileSync(file, 'utf8')]),
            ...errors.map((text, index): [string, string] => [`error message ${index + 1}`, text]),
        ];
        for (const [where, text] of places) {
            for (const [what, secret] of [
                ['the Hugging Face token', TOKEN],
                ['the provider key', KEY],
            ]) {
                assert.ok(!text.includes(secret), `${what} appears in ${where}`);
            }
        }
    });

    it('sends a key stored just before a request with that request', async () => {
        // As a user who sets a key and asks at once: SecretStorage's own change event may come later.
        const cancel = new vscode.CancellationTokenSource();
        for (let attempt = 0; attempt < 10; attempt++) {
            const key = `${KEY}-${attempt}`;
            await local.services.secrets.setProviderKey('openai-compatible', key);
            await local.services.sidecar
                .requestWithProgress(
                    ChatRequest.type,
                    ChatChunkType,
                    {
                        messages: [{ role: 'user', content: 'hello' }],
                        provider: 'openai-compatible',
                        providerModel: 'reliability-model',
                    },
                    () => undefined,
                    cancel.token,
                )
                .then(
                    () => assert.fail('the refusing provider answered'),
                    () => undefined,
                );
            assert.match(provider.authorizations.at(-1) ?? '', new RegExp(`${key}$`), `attempt ${attempt}: the request went with another key`);
        }
    });
});
