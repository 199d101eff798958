/**
 * Fetches what the parts of a download lack, each part on its own connection with its own retries, all
 * writing through the partial's one descriptor. One part is the plain single stream (`bytes=N-`, and a server
 * that ignores the range starts the file over). With several, the first unfinished part asks alone until its
 * range is answered; a server that answers with the whole file does not serve ranges, and the download goes
 * on as one stream from the bytes already contiguous. The journal records each part's progress as it goes.
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { contiguousPrefix, type FilePart, isComplete, writtenBytes } from './fileParts';
import { TransferError, type TransferOptions, transferRest } from './transfer';

/** How long a download waits out the hub's rate limit, all waits together, before it gives up (and keeps the partial). */
const MAX_RATE_LIMIT_WAIT_MS = 10 * 60_000;
/** The journal is saved at most this often while parts advance (and after every attempt). */
const SAVE_EVERY_MS = 500;
/** Bytes the sockets may hold before the disk takes them, over all connections (at least 1 MiB a write each, and one more waiting). */
const WAITING_BYTES_IN_ALL = 32 << 20;

export interface PartsFetchOptions {
    /** What every attempt shares: the URL, headers, the partial, the file's size. */
    transfer: Pick<TransferOptions, 'url' | 'headers' | 'dispatcher' | 'direct' | 'partial' | 'expectedSize' | 'stallTimeoutMs' | 'refusal'>;
    /** The parts, as planned or resumed; updated in place as bytes are written. */
    parts: FilePart[];
    /** Parts fetched at once, each on its own connection. */
    connections: number;
    signal: AbortSignal;
    /** The file's name in messages, and the partial's path for errors. */
    file: string;
    partialPath: string;
    /** Attempts in a row that fetch nothing before a part gives up. Default 5. */
    maxAttemptsWithoutProgress?: number;
    /** First backoff delay, doubled per failed attempt up to 15 s. Default 500 ms. */
    retryBaseDelayMs?: number;
    /** Total wait a part gives the hub's rate limit before it fails. Default 10 min. */
    maxRateLimitWaitMs?: number;
    /** Bytes from 0 now contiguous in the partial (to hash); starts over at 0 after onRestart. */
    onPrefix(bytes: number): void;
    /** The file starts over from byte 0. */
    onRestart(): void;
    /** After each chunk received: its size, and the bytes now received over all parts. */
    onBytes(received: number, total: number): void;
    /** An attempt failed and is retried after `waitMs`. */
    onRetry(message: string, waitMs: number): void;
    /** Saves the parts in the journal; undefined: the partial is one stream (its size says how far it got). */
    saveParts(parts: FilePart[] | undefined): Promise<void>;
}

/** Resolves when every part is written; returns the bytes fetched. Aborts every part at the first that fails. */
export async function fetchParts(options: PartsFetchOptions): Promise<number> {
    let fetched = 0;
    let received = writtenBytes(options.parts);
    const journal = new JournalSaver(options);
    const onBytes = (bytes: number) => {
        fetched += bytes;
        received += bytes;
        options.onBytes(bytes, received);
    };
    try {
        if (options.parts.length > 1) {
            const outcome = await fetchInParallel(options, onBytes, journal);
            if (outcome === 'done') return fetched;
            // The server does not serve ranges: one stream on from the contiguous bytes, beyond which nothing counts.
            const prefix = contiguousPrefix(options.parts);
            await journal.idle();
            await options.transfer.partial.truncate(prefix);
            options.parts.splice(0, options.parts.length, { start: 0, end: options.transfer.expectedSize, written: prefix });
            await options.saveParts(undefined);
            received = prefix;
        }
        const onRestart = () => {
            received = 0;
            options.onRestart();
        };
        await fetchPart(options.parts[0], { ...options, single: true, signal: options.signal, onBytes, onRestart, journal });
        return fetched;
    } finally {
        await journal.idle();
    }
}

/**
 * Up to `connections` connections, each taking the next unfinished part in file order, so the contiguous
 * prefix (what can be hashed) grows while the parts arrive instead of all at the end. 'done', or 'no ranges'
 * when the server answered a range with the whole file (the other parts are then stopped).
 */
async function fetchInParallel(options: PartsFetchOptions, onBytes: (bytes: number) => void, journal: JournalSaver): Promise<'done' | 'no ranges'> {
    const pending = options.parts.filter((part) => !isComplete(part));
    if (pending.length === 0) return 'done';
    const connections = Math.min(pending.length, Math.max(1, options.connections));
    const stop = new AbortController();
    // Every connection's request and backoff listens to it.
    setMaxListeners(4 * connections + 10, stop.signal);
    const onAbort = () => stop.abort();
    options.signal.addEventListener('abort', onAbort, { once: true });
    // The first unfinished part asks alone: the others start once its range was answered with bytes.
    let open: () => void = () => undefined;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const waitForOpen = async () => {
        await Promise.race([opened, new Promise((resolve) => stop.signal.addEventListener('abort', resolve, { once: true }))]);
        stop.signal.throwIfAborted();
    };
    const context = { ...options, single: false, signal: stop.signal, onBytes, journal, waitingBytes: WAITING_BYTES_IN_ALL / connections };
    let next = 0;
    let failure: unknown;
    const connection = async (first: boolean) => {
        try {
            if (first) await fetchPart(pending[next++], { ...context, onFirstBytes: open });
            else await waitForOpen();
            for (let part = pending[next++]; part; part = pending[next++]) await fetchPart(part, context);
        } catch (error) {
            if (failure === undefined && !stop.signal.aborted) failure = error;
            stop.abort();
        } finally {
            if (first) open();
        }
    };
    try {
        await Promise.all(Array.from({ length: connections }, (_, index) => connection(index === 0)));
    } finally {
        options.signal.removeEventListener('abort', onAbort);
    }
    options.signal.throwIfAborted();
    if (failure instanceof TransferError && failure.rangesRefused) return 'no ranges';
    if (failure !== undefined) throw failure;
    return 'done';
}

interface PartContext extends PartsFetchOptions {
    /** The only part: asked for as the rest of the file, and the file starts over when the server ignores the range. */
    single: boolean;
    journal: JournalSaver;
    /** Bytes this part's socket may hold before the disk takes them. Default 16 MiB. */
    waitingBytes?: number;
    onBytes(received: number): void;
    /** Called once, when this part's first bytes are written. */
    onFirstBytes?: () => void;
}

/** Retries one part until it is written, backing off while no attempt makes progress. */
async function fetchPart(part: FilePart, context: PartContext): Promise<void> {
    const { file, partialPath, signal } = context;
    let failuresInARow = 0;
    let rateLimitedMs = 0;
    while (!isComplete(part)) {
        const before = part.written;
        try {
            await transferRest({
                ...context.transfer,
                offset: part.start + part.written,
                end: context.single ? undefined : part.end,
                maxWaitingBytes: context.waitingBytes,
                signal,
                onBytes: context.onBytes,
                onWritten: (position) => {
                    part.written = position - part.start;
                    context.onFirstBytes?.();
                    context.onPrefix(contiguousPrefix(context.parts));
                    context.journal.schedule();
                },
                onRestart: () => {
                    part.written = 0;
                    context.onRestart();
                },
            });
            context.journal.schedule();
        } catch (error) {
            if (!(error instanceof TransferError)) throw error;
            context.journal.schedule();
            if (!error.retryable) {
                if (error.rangesRefused) throw error;
                throw error.refusal ?? new LocalAiError(ErrorCode.DownloadFailed, `Download of ${file} failed: ${error.message}.`, { file: partialPath });
            }
            failuresInARow = part.written > before || error.rateLimited ? 1 : failuresInARow + 1;
            const wait = error.retryAfterMs ?? Math.min(15_000, (context.retryBaseDelayMs ?? 500) * 2 ** (failuresInARow - 1));
            // A rate limit is the hub asking for time, not a failure: waited out as asked, up to a total cap.
            rateLimitedMs += error.rateLimited ? wait : 0;
            if (rateLimitedMs > (context.maxRateLimitWaitMs ?? MAX_RATE_LIMIT_WAIT_MS)) {
                throw new LocalAiError(
                    ErrorCode.DownloadFailed,
                    `The hub kept rate-limiting the download of ${file}. ${writtenBytes(context.parts)} bytes are kept; downloading again later resumes from there.`,
                    { file: partialPath, hint: 'Signing in with a Hugging Face token raises the limit.' },
                );
            }
            const attempts = context.maxAttemptsWithoutProgress ?? 5;
            if (failuresInARow >= attempts) {
                throw new LocalAiError(
                    ErrorCode.DownloadFailed,
                    `Download of ${file} failed after ${attempts} attempts: ${error.message}. ${writtenBytes(context.parts)} bytes are kept; downloading again resumes from there.`,
                    { file: partialPath },
                );
            }
            context.onRetry(error.message, wait);
            await delay(wait, undefined, { signal });
        }
    }
}

/** Saves the parts at most every SAVE_EVERY_MS, one save at a time (a single stream needs no parts saved). */
class JournalSaver {
    private timer: NodeJS.Timeout | undefined;
    private saving: Promise<void> = Promise.resolve();

    constructor(private readonly options: PartsFetchOptions) {}

    schedule(): void {
        if (this.timer || this.options.parts.length < 2) return;
        this.timer = setTimeout(() => {
            this.timer = undefined;
            const snapshot = this.options.parts.map((part) => ({ ...part }));
            this.saving = this.saving.then(() => this.options.saveParts(snapshot)).catch(() => undefined);
        }, SAVE_EVERY_MS);
    }

    /** Saves what is pending now, and waits for every save. */
    async idle(): Promise<void> {
        if (this.timer) {
            clearTimeout(this.timer);
            this.timer = undefined;
            const snapshot = this.options.parts.map((part) => ({ ...part }));
            this.saving = this.saving.then(() => this.options.saveParts(snapshot)).catch(() => undefined);
        }
        await this.saving;
    }
}
