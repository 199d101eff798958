/**
 * The sidecar's one-write JSON-RPC writer (src/sidecar/stdioWriter.ts), read back with vscode-jsonrpc's own
 * reader: every message whole and in order, Content-Length counted in bytes (text beyond ASCII), and a
 * closed pipe rejects the write and reports the error, as the library's writer does.
 */
import * as assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { type Message, StreamMessageReader } from 'vscode-languageserver/node';
import { StdioMessageWriter } from '../../src/sidecar/stdioWriter';

describe('the sidecar’s stdio writer', () => {
    it('writes messages that vscode-jsonrpc reads back whole and in order, counting bytes beyond ASCII', async () => {
        const pipe = new PassThrough();
        const writer = new StdioMessageWriter(pipe);
        const reader = new StreamMessageReader(pipe);
        const received: Message[] = [];
        const count = 500;
        const all = new Promise<void>((resolve) => {
            reader.listen((message) => {
                received.push(message);
                if (received.length === count) resolve();
            });
        });
        const sent = Array.from({ length: count }, (_, i) => ({
            jsonrpc: '2.0',
            method: '$/progress',
            params: { token: 'chat', value: { kind: 'text', text: `${i}: é ✓ 漢字 🦙 "quoted"\n` } },
        }));
        // Not awaited one by one: the order must hold while writes are in flight.
        await Promise.all(sent.map((message) => writer.write(message)));
        await all;
        assert.deepEqual(received, sent);
        reader.dispose();
        writer.dispose();
    });

    it('rejects a write to a closed pipe and reports the error with the message', async () => {
        const closed = new Writable({ write: (_chunk, _encoding, callback) => callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })) });
        closed.on('error', () => undefined);
        const writer = new StdioMessageWriter(closed);
        const reported: [Error, Message | undefined, number | undefined][] = [];
        writer.onError((error) => reported.push(error));
        const message = { jsonrpc: '2.0', method: 'window/logMessage', params: { type: 3, message: 'hello' } };
        await assert.rejects(writer.write(message), /EPIPE/);
        assert.equal(reported[0]?.[1], message);
        assert.equal(reported[0]?.[2], 1);
        writer.dispose();
    });
});
