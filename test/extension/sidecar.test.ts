/**
 * The sidecar as users rely on it, inside the real extension host: killed with SIGKILL it comes back
 * on its own and the status says so; after 5 crashes in 3 minutes it stops and says so; the Restart
 * Sidecar command brings it back; requests in flight fail with a clear error instead of hanging.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { SidecarInfoRequest, type StatusParams } from '../../src/common/protocol';
import type { LocalAiTestApi } from '../../src/extension/extension';

const EXTENSION_ID = 'local-ai.local-ai';

async function api(): Promise<LocalAiTestApi> {
    const extension = vscode.extensions.getExtension<LocalAiTestApi>(EXTENSION_ID);
    assert.ok(extension, 'Local AI is not installed in this extension host');
    return extension.activate();
}

/** Resolves with the first status that matches, as the sidecar pushes them (no polling, no sleeps). */
function nextStatus(local: LocalAiTestApi, matches: (status: StatusParams) => boolean, timeoutMs = 60_000): Promise<StatusParams> {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            subscription.dispose();
            reject(new Error(`no matching status; last was ${JSON.stringify(local.services.sidecar.status)}`));
        }, timeoutMs);
        const subscription = local.services.sidecar.onStatus((status) => {
            if (!matches(status)) return;
            clearTimeout(timer);
            subscription.dispose();
            resolve(status);
        });
    });
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

describe('Sidecar supervision', function () {
    this.timeout(180_000);

    it('starts by itself after activation and answers requests', async () => {
        const local = await api();
        const pid = await sidecarPid(local);
        assert.ok(isAlive(pid), `sidecar pid ${pid} is not alive`);
    });

    it('comes back after kill -9, and the status goes from error back to ready', async () => {
        const local = await api();
        const before = await sidecarPid(local);
        const sawError = nextStatus(local, (status) => status.health === 'error');
        process.kill(before, 'SIGKILL');
        const error = await sawError;
        assert.match(error.message, /restart/i);
        await nextStatus(local, (status) => status.health === 'ready');
        const after = await sidecarPid(local);
        assert.notEqual(after, before, 'the same process answered after SIGKILL');
        assert.equal(isAlive(before), false);
    });

    it('fails a request in flight with a clear error instead of hanging', async () => {
        const local = await api();
        const pid = await sidecarPid(local);
        // The hardware report takes a moment (it probes GPUs); kill the process while it is pending.
        const pending = local.services.sidecar.request0(SidecarInfoRequest.type).then(
            () => 'answered',
            (error: Error) => error.message,
        );
        process.kill(pid, 'SIGKILL');
        const outcome = await pending;
        // Either it answered before the kill landed, or it failed with words a user can act on.
        assert.ok(outcome === 'answered' || /sidecar/i.test(outcome), `unclear error: ${outcome}`);
        await nextStatus(local, (status) => status.health === 'ready');
    });

    it('stops retrying after 5 crashes in 3 minutes, says so, and Restart Sidecar recovers', async () => {
        const local = await api();
        await local.services.sidecar.restart(); // forget the crashes of the tests above
        let gaveUp: StatusParams | undefined;
        for (let crash = 1; crash <= 5 && !gaveUp; crash++) {
            const pid = await sidecarPid(local);
            const next = nextStatus(local, (status) => status.health === 'error');
            process.kill(pid, 'SIGKILL');
            const status = await next;
            if (/will not be restarted/.test(status.message)) gaveUp = status;
            else await nextStatus(local, (s) => s.health === 'ready');
        }
        assert.ok(gaveUp, 'the sidecar was still restarted after 5 crashes');
        await assert.rejects(sidecarPid(local), /crashed 5 times/);
        await vscode.commands.executeCommand('localAi.restartSidecar');
        const pid = await sidecarPid(local);
        assert.ok(isAlive(pid));
    });

    it('stops its process when the client is disposed (no orphan)', async () => {
        const local = await api();
        const pid = await sidecarPid(local);
        await local.services.sidecar.restart();
        // restart() disposed the old client: its process must be gone, not left running.
        assert.equal(isAlive(pid), false, `sidecar ${pid} survived its client`);
    });
});
