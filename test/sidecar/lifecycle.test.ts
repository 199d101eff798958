import * as assert from 'node:assert/strict';
import { SidecarInfoRequest } from '../../src/common/protocol';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';

describe('sidecar lifecycle (real process, real JSON-RPC)', () => {
    let sidecar: SidecarProcess | undefined;

    afterEach(async () => {
        await sidecar?.stop();
        sidecar = undefined;
    });

    it('answers info with its pid and pushes a ready status', async () => {
        sidecar = await startSidecar();
        const info = await sidecar.connection.sendRequest(SidecarInfoRequest.type);
        assert.equal(info.pid, sidecar.child.pid);
        assert.match(info.node, /^v\d+/);
        await waitFor(() => sidecar!.statuses.some((status) => status.health === 'ready'));
    });

    it('writes nothing but protocol to stdout, and logs through the connection', async () => {
        sidecar = await startSidecar();
        await sidecar.connection.sendRequest(SidecarInfoRequest.type);
        await waitFor(() => sidecar!.logs.some((line) => line.includes('Sidecar ready')));
    });

    it('exits on shutdown + exit', async () => {
        sidecar = await startSidecar();
        const child = sidecar.child;
        await sidecar.stop();
        assert.notEqual(child.exitCode ?? child.signalCode, null);
    });

    it('exits by itself when its stdin (the extension host) goes away', async () => {
        sidecar = await startSidecar();
        const child = sidecar.child;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.stdin!.destroy();
        child.stdout!.destroy();
        await exited;
        sidecar = undefined;
    });
});

/** Waits for a condition driven by incoming messages (no fixed sleeps). */
async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline) throw new Error('condition not met in time');
        await new Promise((resolve) => setImmediate(resolve));
    }
}
