/**
 * Coalesces an answer's text chunks by time, so whoever carries them (a JSON-RPC notification, a line
 * on stdout) pays once per interval rather than once per token. A token takes 5–15 ms to generate and
 * a message costs a fraction of that on the main thread, between two decodes; batched, the stream goes
 * at llama.cpp's own speed and a reader still sees it grow about 60 times a second.
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
 * The first text goes at once (no latency added to the first token); text that follows within
 * `intervalMs` of a send waits and goes as one chunk. Other chunks pass at once, after the text held
 * before them, so the order is kept.
 */
export function batchText(send: (chunk: ChatChunk) => void, intervalMs = TEXT_BATCH_MS): TextBatcher {
    let pending = '';
    let lastSentAt = Number.NEGATIVE_INFINITY;
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        if (pending.length === 0) return;
        const text = pending;
        pending = '';
        lastSentAt = performance.now();
        send({ kind: 'text', text });
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
            if (!timer) sendWhenDue();
        },
        flush,
    };
}
