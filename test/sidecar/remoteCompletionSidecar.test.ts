/**
 * Remote completion through the REAL sidecar over JSON-RPC: with localAi.completion.provider set to a
 * server, the editor's completion request goes there (no local model is asked or needed), the status says
 * 'remote', and switching back to local is reported.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CompleteRequest, CompletionStatusNotification, CompletionStatusRequest, type CompletionStatus } from '../../src/common/completion';
import { SettingsChangedNotification } from '../../src/common/protocol';
import { defaultSettings } from '../../src/common/settings';
import { startCompletionServer, type MockCompletionServer } from '../fixtures/mockProviders/completionServer';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';

describe('remote completion through the sidecar', function () {
    this.timeout(300_000);
    let server: MockCompletionServer;
    let sidecar: SidecarProcess;
    let root: string;

    before(async () => {
        server = await startCompletionServer('llama-server', 'return a * b;');
        root = mkdtempSync(path.join(tmpdir(), 'local-ai-remote-completion-'));
        // An empty store and offline: only the configured loopback server can answer.
        sidecar = await startSidecar({
            modelsPath: root,
            settings: { gpu: 'off', offline: true, completion: { model: '', provider: 'llama-server', baseUrl: server.baseUrl, remoteModel: '' } },
        });
    });

    after(async () => {
        await sidecar?.stop();
        await server?.stop();
        rmSync(root, { recursive: true, force: true });
    });

    it('answers from the configured llama-server, and the status says remote', async () => {
        const status = await sidecar.connection.sendRequest(CompletionStatusRequest.type);
        assert.equal(status.state, 'remote', status.message);
        assert.ok(status.message.includes(server.baseUrl), status.message);
        const result = await sidecar.connection.sendRequest(CompleteRequest.type, { prefix: 'function mul(a, b) {\n    ', suffix: '\n}\n', maxTokens: 16 });
        assert.equal(result.text, 'return a * b;');
        assert.equal(result.engine.kind, 'remote');
        assert.equal(result.engine.endpoint, `${server.baseUrl}/infill`);
        assert.equal(server.requests.at(-1)?.body.input_prefix, 'function mul(a, b) {\n    ');
    });

    it('reports the switch back to the local model', async () => {
        const changed = new Promise<CompletionStatus>((resolve) => {
            const listener = sidecar.connection.onNotification(CompletionStatusNotification.type, (status) => {
                listener.dispose();
                resolve(status);
            });
        });
        await sidecar.connection.sendNotification(SettingsChangedNotification.method, { ...defaultSettings(), gpu: 'off', offline: true });
        const status = await changed;
        assert.notEqual(status.state, 'remote', status.message);
    });
});
