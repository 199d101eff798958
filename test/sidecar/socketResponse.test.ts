/**
 * A download's bytes read straight from the socket when no proxy applies (socketResponse.ts, issue 21 §3),
 * through the real transfer into a real partial file, against loopback servers that frame their answers the
 * ways the product must survive: the body in the same packet as the head, bytes past Content-Length, a
 * chunked answer (left to undici), and a server that goes quiet after half the body.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Agent } from 'undici';
import { LocalAiError, ErrorCode } from '../../src/common/errors';
import { requestOverSocket } from '../../src/sidecar/models/socketResponse';
import { TransferError, transferRest } from '../../src/sidecar/models/transfer';

const MIB = 1024 * 1024;
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Served {
    url: string;
    stop(): Promise<void>;
}

/** A TCP server answering every connection with `answer(socket)`, which writes the raw HTTP itself. */
async function rawServer(answer: (socket: net.Socket) => void): Promise<Served> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
        // The request is read (so the answer follows it), then answered.
        socket.once('data', () => answer(socket));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
        url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/file.gguf`,
        stop: async () => {
            for (const socket of sockets) socket.destroy();
            await new Promise((resolve) => server.close(resolve));
        },
    };
}

describe('download bytes read straight from the socket', function () {
    this.timeout(60_000);
    let dir: string;
    const dispatcher = new Agent();

    beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'local-ai-socket-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    after(() => dispatcher.close());

    /** One direct attempt at the whole file into a fresh partial; its bytes, or the attempt's error. */
    async function transfer(url: string, size: number, stallTimeoutMs = 30_000): Promise<Buffer> {
        const file = path.join(dir, 'file.gguf.partial');
        const partial = await open(file, 'w+');
        try {
            const outcome = await transferRest({
                url,
                headers: {},
                dispatcher,
                direct: true,
                partial,
                expectedSize: size,
                offset: 0,
                signal: new AbortController().signal,
                stallTimeoutMs,
                refusal: () => new LocalAiError(ErrorCode.DownloadFailed, 'refused'),
                onBytes: () => undefined,
                onWritten: () => undefined,
                onRestart: () => undefined,
            });
            assert.equal(outcome.offset, size);
        } finally {
            await partial.close();
        }
        return readFileSync(file);
    }

    it('keeps the body bytes that arrive in the same packet as the headers, and none past Content-Length', async () => {
        const data = randomBytes(3 * MIB + 12345);
        const server = await rawServer((socket) => {
            // One write: the head, the whole body and some stray bytes a broken server appends.
            socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${data.length}\r\n\r\n`), data, Buffer.from('stray')]));
        });
        try {
            const written = await transfer(server.url, data.length);
            assert.equal(written.length, data.length);
            assert.equal(sha(written), sha(data), 'every byte, in order');
        } finally {
            await server.stop();
        }
    });

    it('reads a large body into a few slabs, reused once their views are handed back, never while one is held', async () => {
        const data = randomBytes(32 * MIB);
        const server = await rawServer((socket) => {
            socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${data.length}\r\n\r\n`);
            for (let at = 0; at < data.length; at += 256 * 1024) socket.write(data.subarray(at, at + 256 * 1024));
            socket.end();
        });
        try {
            const response = await requestOverSocket(new URL(server.url), { headers: {}, signal: new AbortController().signal, stallTimeoutMs: 30_000 });
            assert.ok(response);
            const { body } = response;
            // The reader holds the last 4 MiB of views (as a writer waiting for the disk would), and checks each
            // view's bytes when it hands it back and at the end: a slab read into again too early changes them.
            const held: { chunk: Buffer; at: number }[] = [];
            let heldBytes = 0;
            let received = 0;
            const slabs = new Set<ArrayBufferLike>();
            const intact = ({ chunk, at }: { chunk: Buffer; at: number }) =>
                assert.ok(chunk.equals(data.subarray(at, at + chunk.length)), `the ${chunk.length} bytes at ${at} changed while they were held`);
            await new Promise<void>((resolve, reject) => {
                body.on('data', (chunk) => {
                    slabs.add(chunk.buffer);
                    held.push({ chunk, at: received });
                    received += chunk.length;
                    heldBytes += chunk.length;
                    while (heldBytes > 4 * MIB) {
                        const oldest = held.shift()!;
                        intact(oldest);
                        heldBytes -= oldest.chunk.length;
                        body.release([oldest.chunk]);
                    }
                });
                body.on('end', resolve);
                body.on('error', reject);
            });
            for (const view of held) intact(view);
            assert.equal(received, data.length);
            // 4 MiB held, the slab being read into, and a little slack: not one fresh slab per MiB.
            assert.ok(slabs.size <= 8, `${slabs.size} slabs for ${data.length / MIB} MiB`);
        } finally {
            await server.stop();
        }
    });

    it('downloads a chunked answer correctly: the framing never lands in the file', async () => {
        const data = randomBytes(2 * MIB);
        const server = http.createServer((_req, res) => {
            // No Content-Length: node:http frames the body in chunks.
            res.writeHead(200, { 'content-type': 'application/octet-stream' });
            for (let at = 0; at < data.length; at += 100_000) res.write(data.subarray(at, at + 100_000));
            res.end();
        });
        server.listen(0, '127.0.0.1');
        await once(server, 'listening');
        try {
            const written = await transfer(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/file.gguf`, data.length);
            assert.equal(sha(written), sha(data));
        } finally {
            server.closeAllConnections();
            await new Promise((resolve) => server.close(resolve));
        }
    });

    it('ends an attempt whose server goes quiet as a retryable stall, with the bytes before it written', async () => {
        const data = randomBytes(MIB);
        const half = data.length / 2;
        const server = await rawServer((socket) => {
            socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${data.length}\r\n\r\n`), data.subarray(0, half)]));
        });
        try {
            const started = performance.now();
            const error = await transfer(server.url, data.length, 500).then(
                () => assert.fail('the attempt finished although the server went quiet'),
                (e: unknown) => e,
            );
            assert.ok(error instanceof TransferError, String(error));
            assert.equal(error.message, 'the download stalled');
            assert.equal(error.retryable, true);
            assert.equal(error.outcome.offset, half, 'the attempt says how far it got');
            assert.ok(performance.now() - started < 10_000, 'the stall timeout ended it, not the test');
            assert.equal(sha(readFileSync(path.join(dir, 'file.gguf.partial'))), sha(data.subarray(0, half)), 'those bytes are in the partial');
        } finally {
            await server.stop();
        }
    });
});
