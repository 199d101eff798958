import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { HardwareRequest, SidecarInfoRequest } from '../../src/common/protocol';
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
        const running = await startSidecar();
        sidecar = running;
        // Stray bytes break the reader, and then no request is ever answered: stop waiting at once.
        const streamBroke = new Promise<void>((resolve) => running.connection.onError(() => resolve()));
        const work = (async () => {
            await running.connection.sendRequest(SidecarInfoRequest.type);
            // Loading llama.cpp and detecting the hardware is where a library would print, if any did.
            await running.connection.sendRequest(HardwareRequest.type, {});
            await waitFor(() => running.logs.some((line) => line.includes('Sidecar ready')));
        })();
        work.catch(() => undefined); // what it throws after the stream broke is beside the point
        await Promise.race([work, streamBroke]);
        // Read stdout whole: after the process and its pipes have closed, no message is half-written.
        const closed = once(running.child, 'close');
        await running.stop();
        await closed;
        const messages = protocolMessages(running.stdout());
        assert.ok(messages.length >= 3, `only ${messages.length} messages on stdout`);
        assert.ok(
            messages.some((m) => m.method === 'window/logMessage'),
            'the logs did not go through the connection',
        );
    });

    it('sends a stray console.log (a dependency’s) to stderr, and stdout stays protocol', async () => {
        // A preloaded module stands in for a dependency that prints: it logs when told to, once the sidecar runs.
        const folder = mkdtempSync(path.join(tmpdir(), 'local-ai-stray-'));
        const preload = path.join(folder, 'stray.cjs');
        writeFileSync(preload, "process.on('SIGUSR2', () => { console.log('stray line from a dependency'); console.info({ stray: 'é' }); });\n");
        try {
            const running = await startSidecar({ env: { NODE_OPTIONS: `--require ${preload}` } });
            sidecar = running;
            await running.connection.sendRequest(SidecarInfoRequest.type);
            running.child.kill('SIGUSR2');
            await waitFor(() => running.logs.some((line) => line.includes("{ stray: 'é' }")));
            assert.ok(running.logs.some((line) => line.includes('stray line from a dependency')));
            // The connection still works, and stdout holds nothing but whole messages.
            const info = await running.connection.sendRequest(SidecarInfoRequest.type);
            assert.equal(info.pid, running.child.pid);
            const closed = once(running.child, 'close');
            await running.stop();
            await closed;
            assert.ok(protocolMessages(running.stdout()).length >= 3);
        } finally {
            rmSync(folder, { recursive: true, force: true });
        }
    });

    it('exits by itself, with code 0, on shutdown + exit', async () => {
        sidecar = await startSidecar();
        const { child, connection } = sidecar;
        const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
        await connection.sendRequest('shutdown');
        assert.equal(child.exitCode, null, 'it exited on shutdown, before exit');
        await connection.sendNotification('exit');
        // No kill here: a sidecar that ignored exit is still running when a generous bound runs out.
        let bound: NodeJS.Timeout | undefined;
        const stillRunning = new Promise<string>((resolve) => (bound = setTimeout(() => resolve('still running 30 s after exit'), 30_000)));
        assert.deepEqual(await Promise.race([exited, stillRunning]).finally(() => clearTimeout(bound)), [0, null]);
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

/**
 * The JSON-RPC messages in what the sidecar wrote to stdout; fails on anything else there (a stray
 * line would corrupt the stream the extension reads).
 */
function protocolMessages(bytes: Buffer): { jsonrpc: string; method?: string }[] {
    const messages: { jsonrpc: string; method?: string }[] = [];
    let offset = 0;
    while (offset < bytes.length) {
        const headerEnd = bytes.indexOf('\r\n\r\n', offset);
        const header = bytes.subarray(offset, headerEnd < 0 ? offset + 200 : headerEnd).toString('utf8');
        const length = /^Content-Length: (\d+)(\r\nContent-Type: [^\r\n]+)?$/i.exec(header);
        assert.ok(headerEnd >= 0 && length, `stray output on stdout: ${JSON.stringify(header.slice(0, 200))}`);
        const start = headerEnd + 4;
        const end = start + Number(length[1]);
        assert.ok(end <= bytes.length, 'stdout ends inside a message');
        const message = JSON.parse(bytes.subarray(start, end).toString('utf8')) as { jsonrpc: string; method?: string };
        assert.equal(message.jsonrpc, '2.0');
        messages.push(message);
        offset = end;
    }
    return messages;
}

/** Waits for a condition driven by incoming messages (no fixed sleeps). */
async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline) throw new Error('condition not met in time');
        await new Promise((resolve) => setImmediate(resolve));
    }
}
