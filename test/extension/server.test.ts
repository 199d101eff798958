/**
 * The local OpenAI-compatible server as the editor runs it, inside the real extension host with the real
 * sidecar: Start Local Server makes the sidecar listen (a request with the token answers, one without is
 * refused), Stop Local Server closes the port; the token, created once in SecretStorage, outlives a sidecar
 * restart; Copy Server Address and Token puts both on the clipboard without showing the token; the status
 * bar's tooltip counts the requests; and an address beyond loopback applies only once the user agreed.
 */
import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import * as vscode from 'vscode';
import type { ServerState } from '../../src/common/serverProtocol';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { StatusBar } from '../../src/extension/statusBar';
import { localAi, nextStatus, setSettings } from './harness';
import { Prompts } from './prompts';
import { freePort } from '../fixtures/ports';

const TOKEN_KEY = 'localAi.serverToken';
const APPROVED_HOSTS_KEY = 'localAi.server.approvedHosts';

/** GET /v1/models as a tool would send it; resolves with the status, or rejects with the connection's error code. */
async function listModels(address: string, token: string | undefined): Promise<number> {
    try {
        const response = await fetch(`${address}/models`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
        await response.arrayBuffer();
        return response.status;
    } catch (error) {
        throw Object.assign(new Error(`GET ${address}/models failed`), { code: ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code });
    }
}

/** This machine's first address other machines could reach, if it has one. */
function externalAddress(): string | undefined {
    return Object.values(os.networkInterfaces())
        .flat()
        .find((candidate) => candidate && candidate.family === 'IPv4' && !candidate.internal)?.address;
}

describe('Local server: the editor side', function () {
    this.timeout(180_000);
    let local: LocalAiTestApi;
    let restoreSettings: () => Promise<void>;
    let prompts: Prompts;
    let port: number;

    const server = () => local.services.server;
    const storedToken = () => local.services.context.secrets.get(TOKEN_KEY);

    /** Runs Start Local Server and resolves with the state it reports running. */
    async function start(): Promise<ServerState> {
        await vscode.commands.executeCommand('localAi.startServer');
        await prompts.next('info', /^Local AI: the local server runs at /);
        return server().state;
    }

    before(async () => {
        local = await localAi();
        await nextStatus(local, (status) => status.health === 'ready', 120_000);
        port = await freePort();
        restoreSettings = await setSettings({ 'server.port': port, 'server.host': undefined, 'server.enabled': undefined });
    });

    after(async () => {
        await restoreSettings?.();
        await server().whenState('stopped', (state) => !state.running);
        await local.services.context.secrets.delete(TOKEN_KEY);
        await local.services.context.globalState.update(APPROVED_HOSTS_KEY, undefined);
    });

    beforeEach(() => (prompts = new Prompts()));
    afterEach(async function () {
        prompts.dispose(this.currentTest?.state === 'passed');
        await vscode.commands.executeCommand('localAi.stopServer');
    });

    it('Start Local Server serves on loopback with the token (and refuses without it); Stop Local Server closes the port', async () => {
        const state = await start();
        assert.equal(state.address, `http://127.0.0.1:${port}/v1`);
        const token = await storedToken();
        assert.ok(token && token.length >= 32, 'no token was created in SecretStorage');
        assert.equal(await listModels(state.address, token), 200);
        assert.equal(await listModels(state.address, undefined), 401);
        assert.equal(vscode.workspace.getConfiguration('localAi').inspect('server.enabled')?.globalValue, true, 'not set in the user settings');

        await vscode.commands.executeCommand('localAi.stopServer');
        await prompts.next('info', /^Local AI: the local server stopped\.$/);
        await assert.rejects(listModels(state.address, token), { code: 'ECONNREFUSED' });
        assert.equal(vscode.workspace.getConfiguration('localAi').inspect('server.enabled')?.globalValue, false);
    });

    it('keeps the same token across a sidecar restart: a tool configured before still gets answers', async () => {
        const before = await start();
        const token = await storedToken();
        assert.ok(token);
        const restarted = server().whenState('listens again', (state) => state.running, { onlyNew: true, timeoutMs: 120_000 });
        await local.services.sidecar.restart();
        const after = await restarted;
        assert.equal(after.address, before.address);
        assert.equal(await storedToken(), token, 'the token changed');
        assert.equal(await listModels(after.address!, token), 200);
    });

    it('Copy Server Address and Token puts both on the clipboard, and says so without showing the token', async () => {
        const state = await start();
        await vscode.env.clipboard.writeText('');
        await vscode.commands.executeCommand('localAi.copyServerAddress');
        const said = await prompts.next('info', /^Local AI: copied /);
        const token = await storedToken();
        assert.ok(token);
        assert.ok(!said.text.includes(token), `the notification shows the token: ${said.text}`);
        const copied = await vscode.env.clipboard.readText();
        assert.equal(copied, `OPENAI_BASE_URL=${state.address} OPENAI_API_KEY=${token}`);
        // What a user pastes is enough to be answered.
        const pasted = Object.fromEntries(copied.split(' ').map((pair) => pair.split('=', 2) as [string, string]));
        assert.equal(await listModels(pasted.OPENAI_BASE_URL, pasted.OPENAI_API_KEY), 200);
    });

    it('Copy Server Address and Token, with the server off, says it is not running and copies nothing', async () => {
        await vscode.env.clipboard.writeText('before');
        await vscode.commands.executeCommand('localAi.copyServerAddress');
        await prompts.next('warning', /^Local AI: the local server is not running/);
        assert.equal(await vscode.env.clipboard.readText(), 'before');
    });

    it("the status bar's tooltip shows the address and counts the requests answered", async () => {
        const bar = new StatusBar(local.services.sidecar, local.services.models, local.services.gpu, server());
        try {
            const state = await start();
            const token = await storedToken();
            const counted = state.requests;
            for (let i = 0; i < 3; i++) assert.equal(await listModels(state.address!, token), 200);
            await server().whenState('counted three requests', (candidate) => candidate.requests >= counted + 3);
            assert.match(bar.tooltip, new RegExp(`Local server: http://127\\.0\\.0\\.1:${port}/v1 · ${counted + 3} requests`));
            await vscode.commands.executeCommand('localAi.stopServer');
            await server().whenState('stopped', (candidate) => !candidate.running);
            assert.doesNotMatch(bar.tooltip, /Local server/);
        } finally {
            bar.dispose();
        }
    });

    it('listens beyond loopback only once the user agreed: declined, other machines cannot connect; agreed, they can', async function () {
        const external = externalAddress();
        if (!external) this.skip();
        await start();
        const token = await storedToken();
        let restoreHost = await setSettings({ 'server.host': '0.0.0.0' });
        try {
            prompts.answer('warning', /would listen on 0\.0\.0\.0/, undefined);
            const asked = await prompts.next('warning', /would listen on 0\.0\.0\.0/);
            assert.equal(asked.modal, true, 'the warning is not modal');
            assert.equal(server().state.address, `http://127.0.0.1:${port}/v1`);
            await assert.rejects(listModels(`http://${external}:${port}/v1`, token), { code: 'ECONNREFUSED' });
            await restoreHost();

            // A fresh recorder: the next warning is the one asked for the second change.
            prompts.dispose(true);
            prompts = new Prompts();
            prompts.answer('warning', /would listen on 0\.0\.0\.0/, 'Listen on 0.0.0.0');
            const moved = server().whenState('listens on the new address', (state) => state.running, { onlyNew: true });
            restoreHost = await setSettings({ 'server.host': '0.0.0.0' });
            await prompts.next('warning', /would listen on 0\.0\.0\.0/);
            await moved;
            // Any answer (the Host check may refuse it) shows that the port is open to other machines.
            assert.notEqual(await listModels(`http://${external}:${port}/v1`, token).catch((error) => error.code), 'ECONNREFUSED');
        } finally {
            await restoreHost();
        }
    });
});
