/**
 * One HTTP/1.1 GET read straight from its socket, for a download's bytes when no proxy applies. A socket read
 * through a stream (undici's, node:http's) allocates a fresh 64 KiB buffer for every read and parses each in
 * JavaScript: about 2 CPU-seconds per GiB on loopback before a byte is written, four times curl's whole cost.
 * Here the socket reads into 1 MiB slabs it is handed (net's `onread`), each read as large as the kernel has,
 * and the body is passed on as views of those slabs: no copy, a few hundred reads per GiB. The writer hands
 * each view back once it is on disk (`release`), and a full slab none of whose views is out is read into again:
 * a fresh slab per MiB made V8 collect garbage for about half a CPU-second per GiB, for the external memory
 * alone. A view never handed back keeps its slab out of reuse (the garbage collector frees it as before).
 * Only what a download needs is spoken:
 * `Connection: close`, a body delimited by Content-Length or by the close; a chunked 2xx answer is left to the
 * dispatcher (`undefined`).
 */
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';

/** Bytes one read may fill; a slab with less than MIN_READ_BYTES left is retired for a fresh one. */
const SLAB_BYTES = 1 << 20;
const MIN_READ_BYTES = 64 << 10;
/** A status line and headers longer than this are not a file server's answer. */
const MAX_HEAD_BYTES = 64 << 10;

export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface SocketResponse {
    statusCode: number;
    headers: ResponseHeaders;
    body: SocketBody;
}

export interface SocketRequestOptions {
    /** Sent as they are, after `Host` and before `Connection: close`. */
    headers: Record<string, string>;
    signal: AbortSignal;
    /** No byte for this long (while connecting, before the headers, or in the body) ends the request with StalledSocketError. */
    stallTimeoutMs: number;
}

/** The server went quiet for longer than the stall timeout. */
export class StalledSocketError extends Error {}

/** Whether HTTP(S)_PROXY (either case) is set: undici's EnvHttpProxyAgent would then route through it. */
export function environmentProxy(env: NodeJS.ProcessEnv = process.env): boolean {
    return ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((name) => Boolean(env[name]));
}

/**
 * The body of a SocketResponse, with the part of a stream's interface the download uses: 'data' (views of
 * slabs), then 'end' when Content-Length bytes arrived or the server closed, 'error', and 'close' last.
 */
interface SocketBodyEvents {
    data: [Buffer];
    end: [];
    error: [Error];
    close: [];
}

/**
 * One request's slabs: the one being read into, and the full ones waiting for their views to come back.
 * A slab is known by its ArrayBuffer, which every view of it shares.
 */
class SlabPool {
    /** Views of each slab given out and not handed back. */
    private readonly lent = new Map<ArrayBufferLike, number>();
    /** Full slabs (no longer read into), by their ArrayBuffer. */
    private readonly full = new Map<ArrayBufferLike, Buffer>();
    private readonly free: Buffer[] = [];

    take(): Buffer {
        return this.free.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES);
    }

    /** `slab` is full: it is read into again once its views are back. */
    retire(slab: Buffer): void {
        this.full.set(slab.buffer, slab);
        this.recycle(slab.buffer);
    }

    /** `view` (of a slab, or of any other buffer, which is ignored) is given out. */
    lend(view: Buffer): void {
        this.lent.set(view.buffer, (this.lent.get(view.buffer) ?? 0) + 1);
    }

    /** `view`, given out with `lend`, is no longer used by anyone. */
    release(view: Buffer): void {
        const out = this.lent.get(view.buffer);
        if (out === undefined) return;
        if (out > 1) this.lent.set(view.buffer, out - 1);
        else this.lent.delete(view.buffer);
        this.recycle(view.buffer);
    }

    private recycle(key: ArrayBufferLike): void {
        const slab = this.full.get(key);
        if (!slab || this.lent.has(key)) return;
        this.full.delete(key);
        this.free.push(slab);
    }
}

export class SocketBody extends EventEmitter<SocketBodyEvents> {
    private paused = false;
    private remaining: number;
    private finished = false;
    private first: Buffer | undefined;

    constructor(
        private readonly socket: net.Socket,
        /** Content-Length; Infinity: until the server closes. */
        length: number,
        private readonly stallTimeoutMs: number,
        /** Body bytes that came with the head. */
        first: Buffer,
        private readonly slabs: SlabPool,
    ) {
        super();
        this.remaining = length;
        // The socket was paused after the head: nothing is read (nor lost) until the caller listens for the bytes.
        this.first = first;
    }

    /** The first 'data' listener starts the flow, once the caller's other listeners are on too (the same tick). */
    override on<K extends keyof SocketBodyEvents>(event: K, listener: (...args: SocketBodyEvents[K]) => void): this {
        super.on(event, listener as never);
        const first = this.first;
        if (event === 'data' && first) {
            this.first = undefined;
            queueMicrotask(() => {
                this.receive(first);
                if (this.remaining === 0) this.end();
                if (!this.paused && !this.finished) this.socket.resume();
            });
        }
        return this;
    }

    isPaused(): boolean {
        return this.paused;
    }

    pause(): void {
        this.paused = true;
        // A writer that waits for the disk is not a stalled server.
        this.socket.setTimeout(0);
        this.socket.pause();
    }

    resume(): void {
        if (!this.paused) return;
        this.paused = false;
        this.socket.setTimeout(this.stallTimeoutMs);
        this.socket.resume();
    }

    destroy(error?: Error): void {
        this.socket.destroy(error);
    }

    /** The views given out with 'data' that are on disk: their slabs are read into again. */
    release(chunks: readonly Buffer[]): void {
        for (const chunk of chunks) this.slabs.release(chunk);
    }

    /** Drops the rest of the answer: the connection is never reused, so it just closes. */
    async dump(): Promise<void> {
        this.finished = true;
        this.socket.destroy();
    }

    /** @internal The socket's bytes past the head, in order. */
    receive(chunk: Buffer): void {
        if (this.finished || chunk.length === 0 || this.remaining === 0) return;
        const bytes = chunk.length > this.remaining ? chunk.subarray(0, this.remaining) : chunk;
        this.remaining -= bytes.length;
        this.slabs.lend(bytes);
        this.emit('data', bytes);
        if (this.remaining === 0) this.end();
    }

    /** @internal The server closed, or all of Content-Length arrived. */
    end(): void {
        if (this.finished) return;
        this.finished = true;
        this.emit('end');
        this.socket.destroy();
    }
}

/** Sends the GET and resolves with the status and headers; `undefined` when a 2xx body is chunked (not spoken here). */
export function requestOverSocket(url: URL, options: SocketRequestOptions): Promise<SocketResponse | undefined> {
    const secure = url.protocol === 'https:';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port) || (secure ? 443 : 80);
    const slabs = new SlabPool();
    let slab = slabs.take();
    let used = 0;
    const onread = {
        buffer: () => {
            if (slab.length - used < MIN_READ_BYTES) {
                slabs.retire(slab);
                slab = slabs.take();
                used = 0;
            }
            return slab.subarray(used);
        },
        callback: (bytes: number, buffer: Buffer) => {
            used += bytes;
            received(buffer.subarray(0, bytes));
            return true;
        },
    };
    const socket = secure
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'], onread } as tls.ConnectionOptions)
        : net.connect({ host, port, onread } as net.NetConnectOpts);
    socket.setTimeout(options.stallTimeoutMs);
    const head = Object.entries({ host: url.host, ...options.headers, connection: 'close' })
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('');
    socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\n${head}\r\n`);

    let headBytes: Buffer[] = [];
    let body: SocketBody | undefined;
    let received: (chunk: Buffer) => void = () => undefined;
    const onAbort = () => socket.destroy(options.signal.reason instanceof Error ? options.signal.reason : new Error('aborted'));
    options.signal.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => options.signal.removeEventListener('abort', onAbort));
    socket.on('timeout', () => socket.destroy(new StalledSocketError(`no byte for ${options.stallTimeoutMs} ms`)));

    return new Promise<SocketResponse | undefined>((resolve, reject) => {
        received = (chunk) => {
            headBytes.push(chunk);
            const gathered = headBytes.length === 1 ? chunk : Buffer.concat(headBytes);
            const parsed = parseHead(gathered);
            if (parsed === 'incomplete') {
                if (gathered.length > MAX_HEAD_BYTES) socket.destroy(new Error(`the server's headers run past ${MAX_HEAD_BYTES} bytes`));
                else headBytes = [gathered];
                return;
            }
            if (parsed instanceof Error) {
                socket.destroy(parsed);
                return;
            }
            const { statusCode, headers, bodyStart } = parsed;
            // Only a body that is kept matters: a redirect's or a refusal's is dropped however it is framed.
            if (statusCode >= 200 && statusCode < 300 && String(headers['transfer-encoding'] ?? '').length > 0) {
                socket.destroy();
                resolve(undefined);
                return;
            }
            const declared = Number(headers['content-length'] ?? Number.NaN);
            const length = Number.isSafeInteger(declared) && declared >= 0 ? declared : Number.POSITIVE_INFINITY;
            socket.pause();
            body = new SocketBody(socket, length, options.stallTimeoutMs, gathered.subarray(bodyStart), slabs);
            const opened = body;
            received = (more) => opened.receive(more);
            resolve({ statusCode, headers, body });
        };
        socket.on('end', () => {
            if (body) body.end();
            else reject(new Error('the server closed the connection before its headers'));
        });
        socket.on('error', (error) => {
            if (body) {
                if (body.listenerCount('error') > 0) body.emit('error', error);
            } else reject(error);
        });
        socket.on('close', () => {
            if (body) body.emit('close');
            else reject(new Error('the connection closed before the server answered'));
        });
    });
}

interface ParsedHead {
    statusCode: number;
    headers: ResponseHeaders;
    bodyStart: number;
}

/** The first final (non-1xx) status line and headers in `bytes`, 'incomplete' while their blank line has not arrived. */
function parseHead(bytes: Buffer): ParsedHead | Error | 'incomplete' {
    let start = 0;
    for (;;) {
        const end = bytes.indexOf('\r\n\r\n', start, 'latin1');
        if (end < 0) return 'incomplete';
        const [statusLine, ...lines] = bytes.toString('latin1', start, end).split('\r\n');
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
        if (!status) return new Error(`the server answered "${statusLine.slice(0, 80)}", not HTTP/1.1`);
        const statusCode = Number(status[1]);
        start = end + 4;
        if (statusCode >= 100 && statusCode < 200) continue;
        const headers: ResponseHeaders = {};
        for (const line of lines) {
            const colon = line.indexOf(':');
            if (colon <= 0) continue;
            const name = line.slice(0, colon).trim().toLowerCase();
            const value = line.slice(colon + 1).trim();
            const previous = headers[name];
            headers[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
        }
        return { statusCode, headers, bodyStart: start };
    }
}
