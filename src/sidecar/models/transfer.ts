/**
 * One HTTP attempt at the rest of a file: follows the hub's redirect to its CDN, asks for the missing
 * range, and writes what arrives into the partial file at the offsets it belongs to while hashing it,
 * so the finished file never needs a second read: the partial is one descriptor the caller opened and
 * locked (partialFile.ts), written at explicit positions, never reopened by name. The caller decides
 * about retries from the thrown TransferError.
 */
import type { Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { request, type Dispatcher } from 'undici';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { fileSystemError } from './fileSystemError';
import { HUB_USER_AGENT, refusalFrom, retryAfterMs, type HubRefusal } from './hubHttp';

export interface TransferOptions {
    url: string;
    /** Sent to the first host only; dropped when a redirect leaves its origin (the CDN URL is signed). */
    headers: Record<string, string>;
    dispatcher: Dispatcher;
    /** The partial, opened once by the caller; bytes go to their offsets in it. */
    partial: FileHandle;
    /** The size the hub listed; bytes beyond it mean the server sends something else. */
    expectedSize: number;
    /** Bytes already in the partial file, already fed to `hash`. */
    offset: number;
    hash: Hash;
    signal: AbortSignal;
    /** No byte for this long (headers or body) ends the attempt as retryable. */
    stallTimeoutMs: number;
    /** Turns a refusal (401/403/404/other 4xx, with the hub's error headers) into the error to report. */
    refusal(refusal: HubRefusal): LocalAiError;
    /** After each chunk: its size, and the bytes now in the partial file. */
    onBytes(received: number, offset: number): void;
}

export interface TransferOutcome {
    /** Bytes in the partial file now (equals expectedSize unless the server refused the range). */
    offset: number;
    /** The hash to finish with (a fresh one when the server ignored the range and we started over). */
    hash: Hash;
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

export async function transferRest(options: TransferOptions, newHash: () => Hash): Promise<TransferOutcome> {
    let { offset, hash } = options;
    const { response, crossOrigin } = await openResponse(options, offset);
    const { statusCode, headers, body } = response;
    const state = (): TransferOutcome => ({ offset, hash });

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
    const declared = Number(headers['content-length'] ?? Number.NaN);
    if (statusCode === 200 && Number.isFinite(declared) && declared !== options.expectedSize) {
        // A whole-file answer of the wrong length (an empty body from a proxy, an error page) must not
        // cost us the partial.
        await body.dump();
        throw new TransferError(`the server sent ${declared} bytes instead of the file's ${options.expectedSize}`, true, state());
    }
    // The server sent the whole file (it ignored the range): start over from byte 0,
    // but only once bytes actually arrive, so an answer that dies at once keeps the partial.
    let restart = rangeStart !== offset;

    // Chunks are hashed as they arrive and written in batches off the main thread (FileHandle.writev), so
    // hashing overlaps the disk writes; the socket is paused while too much is waiting for the disk.
    const output = options.partial;
    // Where the next batch goes: exactly the bytes hashed so far, whatever else happened to the file.
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
            waitingBytes -= bytes;
            if (waitingBytes < MAX_WAITING_BYTES && body.isPaused()) body.resume();
        });
    };
    try {
        await new Promise<void>((resolve, reject) => {
            body.on('data', (chunk: Buffer) => {
                if (failure !== undefined) return;
                if (restart) {
                    offset = 0;
                    position = 0;
                    hash = newHash();
                    restart = false;
                    queue(() => output.truncate(0));
                }
                if (offset + chunk.length > options.expectedSize) {
                    failure = new TransferError(`the server sent more than the ${options.expectedSize} bytes the hub listed`, false, state());
                    body.destroy();
                    return;
                }
                hash.update(chunk);
                offset += chunk.length;
                batch.push(chunk);
                batchBytes += chunk.length;
                options.onBytes(chunk.length, offset);
                if (batchBytes >= BATCH_BYTES) flush();
                else flushTimer ??= setTimeout(flush, FLUSH_AFTER_MS);
                if (waitingBytes >= MAX_WAITING_BYTES) body.pause();
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
    if (offset < options.expectedSize) {
        throw new TransferError(`the connection closed after ${offset} of ${options.expectedSize} bytes`, true, state());
    }
    return state();
}

/** The answer to the first request that is not a redirect, and whether it came from another origin (the CDN). */
async function openResponse(options: TransferOptions, offset: number): Promise<{ response: Dispatcher.ResponseData; crossOrigin: boolean }> {
    let url = new URL(options.url);
    const origin = url.origin;
    for (let redirects = 0; ; redirects++) {
        const headers: Record<string, string> = {
            'accept-encoding': 'identity',
            ...(url.origin === origin ? options.headers : {}),
            'user-agent': HUB_USER_AGENT,
            ...(offset > 0 ? { range: `bytes=${offset}-` } : {}),
        };
        let response: Dispatcher.ResponseData;
        try {
            response = await request(url, {
                method: 'GET',
                headers,
                dispatcher: options.dispatcher,
                signal: options.signal,
                headersTimeout: options.stallTimeoutMs,
                bodyTimeout: options.stallTimeoutMs,
            });
        } catch (error) {
            if (options.signal.aborted) throw error;
            throw new TransferError(describeNetworkError(error), true, { offset, hash: options.hash });
        }
        const location = response.headers.location;
        if (response.statusCode >= 300 && response.statusCode < 400 && typeof location === 'string') {
            await response.body.dump();
            if (redirects >= MAX_REDIRECTS) throw new TransferError('too many redirects', false, { offset, hash: options.hash });
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
    if (code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') return 'the download stalled';
    return code ? `${error.message} (${code})` : error.message;
}
