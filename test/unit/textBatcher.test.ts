/**
 * How an answer's text leaves the sidecar and the CLI (issue #21 §2): never from inside node-llama-cpp's
 * token callback, which runs between two decodes, but on the event loop's next turn, after the decode
 * node-llama-cpp dispatches on this one (with several sequences it waits for setImmediate); text of one
 * interval goes as one chunk; nothing is lost or comes after the flush that precedes the result.
 */
import * as assert from 'node:assert/strict';
import { stat } from 'node:fs';
import type { ChatChunk } from '../../src/common/chat';
import { batchText } from '../../src/sidecar/chat/textBatcher';

/** What was sent, in order, and a promise for the moment `count` sends have been made. */
function recorder() {
    const sent: string[] = [];
    const waiters: { count: number; resolve: () => void }[] = [];
    const send = (chunk: ChatChunk) => {
        sent.push(chunk.kind === 'text' ? chunk.text : `<${chunk.kind}>`);
        for (const waiter of waiters.filter((w) => sent.length >= w.count)) waiter.resolve();
    };
    const sends = (count: number) => new Promise<void>((resolve) => (sent.length >= count ? resolve() : waiters.push({ count, resolve })));
    return { sent, send, sends };
}

describe('text batching', () => {
    // The token callback runs when a decode completes (an I/O callback, libuv's poll phase); from a check phase too.
    const phases: [string, (run: () => void) => void][] = [
        ['an I/O callback', (run) => stat('.', () => run())],
        ['a setImmediate callback', (run) => setImmediate(run)],
    ];
    for (const [phase, runIn] of phases) {
        it(`sends a token after the decode dispatched on the same turn, never from inside the token callback (${phase})`, async () => {
            const { sent, send, sends } = recorder();
            const order: string[] = [];
            const batcher = batchText((chunk) => {
                send(chunk);
                order.push('text sent');
            });
            await new Promise<void>((resolve) =>
                runIn(() => {
                    batcher.onChunk({ kind: 'text', text: 'Hello' });
                    // What node-llama-cpp does right after the token callback when the context has several sequences.
                    setImmediate(() => order.push('next decode dispatched'));
                    assert.deepEqual(sent, [], 'nothing is written between two decodes');
                    resolve();
                }),
            );
            await sends(1);
            assert.deepEqual(order, ['next decode dispatched', 'text sent']);
            assert.deepEqual(sent, ['Hello']);
        });
    }

    it('sends the tokens of one interval as one chunk, and the next interval’s after it', async () => {
        const { sent, send, sends } = recorder();
        const batcher = batchText(send, 30);
        for (const text of ['a', 'b', 'c']) batcher.onChunk({ kind: 'text', text });
        await sends(1);
        const firstAt = performance.now();
        batcher.onChunk({ kind: 'text', text: 'd' });
        batcher.onChunk({ kind: 'text', text: 'e' });
        await sends(2);
        assert.deepEqual(sent, ['abc', 'de']);
        // Timers may fire a little early by performance.now(); the batcher checks again before it sends.
        assert.ok(performance.now() - firstAt >= 30, `the second chunk went ${(performance.now() - firstAt).toFixed(1)} ms after the first`);
    });

    it('keeps the order with other chunks and sends what is held on flush, nothing after it', async () => {
        const { sent, send } = recorder();
        const batcher = batchText(send);
        batcher.onChunk({ kind: 'text', text: 'held' });
        batcher.onChunk({ kind: 'start', engine: { kind: 'local', model: 'm', modelName: 'M', device: 'CPU' } });
        batcher.onChunk({ kind: 'text', text: ' tail' });
        batcher.flush();
        assert.deepEqual(sent, ['held', '<start>', ' tail']);
        // A turn later, no timer of the batcher's is left to send anything again.
        await new Promise((resolve) => setTimeout(resolve, 0));
        assert.deepEqual(sent, ['held', '<start>', ' tail']);
    });
});
