/**
 * The sha256 of a partial, computed off the socket's thread. A worker reads the file's contiguous prefix back
 * through the download's own descriptor (never through its name) as it grows, so the socket's thread only
 * receives and writes, and the hash covers the bytes at rest rather than those that passed through memory.
 * Parallel parts land out of order; the prefix grows as the parts before it complete, and what is left is
 * hashed at the end. Reading back costs a copy from the page cache, far less than the hash itself.
 */
import { Worker } from 'node:worker_threads';

/**
 * The worker, as source: the sidecar is one bundled file, so the worker travels inside it (eval) instead of
 * as a second entry point that a package could lose. It hashes up to the highest `upTo` it was told, and
 * answers `digest` once everything asked for is hashed; a failed read is kept until the next reset or digest.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { readSync } = require('node:fs');
const buffer = Buffer.allocUnsafe(1 << 20);
let hash = createHash('sha256');
let hashed = 0;
let target = 0;
let failure;
parentPort.on('message', (message) => {
    if (message.reset) {
        hash = createHash('sha256');
        hashed = 0;
        target = 0;
        failure = undefined;
    }
    if (message.upTo > target) target = message.upTo;
    while (failure === undefined && hashed < target) {
        try {
            const read = readSync(workerData.fd, buffer, 0, Math.min(buffer.length, target - hashed), hashed);
            if (read === 0) failure = 'the partial file ended at byte ' + hashed;
            else {
                hash.update(buffer.subarray(0, read));
                hashed += read;
            }
        } catch (error) {
            failure = String(error && error.message);
        }
    }
    if (message.digest) parentPort.postMessage(failure === undefined ? { digest: hash.digest('hex'), hashed } : { failure, hashed });
});
`;

export class PrefixHasher {
    private readonly worker: Worker;
    private advancedTo = 0;
    private disposed = false;

    /** `fd`: the partial's descriptor, open for as long as this hasher lives. */
    constructor(fd: number) {
        this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { fd } });
        // Unreferenced: a hasher waiting for bytes must not keep a finished process alive.
        this.worker.unref();
    }

    /** The first `bytes` of the file are written: hash up to there, in the background. */
    advance(bytes: number): void {
        if (bytes <= this.advancedTo || this.disposed) return;
        this.advancedTo = bytes;
        this.worker.postMessage({ upTo: bytes });
    }

    /** The file starts over from byte 0 (the server ignored a range and sent the whole file). */
    reset(): void {
        this.advancedTo = 0;
        this.worker.postMessage({ reset: true });
    }

    /** The hex sha256 of the first `bytes` of the file, once the worker has read them all. */
    async digest(bytes: number): Promise<string> {
        this.advancedTo = bytes;
        this.worker.ref();
        try {
            const answer = new Promise<{ digest?: string; failure?: string; hashed: number }>((resolve, reject) => {
                this.worker.once('message', resolve);
                this.worker.once('error', reject);
            });
            this.worker.postMessage({ upTo: bytes, digest: true });
            const { digest, failure, hashed } = await answer;
            if (digest === undefined || hashed !== bytes) throw new Error(`Could not hash the download: ${failure ?? `${hashed} of ${bytes} bytes read`}`);
            return digest;
        } finally {
            this.worker.unref();
        }
    }

    /** Idempotent; call before the descriptor closes. */
    async dispose(): Promise<void> {
        if (this.disposed) return;
        this.disposed = true;
        await this.worker.terminate();
    }
}
