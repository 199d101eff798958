/**
 * One HTTP attempt at the rest of a file, or of one of its parallel parts: follows the hub's redirect to its
 * CDN, asks for the missing range, and writes what arrives into the partial file at the offsets it belongs
 * to: the partial is one descriptor the caller opened and locked (partialFile.ts), written at explicit
 * positions, never reopened by name. Nothing is hashed here: the socket's thread only receives and writes,
 * and the caller's PrefixHasher reads the written bytes back in a worker. The caller decides about retries
 * from the thrown TransferError.
 */
import type { FileHandle } from 'node:fs/promises';
import { request, type Dispatcher } from 'undici';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { fileSystemError } from './fileSystemError';
import { HUB_USER_AGENT, refusalFrom, retryAfterMs, type HubRefusal } from './hubHttp';
import { requestOverSocket, type ResponseHeaders, StalledSocketError } from './socketResponse';

export interface TransferOptions {
    url: string;
    /** Sent to the first host only; dropped when a redirect leaves its origin (the CDN URL is signed). */
    headers: Record<string, string>;
    dispatcher: Dispatcher;
    /**
     * No proxy applies (neither the proxy setting nor HTTP(S)_PROXY): the requests go over plain sockets that
     * read into large buffers (socketResponse.ts) instead of through `dispatcher`. Default false.
     */
    direct?: boolean;
    /** The partial, opened once by the caller; bytes go to their offsets in it. */
    partial: FileHandle;
    /** The size the hub listed; bytes beyond it mean the server sends something else. */
    expectedSize: number;
    /** Where this attempt starts: the bytes before it (of the file, or of this part) are in the partial already. */
    offset: number;
    /**
     * A parallel part: the byte after its last, asked for as a closed range, and an answer with the whole
     * file ends the attempt with `rangesRefused` instead of starting over. Default: the rest of the file.
     */
    end?: number;
    /** Bytes read from the socket that may wait for the disk before it is paused. Default 16 MiB. */
    maxWaitingBytes?: number;
    signal: AbortSignal;
    /** No byte for this long (headers or body) ends the attempt as retryable. */
    stallTimeoutMs: number;
    /** Turns a refusal (401/403/404/other 4xx, with the hub's error headers) into the error to report. */
    refusal(refusal: HubRefusal): LocalAiError;
    /** After each chunk received: its size. */
    onBytes(received: number): void;
    /** After each write: every byte from the start of this attempt's range up to `position` is in the partial. */
    onWritten(position: number): void;
    /** The server ignored the range and sends the whole file: the partial is about to start over from byte 0. */
    onRestart(): void;
}

export interface TransferOutcome {
    /** Where the bytes received end (equals the range's end unless the attempt stopped short). */
    offset: number;
}

/** Why an attempt stopped; `retryable` errors are worth another attempt after a backoff. */
export class TransferError extends Error {
    constructor(
        message: string,
        readonly retryable: boolean,
        readonly outcome: TransferOutcome,
        readonly refusal?: LocalAiError,
        /** The wait the server asked for (429 with RateLimit / Retry-After), in ms. */
        readonly retryAfterMs?: number,
        /** The hub said 429: the wait is the hub's, not a failure of ours. */
        readonly rateLimited = false,
        /** A part's range was answered with the whole file: this server does not serve ranges. */
        readonly rangesRefused = false,
    ) {
        super(message);
    }
}

const MAX_REDIRECTS = 5;
/** Bytes gathered before one write; large enough that the per-write cost vanishes. */
const BATCH_BYTES = 1 << 20;
/** Bytes allowed to wait for the disk before the socket is paused. */
const MAX_WAITING_BYTES = 16 << 20;
/** Longest time received bytes wait in memory before they are written. */
const FLUSH_AFTER_MS = 200;

export async function transferRest(options: TransferOptions): Promise<TransferOutcome> {
    let { offset } = options;
    const end = options.end ?? options.expectedSize;
    const bounded = options.end !== undefined;
    const { response, crossOrigin } = await openResponse(options, offset);
    const { statusCode, headers, body } = response;
    const state = (): TransferOutcome => ({ offset });

    if (statusCode === 416 && offset === options.expectedSize) {
        await body.dump();
        return state();
    }
    if (statusCode === 429) {
        // huggingface_hub's http_backoff waits as long as the hub's RateLimit / Retry-After says; the partial stays.
        await body.dump();
        throw new TransferError('rate-limited by the hub', true, state(), undefined, retryAfterMs(headers), true);
    }
    if (statusCode >= 500 || statusCode === 408) {
        await body.dump();
        throw new TransferError(`the server answered HTTP ${statusCode}`, true, state());
    }
    if (statusCode === 403 && crossOrigin) {
        // The CDN refuses a signed link that expired (or a clock skew): the hub signs a fresh one on the next attempt.
        await body.dump();
        throw new TransferError('the download server refused the signed link (HTTP 403)', true, state());
    }
    if (statusCode !== 200 && statusCode !== 206) {
        await body.dump();
        throw new TransferError(`the server answered HTTP ${statusCode}`, false, state(), options.refusal(refusalFrom(statusCode, headers)));
    }
    const rangeStart = statusCode === 206 ? parseRangeStart(headers['content-range']) : 0;
    if (statusCode === 206 && rangeStart !== offset) {
        await body.dump();
        throw new TransferError(`the server answered bytes from ${rangeStart} when asked from ${offset}`, true, state());
    }
    if (statusCode === 200 && bounded) {
        await body.dump();
        throw new TransferError('the server answered a range with the whole file', false, state(), undefined, undefined, false, true);
    }
    const declared = Number(headers['content-length'] ?? Number.NaN);
    if (statusCode === 206 && bounded && Number.isFinite(declared) && declared !== end - offset) {
        await body.dump();
        throw new TransferError(`the server sent ${declared} bytes for a range of ${end - offset}`, true, state());
    }
    if (statusCode === 200 && Number.isFinite(declared) && declared !== options.expectedSize) {
        // A whole-file answer of the wrong length (an empty body from a proxy, an error page) must not
        // cost us the partial.
        await body.dump();
        throw new TransferError(`the server sent ${declared} bytes instead of the file's ${options.expectedSize}`, true, state());
    }
    // The server sent the whole file (it ignored the range): start over from byte 0,
    // but only once bytes actually arrive, so an answer that dies at once keeps the partial.
    let restart = rangeStart !== offset;

    // Chunks are written in batches off the main thread (FileHandle.writev); the socket is paused while too
    // much is waiting for the disk.
    const maxWaitingBytes = options.maxWaitingBytes ?? MAX_WAITING_BYTES;
    const output = options.partial;
    // Where the next batch goes: right after the bytes received before it, whatever else happened to the file.
    let position = offset;
    let written: Promise<void> = Promise.resolve();
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let waitingBytes = 0;
    let failure: unknown;
    // A slow or stalled stream still reaches the disk soon, so a killed process loses little.
    let flushTimer: NodeJS.Timeout | undefined;
    const queue = (task: () => Promise<void>) => {
        written = written.then(async () => {
            if (failure === undefined) await task();
        });
        written.catch((error: unknown) => {
            failure ??= error;
            body.destroy(error instanceof Error ? error : new Error(String(error)));
        });
    };
    const flush = () => {
        clearTimeout(flushTimer);
        flushTimer = undefined;
        if (batchBytes === 0) return;
        const chunks = batch;
        const bytes = batchBytes;
        const at = position;
        batch = [];
        batchBytes = 0;
        position += bytes;
        waitingBytes += bytes;
        queue(async () => {
            const { bytesWritten } = await output.writev(chunks, at);
            if (bytesWritten !== bytes) throw new Error(`only ${bytesWritten} of ${bytes} bytes were written at byte ${at}`);
            // On disk: the socket may read into these bytes' memory again (socketResponse.ts).
            body.release?.(chunks);
            waitingBytes -= bytes;
            options.onWritten(at + bytes);
            if (waitingBytes < maxWaitingBytes && body.isPaused()) body.resume();
        });
    };
    try {
        await new Promise<void>((resolve, reject) => {
            body.on('data', (chunk: Buffer) => {
                if (failure !== undefined) return;
                if (restart) {
                    offset = 0;
                    position = 0;
                    restart = false;
                    // No write of this attempt is pending yet: the caller forgets the old bytes before any new one lands.
                    options.onRestart();
                    queue(() => output.truncate(0));
                }
                if (offset + chunk.length > end) {
                    const what = bounded ? `the ${end - options.offset} bytes asked for` : `the ${options.expectedSize} bytes the hub listed`;
                    failure = new TransferError(`the server sent more than ${what}`, false, state());
                    body.destroy();
                    return;
                }
                offset += chunk.length;
                batch.push(chunk);
                batchBytes += chunk.length;
                options.onBytes(chunk.length);
                if (batchBytes >= BATCH_BYTES) flush();
                else flushTimer ??= setTimeout(flush, FLUSH_AFTER_MS);
                if (waitingBytes >= maxWaitingBytes) body.pause();
            });
            body.on('end', resolve);
            body.on('error', reject);
            body.on('close', () => (failure !== undefined ? reject(failure) : undefined));
        });
    } catch (error) {
        if (failure instanceof TransferError) throw failure;
        if (failure !== undefined) throw writeFailure(failure, state());
        if (options.signal.aborted) throw error;
        throw new TransferError(describeNetworkError(error), true, state());
    } finally {
        // Everything counted in `offset` must be on disk before the caller resumes from it.
        flush();
        await written.catch(() => undefined);
    }
    if (failure !== undefined) throw failure instanceof TransferError ? failure : writeFailure(failure, state());
    if (offset < end) {
        throw new TransferError(`the connection closed after ${offset} of ${end} bytes`, true, state());
    }
    return state();
}

/** What an attempt reads of an answer, from undici or from socketResponse.ts. */
interface TransferResponse {
    statusCode: number;
    headers: ResponseHeaders;
    body: {
        on(event: 'data', listener: (chunk: Buffer) => void): unknown;
        on(event: 'end' | 'close', listener: () => void): unknown;
        on(event: 'error', listener: (error: Error) => void): unknown;
        isPaused(): boolean;
        pause(): unknown;
        resume(): unknown;
        destroy(error?: Error): unknown;
        dump(): Promise<unknown>;
        /** The chunks given with 'data' are no longer used (socketResponse.ts reads into their memory again). */
        release?(chunks: readonly Buffer[]): void;
    };
}

/** The answer to the first request that is not a redirect, and whether it came from another origin (the CDN). */
async function openResponse(options: TransferOptions, offset: number): Promise<{ response: TransferResponse; crossOrigin: boolean }> {
    let url = new URL(options.url);
    const origin = url.origin;
    for (let redirects = 0; ; redirects++) {
        const headers: Record<string, string> = {
            'accept-encoding': 'identity',
            ...(url.origin === origin ? options.headers : {}),
            'user-agent': HUB_USER_AGENT,
            ...(options.end !== undefined ? { range: `bytes=${offset}-${options.end - 1}` } : offset > 0 ? { range: `bytes=${offset}-` } : {}),
        };
        let response: TransferResponse | undefined;
        try {
            const { signal, stallTimeoutMs } = options;
            if (options.direct) response = await requestOverSocket(url, { headers, signal, stallTimeoutMs });
            // A chunked answer (never a file server's, but possible) is left to undici.
            response ??= await request(url, {
                method: 'GET',
                headers,
                dispatcher: options.dispatcher,
                signal,
                headersTimeout: stallTimeoutMs,
                bodyTimeout: stallTimeoutMs,
            });
        } catch (error) {
            if (options.signal.aborted) throw error;
            throw new TransferError(describeNetworkError(error), true, { offset });
        }
        const location = response.headers.location;
        if (response.statusCode >= 300 && response.statusCode < 400 && typeof location === 'string') {
            await response.body.dump();
            if (redirects >= MAX_REDIRECTS) throw new TransferError('too many redirects', false, { offset });
            url = new URL(location, url);
            continue;
        }
        return { response, crossOrigin: url.origin !== origin };
    }
}

/** A failed write to the partial: a full disk gets its own code, anything else is a plain failure. */
function writeFailure(error: unknown, outcome: TransferOutcome): TransferError {
    const code = (error as NodeJS.ErrnoException).code;
    const refusal =
        code === 'ENOSPC'
            ? new LocalAiError(ErrorCode.DiskFull, 'The disk filled up during the download; the partial file is kept.', {
                  hint: 'Free some space, then download again to resume.',
              })
            : (fileSystemError(error) ??
              new LocalAiError(ErrorCode.DownloadFailed, `Could not write the download: ${error instanceof Error ? error.message : String(error)}`));
    return new TransferError(refusal.message, false, outcome, refusal);
}

function parseRangeStart(header: string | string[] | undefined): number {
    const match = /^bytes (\d+)-/.exec(Array.isArray(header) ? header[0] : (header ?? ''));
    return match ? Number(match[1]) : -1;
}

function describeNetworkError(error: unknown): string {
    if (!(error instanceof Error)) return String(error);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || error instanceof StalledSocketError) return 'the download stalled';
    return code ? `${error.message} (${code})` : error.message;
}
