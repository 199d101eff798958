/**
 * Coalesces an answer's text chunks by time, so whoever carries them (a JSON-RPC notification, a line
 * on stdout) pays once per interval rather than once per token. A token takes 5–40 ms to generate and
 * a message costs a fraction of a millisecond on the main thread; batched, a reader still sees the text
 * grow about 60 times a second. Slower than that (a 100 MB model on one CPU thread makes ~30 tokens/s),
 * each token is still a message of its own, so no message is written from inside node-llama-cpp's token
 * callback: that runs between two decodes, where every microsecond adds to every token. The send waits
 * for the event loop's next turn, when node-llama-cpp has already handed the next decode to llama.cpp's
 * thread, and is written while llama.cpp works.
 */
import type { ChatChunk } from '../../common/chat';

/** The longest text is held back after the last send: about one frame. */
export const TEXT_BATCH_MS = 16;

export interface TextBatcher {
    /** Takes every chunk of the answer, in order. */
    onChunk(chunk: ChatChunk): void;
    /** Sends what is held back. Call it before the result goes out, so no text is lost or comes after it. */
    flush(): void;
}

/**
 * Text goes on the event loop's next turn but one (tens of microseconds, even for the first token), or,
 * within `intervalMs` of the last send, when the interval is over, as one chunk. Other chunks pass at
 * once, after the text held before them, so the order is kept.
 */
export function batchText(send: (chunk: ChatChunk) => void, intervalMs = TEXT_BATCH_MS): TextBatcher {
    let pending = '';
    let lastSentAt = Number.NEGATIVE_INFINITY;
    let timer: NodeJS.Timeout | undefined;
    let immediate: NodeJS.Immediate | undefined;
    const flush = () => {
        clearTimeout(timer);
        clearImmediate(immediate);
        timer = undefined;
        immediate = undefined;
        if (pending.length === 0) return;
        const text = pending;
        pending = '';
        lastSentAt = performance.now();
        send({ kind: 'text', text });
    };
    // The token callback runs when a decode completes (libuv's poll phase); with several sequences,
    // node-llama-cpp dispatches the next decode with setImmediate after it. An immediate queued now would
    // run before that dispatch, in the same check phase; one queued from there runs on the loop's next turn.
    const sendAfterNextDecodeStarts = () => {
        immediate = setImmediate(() => {
            immediate = setImmediate(flush);
        });
    };
    // A timer may fire a little early by performance.now() (libuv measures from the time its loop last
    // woke), so the wait is checked again when it fires: sends stay at least an interval apart.
    const sendWhenDue = () => {
        timer = undefined;
        const wait = lastSentAt + intervalMs - performance.now();
        if (wait <= 0) flush();
        else timer = setTimeout(sendWhenDue, wait);
    };
    return {
        onChunk(chunk) {
            if (chunk.kind !== 'text') {
                flush();
                send(chunk);
                return;
            }
            pending += chunk.text;
            if (timer || immediate) return;
            const wait = lastSentAt + intervalMs - performance.now();
            if (wait > 0) timer = setTimeout(sendWhenDue, wait);
            else sendAfterNextDecodeStarts();
        },
        flush,
    };
}
