/**
 * The npm registry as the GPU backends need it: one package version's metadata (tarball URL, sha512 integrity,
 * sizes) and its tarball, fetched with the model downloads' transfer (transfer.ts: stalls, 5xx and truncation
 * are retried with a backoff, each retry resuming by Range from the bytes already on disk) into a partial file
 * that survives a cancel or a crash. Integrity is checked on the finished file at rest, before anything unpacks it.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants, createReadStream, promises as fs } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { HUB_USER_AGENT, maskCredentials } from '../models/hubHttp';
import { TransferError, transferRest } from '../models/transfer';

/** What the registry says about one package version. */
export interface PackageVersionInfo {
    name: string;
    version: string;
    tarballUrl: string;
    /** `sha512-<base64>` from `dist.integrity`. */
    integrity: string;
    /** `dist.unpackedSize`, when given. */
    unpackedBytes?: number;
    /** The tarball's size (HEAD Content-Length), when the registry gives it. */
    downloadBytes?: number;
}

export interface RegistryClientOptions {
    /** Base URL, without a trailing slash. */
    registry: string;
    dispatcher: () => Dispatcher;
    /** No byte for this long ends an attempt. Default 30 s. */
    stallTimeoutMs?: number;
    /** First backoff between attempts, doubled per failure up to 15 s. Default 500 ms. */
    retryBaseDelayMs?: number;
    /** Attempts in a row that bring no new byte before the download fails. Default 5. */
    maxAttemptsWithoutProgress?: number;
}

/** Metadata of one version is a few KB; anything larger is not a version document. */
const MAX_METADATA_BYTES = 4 << 20;

export class RegistryClient {
    constructor(private readonly options: RegistryClientOptions) {}

    get registry(): string {
        return this.options.registry;
    }

    /** The version's metadata and tarball size; a missing version is a clear DownloadFailed. */
    async describe(name: string, version: string, signal?: AbortSignal): Promise<PackageVersionInfo> {
        const url = `${this.options.registry}/${name}/${version}`;
        const response = await this.request(url, 'GET', signal, { accept: 'application/json' });
        const text = await readBounded(response.body, MAX_METADATA_BYTES);
        if (response.statusCode === 404) {
            throw new LocalAiError(ErrorCode.DownloadFailed, `The registry ${this.shown} has no ${name}@${version} (HTTP 404).`, {
                hint: `GPU backends must match node-llama-cpp ${version} exactly: point localAi.gpuRegistry (or npm_config_registry) at a registry or mirror that has it.`,
            });
        }
        if (response.statusCode !== 200) throw this.httpError(response.statusCode, `${name}@${version}`);
        let meta: { name?: unknown; version?: unknown; dist?: { tarball?: unknown; integrity?: unknown; unpackedSize?: unknown } };
        try {
            meta = JSON.parse(text);
        } catch {
            throw new LocalAiError(ErrorCode.DownloadFailed, `The registry ${this.shown} answered ${name}@${version} with something that is not JSON.`);
        }
        const dist = meta.dist ?? {};
        const integrity = typeof dist.integrity === 'string' ? dist.integrity.split(/\s+/).find((each) => each.startsWith('sha512-')) : undefined;
        if (meta.name !== name || meta.version !== version || typeof dist.tarball !== 'string' || !integrity) {
            throw new LocalAiError(
                ErrorCode.DownloadFailed,
                `The registry ${this.shown} describes ${name}@${version} without its name, version, tarball or sha512 integrity; nothing was fetched.`,
            );
        }
        const tarballUrl = new URL(dist.tarball, `${this.options.registry}/`).href;
        const head = await this.head(tarballUrl, signal);
        const length = Number(head.headers['content-length']);
        return {
            name,
            version,
            tarballUrl,
            integrity,
            unpackedBytes: typeof dist.unpackedSize === 'number' ? dist.unpackedSize : undefined,
            downloadBytes: head.statusCode === 200 && Number.isSafeInteger(length) && length > 0 ? length : undefined,
        };
    }

    /**
     * Brings the tarball to `partialPath` (resuming what is there) and checks it against the sha512 integrity.
     * A mismatch deletes the partial and throws ChecksumMismatch. Cancel keeps the partial.
     */
    async download(info: PackageVersionInfo, partialPath: string, onBytes: (received: number, offset: number) => void, signal: AbortSignal): Promise<number> {
        if (info.downloadBytes === undefined) {
            throw new LocalAiError(
                ErrorCode.DownloadFailed,
                `The registry ${this.shown} did not give the size of ${info.name}'s tarball; nothing was fetched.`,
            );
        }
        const expectedSize = info.downloadBytes;
        const partial = await fs.open(partialPath, fsConstants.O_RDWR | fsConstants.O_CREAT | (fsConstants.O_NOFOLLOW ?? 0), 0o644);
        let fetched = 0;
        try {
            let offset = Math.min((await partial.stat()).size, expectedSize);
            let failuresInARow = 0;
            // The hash is checked on the file at rest below, once every byte is there.
            while (offset < expectedSize) {
                const before = offset;
                try {
                    ({ offset } = await transferRest({
                        url: info.tarballUrl,
                        headers: {},
                        dispatcher: this.options.dispatcher(),
                        partial,
                        expectedSize,
                        offset,
                        signal,
                        stallTimeoutMs: this.options.stallTimeoutMs ?? 30_000,
                        refusal: (refusal) => this.httpError(refusal.status, `${info.name}'s tarball`),
                        onBytes: (received) => {
                            fetched += received;
                            offset += received;
                            onBytes(received, offset);
                        },
                        onWritten: () => undefined,
                        // The server ignored the range: the tarball starts over from its first byte.
                        onRestart: () => {
                            offset = 0;
                        },
                    }));
                } catch (error) {
                    if (!(error instanceof TransferError)) throw error;
                    ({ offset } = error.outcome);
                    if (!error.retryable)
                        throw error.refusal ?? new LocalAiError(ErrorCode.DownloadFailed, `Download of ${info.name} failed: ${error.message}.`);
                    failuresInARow = offset > before ? 1 : failuresInARow + 1;
                    const attempts = this.options.maxAttemptsWithoutProgress ?? 5;
                    if (failuresInARow >= attempts) {
                        throw new LocalAiError(
                            ErrorCode.DownloadFailed,
                            `Download of ${info.name} failed after ${attempts} attempts: ${error.message}. ${offset} bytes are kept; enabling again resumes from there.`,
                        );
                    }
                    await delay(error.retryAfterMs ?? Math.min(15_000, (this.options.retryBaseDelayMs ?? 500) * 2 ** (failuresInARow - 1)), undefined, {
                        signal,
                    });
                }
            }
            await partial.truncate(expectedSize);
        } finally {
            await partial.close();
        }
        const actual = `sha512-${await sha512Base64(partialPath)}`;
        if (actual !== info.integrity) {
            await fs.rm(partialPath, { force: true });
            throw new LocalAiError(
                ErrorCode.ChecksumMismatch,
                `${info.name}@${info.version} arrived corrupted: its sha512 (${actual.slice(7, 19)}…) is not the registry's integrity (${info.integrity.slice(7, 19)}…). Nothing was installed and the bad bytes were deleted.`,
                { hint: 'Enable GPU acceleration again to fetch a fresh copy; if it happens again, the registry or a proxy alters the file.' },
            );
        }
        return fetched;
    }

    private get shown(): string {
        return maskCredentials(this.options.registry);
    }

    private httpError(status: number, what: string): LocalAiError {
        return new LocalAiError(ErrorCode.DownloadFailed, `The registry ${this.shown} answered HTTP ${status} for ${what}.`);
    }

    /** HEAD, following the registry's redirects to where tarballs live (a CDN, a mirror's storage). */
    private async head(url: string, signal?: AbortSignal): Promise<Dispatcher.ResponseData> {
        let at = url;
        for (let redirects = 0; ; redirects++) {
            const response = await this.request(at, 'HEAD', signal);
            await response.body.dump();
            const location = response.headers.location;
            if (response.statusCode < 300 || response.statusCode >= 400 || typeof location !== 'string' || redirects >= 5) return response;
            at = new URL(location, at).href;
        }
    }

    private async request(url: string, method: 'GET' | 'HEAD', signal?: AbortSignal, headers: Record<string, string> = {}): Promise<Dispatcher.ResponseData> {
        const timeout = this.options.stallTimeoutMs ?? 30_000;
        try {
            return await request(url, {
                method,
                headers: { 'user-agent': HUB_USER_AGENT, ...headers },
                dispatcher: this.options.dispatcher(),
                signal,
                headersTimeout: timeout,
                bodyTimeout: timeout,
            });
        } catch (error) {
            if (signal?.aborted) throw error;
            const reason = error instanceof Error ? error.message : String(error);
            throw new LocalAiError(ErrorCode.NetworkError, `Could not reach the registry ${this.shown}: ${maskCredentials(reason)}.`, {
                hint: 'Check the network and proxy, or set localAi.gpuRegistry to a mirror you can reach.',
            });
        }
    }
}

async function readBounded(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
        size += chunk.length;
        if (size > max) {
            body.destroy();
            throw new LocalAiError(ErrorCode.DownloadFailed, `The registry's answer is larger than ${max} bytes.`);
        }
        chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
}

async function sha512Base64(file: string): Promise<string> {
    const hash = createHash('sha512');
    for await (const chunk of createReadStream(file)) hash.update(chunk);
    return hash.digest('base64');
}
