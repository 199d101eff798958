/**
 * Bounds on what a provider may send, applied to the bytes before any SDK parses them. The SDKs' line
 * decoders append every network chunk to one buffer and scan it again from the start (quadratic in a
 * line's length) and keep any amount of it, so one endless line could take minutes of CPU and all the
 * memory. Here each byte is looked at once, and the first byte past a bound ends the request.
 */
import { fetch as undiciFetch, type Dispatcher } from 'undici';

/** The bounds on one provider response, fixed so that users and tests read the same figures. */
export const WIRE_LIMITS = {
    /** One SSE event (its lines up to the blank line) or one NDJSON line: 1 MiB, far above any real chunk. */
    eventBytes: 1024 * 1024,
    /** One response body (a stream, an error page, embeddings): 64 MiB. */
    responseBytes: 64 * 1024 * 1024,
    /** The text of one answer: 8 Mi characters (about two million tokens). */
    answerChars: 8 * 1024 * 1024,
} as const;

/** How a chat answer is framed on the wire: server-sent events, or one JSON object per line (Ollama). */
export type StreamFormat = 'sse' | 'ndjson';

const CONTENT_TYPES: Record<StreamFormat, string> = { sse: 'text/event-stream', ndjson: 'application/x-ndjson' };

/** The provider sent something that is not a complete answer; the message completes "<provider> …". */
export class StreamFault extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'StreamFault';
    }
}

/** What the guard saw of the last response, read when a failure is sorted. */
export interface WireObservation {
    last?: { status: number; retryAfterMs?: number };
    /** Set when the guard itself ended the response. */
    fault?: StreamFault;
}

export interface GuardedFetchOptions {
    /** Aborts every request, whatever signal the SDK passes itself. */
    signal: AbortSignal;
    /** Receives what was seen; the caller reads it after a failure. */
    seen: WireObservation;
    /** The proxy-aware dispatcher every request goes through. */
    dispatcher: Dispatcher;
    /** For a streamed chat: a 2xx answer must have this framing. Undefined for plain JSON calls (embeddings). */
    stream?: StreamFormat;
}

/** A fetch for an SDK: through the dispatcher, aborted with `signal`, every body bounded. */
export function guardedFetch({ signal, seen, dispatcher, stream }: GuardedFetchOptions): typeof fetch {
    return async (input, init) => {
        const signals = init?.signal ? [init.signal, signal] : [signal];
        const response = (await undiciFetch(input as Parameters<typeof undiciFetch>[0], {
            ...(init as Parameters<typeof undiciFetch>[1]),
            signal: AbortSignal.any(signals),
            dispatcher,
        })) as unknown as Response;
        seen.last = { status: response.status, retryAfterMs: parseRetryAfter(response.headers) };
        const fault = (message: string) => {
            seen.fault ??= new StreamFault(message);
            return seen.fault;
        };
        if (!response.body) return response;
        const framing = response.ok ? stream : undefined;
        if (framing) {
            const type = (response.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
            if (type !== CONTENT_TYPES[framing]) {
                void response.body.cancel().catch(() => undefined);
                throw fault(`answered with ${type ? `"${type.slice(0, 60)}"` : 'no content type'} instead of a stream (${CONTENT_TYPES[framing]})`);
            }
        }
        const body = response.body.pipeThrough(boundedBytes(framing, fault));
        return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    };
}

/**
 * Counts each byte once: the whole body against `responseBytes`, and for a stream the current event
 * (SSE: since the last blank line; NDJSON: since the last newline) against `eventBytes`. A bound
 * passed errors the stream before the SDK receives the chunk, which also cancels the request.
 */
export function boundedBytes(framing: StreamFormat | undefined, fault: (message: string) => StreamFault): TransformStream<Uint8Array, Uint8Array> {
    const mib = (bytes: number) => `${bytes / 1024 / 1024} MB`;
    let total = 0;
    let line = 0;
    let event = 0;
    let afterCarriageReturn = false;
    return new TransformStream({
        transform(chunk, controller) {
            total += chunk.byteLength;
            if (total > WIRE_LIMITS.responseBytes) return controller.error(fault(`sent more than ${mib(WIRE_LIMITS.responseBytes)}`));
            if (!framing) return controller.enqueue(chunk);
            for (let index = 0; index < chunk.length; index++) {
                const byte = chunk[index];
                if (byte === 0x0a || byte === 0x0d) {
                    // "\r\n" is one line break, not a line break and an empty line.
                    if (byte === 0x0a && afterCarriageReturn) {
                        afterCarriageReturn = false;
                        continue;
                    }
                    afterCarriageReturn = byte === 0x0d;
                    if (framing === 'ndjson' || line === 0) event = 0;
                    line = 0;
                    continue;
                }
                afterCarriageReturn = false;
                line++;
                if (++event > WIRE_LIMITS.eventBytes) {
                    return controller.error(fault(`sent one ${framing === 'sse' ? 'event' : 'line'} of more than ${mib(WIRE_LIMITS.eventBytes)}`));
                }
            }
            controller.enqueue(chunk);
        },
    });
}

/** Retry-After is seconds or an HTTP date; some providers also send retry-after-ms. */
export function parseRetryAfter(headers: Headers, now = Date.now()): number | undefined {
    const ms = Number(headers.get('retry-after-ms'));
    if (headers.has('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return ms;
    const value = headers.get('retry-after');
    if (!value) return undefined;
    const seconds = Number(value);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const date = Date.parse(value);
    return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
