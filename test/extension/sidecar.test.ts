/**
 * The sidecar as users rely on it, inside the real extension host: killed with SIGKILL it comes back
 * on its own and the status says so; after 5 crashes in 3 minutes it stops and says so; the Restart
 * Sidecar command brings it back; requests in flight fail with a clear error instead of hanging.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as vscode from 'vscode';
import { DownloadRequest, SidecarInfoRequest, type StatusParams } from '../../src/common/protocol';
import { SIDECAR_EXEC_ARGV, sidecarEnvironment } from '../../src/common/sidecarLaunch';
import { DEFAULT_CRASH_POLICY } from '../../src/extension/crashPolicy';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { statusAfter } from './harness';

const EXTENSION_ID = 'local-ai.local-ai';

async function api(): Promise<LocalAiTestApi> {
    const extension = vscode.extensions.getExtension<LocalAiTestApi>(EXTENSION_ID);
    assert.ok(extension, 'Local AI is not installed in this extension host');
    return extension.activate();
}

async function sidecarPid(local: LocalAiTestApi): Promise<number> {
    return (await local.services.sidecar.request0(SidecarInfoRequest.type)).pid;
}

function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

/** A hub that takes requests and never answers: a download it gets stays in flight. */
async function stalledHub(): Promise<{ url: string; reached: Promise<void>; close(): Promise<void> }> {
    const held: http.ServerResponse[] = [];
    let reached!: () => void;
    const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
    const server = http.createServer((_request, response) => {
        held.push(response);
        reached();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        reached: reachedPromise,
        close: async () => {
            for (const response of held) response.destroy();
            await new Promise((resolve) => server.close(resolve));
        },
    };
}

/** Sets the hub endpoint and resolves once this extension host has seen the change (the client's own listener, registered earlier, has run). */
async function setHubEndpoint(url: string | undefined): Promise<void> {
    const seen = new Promise<void>((resolve) => {
        const subscription = vscode.workspace.onDidChangeConfiguration((event) => {
            if (!event.affectsConfiguration('localAi.hubEndpoint')) return;
            subscription.dispose();
            resolve();
        });
    });
    await vscode.workspace.getConfiguration('localAi').update('hubEndpoint', url, vscode.ConfigurationTarget.Global);
    await seen;
}

const STALLED_MODEL = 'hf:test/stalled-GGUF/stalled-Q4_K_M.gguf';

describe('Sidecar supervision', function () {
    this.timeout(180_000);

    it('starts by itself after activation and answers requests', async () => {
        const local = await api();
        const pid = await sidecarPid(local);
        assert.ok(isAlive(pid), `sidecar pid ${pid} is not alive`);
    });

    it('starts the sidecar with the flags that make memory return after an unload (Linux)', async function () {
        if (process.platform !== 'linux') this.skip();
        const pid = await sidecarPid(await api());
        const environment = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        const commandLine = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        const expected = sidecarEnvironment({});
        for (const [name, value] of Object.entries(expected)) {
            // A value the user set in the extension host's environment wins over ours.
            assert.ok(environment.includes(`${name}=${process.env[name] ?? value}`), `${name} is not set for the sidecar`);
        }
        for (const flag of SIDECAR_EXEC_ARGV) assert.ok(commandLine.includes(flag), `${flag} is missing from ${commandLine.join(' ')}`);
    });

    it('comes back after kill -9, and the status goes from error back to ready', async () => {
        const local = await api();
        const before = await sidecarPid(local);
        const sawError = statusAfter(local, (status) => status.health === 'error');
        process.kill(before, 'SIGKILL');
        const error = await sawError;
        assert.match(error.message, /restart/i);
        await statusAfter(local, (status) => status.health === 'ready');
        const after = await sidecarPid(local);
        assert.notEqual(after, before, 'the same process answered after SIGKILL');
        assert.equal(isAlive(before), false);
    });

    it('answers a request sent while it waits to restart after a crash, from the new process', async () => {
        const local = await api();
        const before = await sidecarPid(local);
        // The error status is set when the close handler starts its backoff: the request goes out inside it.
        const backingOff = statusAfter(local, (status) => status.health === 'error' && /restarting in/.test(status.message));
        process.kill(before, 'SIGKILL');
        await backingOff;
        const after = await sidecarPid(local);
        assert.notEqual(after, before, 'the killed process cannot have answered');
        assert.ok(isAlive(after), `sidecar pid ${after} is not alive`);
    });

    it('fails a request in flight with a clear error instead of hanging', async () => {
        const local = await api();
        const hub = await stalledHub();
        try {
            const pid = await sidecarPid(local);
            await setHubEndpoint(hub.url);
            const pending = local.services.sidecar.request(DownloadRequest.type, { model: STALLED_MODEL }).then(
                () => assert.fail('the download answered although the hub never did'),
                (error: Error & { lost?: boolean }) => error,
            );
            // The download is surely in flight once the hub has it.
            await Promise.race([hub.reached, pending.then((error) => assert.fail(`the download failed before reaching the hub: ${error.message}`))]);
            process.kill(pid, 'SIGKILL');
            const error = await pending;
            assert.equal(error.lost, true, `not reported as a lost sidecar: ${error.message}`);
            assert.match(error.message, /sidecar/i);
            await statusAfter(local, (status) => status.health === 'ready');
        } finally {
            await setHubEndpoint(undefined);
            await hub.close();
        }
    });

    it('gives a sidecar restarted after a crash the settings changed meanwhile', async () => {
        const local = await api();
        const hub = await stalledHub();
        const cancel = new vscode.CancellationTokenSource();
        try {
            const pid = await sidecarPid(local);
            const restarting = statusAfter(local, (status) => status.health === 'error');
            process.kill(pid, 'SIGKILL');
            await restarting;
            const back = statusAfter(local, (status) => status.health === 'ready');
            // Changed while the client waits to restart the process (250 ms): the new process must have it.
            await setHubEndpoint(hub.url);
            await back;
            assert.notEqual(await sidecarPid(local), pid, 'the same process answers');
            const pending = local.services.sidecar.request(DownloadRequest.type, { model: STALLED_MODEL }, cancel.token).then(
                () => 'answered',
                (error: Error) => error.message,
            );
            const outcome = await Promise.race([hub.reached.then(() => 'reached the new hub'), pending]);
            assert.equal(outcome, 'reached the new hub');
        } finally {
            cancel.cancel();
            await setHubEndpoint(undefined);
            await hub.close();
        }
    });

    it('stops retrying after 5 crashes in 3 minutes, says so, and Restart Sidecar recovers', async () => {
        const local = await api();
        await local.services.sidecar.restart(); // forget the crashes of the tests above
        let gaveUp: StatusParams | undefined;
        let crashes = 0;
        while (!gaveUp && crashes < DEFAULT_CRASH_POLICY.maxCrashes + 1) {
            crashes++;
            const pid = await sidecarPid(local);
            const next = statusAfter(local, (status) => status.health === 'error');
            process.kill(pid, 'SIGKILL');
            const status = await next;
            if (/will not be restarted/.test(status.message)) gaveUp = status;
            else await statusAfter(local, (s) => s.health === 'ready');
        }
        assert.ok(gaveUp, `the sidecar was still restarted after ${crashes} crashes`);
        assert.equal(crashes, DEFAULT_CRASH_POLICY.maxCrashes, 'it gave up at another crash than the policy says');
        await assert.rejects(sidecarPid(local), /crashed 5 times in 3 minutes/);
        // A key set while it is down reaches the restarted sidecar, and waiting for it never blocks a request.
        await local.services.secrets.setProviderKey('openai', 'sk-set-while-down');
        try {
            await vscode.commands.executeCommand('localAi.restartSidecar');
            const pid = await sidecarPid(local);
            assert.ok(isAlive(pid));
        } finally {
            await local.services.secrets.setProviderKey('openai', undefined);
        }
    });

    it('stops its process when the client is disposed (no orphan)', async () => {
        const local = await api();
        const pid = await sidecarPid(local);
        await local.services.sidecar.restart();
        // restart() disposed the old client: its process must be gone, not left running.
        assert.equal(isAlive(pid), false, `sidecar ${pid} survived its client`);
    });
});
