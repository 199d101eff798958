/**
 * Downloads hub files into the store: one transfer per file however many ask for it, at most
 * `maxConcurrentDownloads` at once, resumable across restarts (partial + journal), hashed while
 * writing and installed by an atomic rename only after the sha256 matched the hub's LFS hash.
 * One writer per file across processes too: the partial's lock (fileLock.ts) is taken before the
 * partial is touched; a process that finds it held shows the other one's progress and waits.
 */
import { ErrorCode, LocalAiError } from '../../common/errors';
import type { DownloadProgress, ModelEntry, ModelFile } from '../../common/models';
import type { DownloadResult } from '../../common/protocol';
import type { SidecarContext } from '../context';
import { Emitter } from '../events';
import { checkDiskSpace, diskFullError } from './diskSpace';
import { DownloadSlots } from './downloadSlots';
import { fileSystemError } from './fileSystemError';
import type { HubClient } from './hub';
import { SpeedMeter } from './speedMeter';
import { assertHoldsExactly, openPartial, sha256OfFile, type PartialFile } from './partialFile';
import type { InstalledFile, ModelStore, StorePaths } from './store';
import { lockPartial, resumeState } from './partialClaim';
import { contiguousPrefix, DEFAULT_CONNECTIONS, type PartPlanOptions, writtenBytes } from './fileParts';
import { fetchParts } from './partsFetch';
import { PrefixHasher } from './prefixHasher';
import { environmentProxy } from './socketResponse';

/** `connections` and `minPartBytes`: how a large file is split into parallel range parts (fileParts.ts). */
export interface DownloadManagerOptions extends PartPlanOptions {
    context: SidecarContext;
    store: ModelStore;
    hub: HubClient;
    /** Attempts in a row that fetch nothing before giving up. Default 5. */
    maxAttemptsWithoutProgress?: number;
    /** First backoff delay, doubled per failed attempt up to 15 s. Default 500 ms. */
    retryBaseDelayMs?: number;
    /** No byte for this long ends an attempt. Default 30 s. */
    stallTimeoutMs?: number;
    /** Total wait a download gives the hub's rate limit before it fails (the partial is kept). Default 10 min. */
    maxRateLimitWaitMs?: number;
    /** Free bytes on the disk holding `folder`. Default: fs.statfs. */
    freeDiskBytes?: (folder: string) => Promise<number>;
    /** How often a download waiting for another process's lock looks again. Default 250 ms. */
    lockPollMs?: number;
}

export interface DownloadJob {
    entry: ModelEntry;
    file: ModelFile;
    /** Aborting detaches this requester; the transfer stops when no requester is left. */
    signal?: AbortSignal;
    onProgress?: (progress: DownloadProgress) => void;
    /** What the status (the editor's status bar) shows of this transfer: a split GGUF's part as its whole model. Default: the file's own progress. */
    statusProgress?: (progress: DownloadProgress) => DownloadProgress;
    /** Answer with a `replaceOffer` instead of replacing a copy of another commit. Default false. */
    askBeforeReplacing?: boolean;
    /** Fetch again even when installed (a damaged copy), from `commit` when known (else the revision, resolved). */
    repair?: { commit?: string };
}

interface DownloadState {
    key: string;
    entry: ModelEntry;
    file: ModelFile;
    askBeforeReplacing: boolean;
    repair?: { commit?: string };
    controller: AbortController;
    listeners: Set<(progress: DownloadProgress) => void>;
    requesters: number;
    progress: DownloadProgress;
    statusProgress?: (progress: DownloadProgress) => DownloadProgress;
}

interface RunningDownload extends DownloadState {
    done: Promise<DownloadResult>;
}

/** Tells (`state`) whenever a download starts, finishes, fails or is cancelled. */
export class DownloadManager extends Emitter<{ state: [DownloadProgress] }> {
    private readonly running = new Map<string, RunningDownload>();
    private readonly slots = new DownloadSlots(() => this.options.context.settings.maxConcurrentDownloads);
    private disposed = false;

    constructor(private readonly options: DownloadManagerOptions) {
        super();
    }

    /** Resolves when the file is installed and verified; joins a transfer already running for it. */
    download(job: DownloadJob): Promise<DownloadResult> {
        const repo = job.entry.repo;
        if (!repo) throw new LocalAiError(ErrorCode.InvalidParams, `${job.entry.name} is not on the hub, so there is nothing to download.`);
        const key = `${repo}/${job.file.file}`;
        const download = this.running.get(key) ?? this.start(key, job);
        return this.attach(download, job);
    }

    isDownloading(modelId: string, quant?: string): boolean {
        return [...this.running.values()].some((d) => d.entry.id === modelId && (!quant || d.file.quant === quant));
    }

    /** The progress of the running download of one hub file, if any. */
    progressOf(repo: string, file: string): DownloadProgress | undefined {
        return this.running.get(`${repo}/${file}`)?.progress;
    }

    /** Stops the transfer of one file and waits until it has let go of the partial (before a delete). */
    async stop(repo: string, file: string): Promise<void> {
        const download = this.running.get(`${repo}/${file}`);
        if (!download) return;
        download.controller.abort();
        await download.done.catch(() => undefined);
    }

    /** Whether a partial file belongs to a running download (cleanup must not touch it). */
    isPartialInUse(partialPath: string): boolean {
        return [...this.running.values()].some((d) => this.options.store.paths(d.entry.repo ?? '', d.file.file).partial === partialPath);
    }

    active(): DownloadProgress[] {
        return [...this.running.values()].map((d) => d.progress);
    }

    /** Stops the transfer for every requester; the partial stays for a later resume. */
    cancel(modelId: string, quant?: string): boolean {
        let cancelled = false;
        for (const d of this.running.values()) {
            if (d.entry.id === modelId && (!quant || d.file.quant === quant)) {
                d.controller.abort();
                cancelled = true;
            }
        }
        return cancelled;
    }

    async dispose(): Promise<void> {
        if (this.disposed) return;
        this.disposed = true;
        const running = [...this.running.values()];
        for (const d of running) d.controller.abort();
        await Promise.allSettled(running.map((d) => d.done));
    }

    private start(key: string, job: DownloadJob): RunningDownload {
        const state: DownloadState = {
            key,
            entry: job.entry,
            file: job.file,
            askBeforeReplacing: job.askBeforeReplacing ?? false,
            repair: job.repair,
            controller: new AbortController(),
            listeners: new Set(),
            requesters: 0,
            statusProgress: job.statusProgress,
            progress: {
                modelId: job.entry.id,
                quant: job.file.quant,
                name: job.entry.name,
                receivedBytes: 0,
                totalBytes: job.file.sizeBytes,
                bytesPerSecond: 0,
                state: 'queued',
            },
        };
        const download: RunningDownload = Object.assign(state, { done: this.run(state).finally(() => this.running.delete(key)) });
        this.running.set(key, download);
        download.done.catch(() => undefined);
        return download;
    }

    private async attach(download: RunningDownload, job: DownloadJob): Promise<DownloadResult> {
        download.requesters++;
        if (job.onProgress) {
            download.listeners.add(job.onProgress);
            job.onProgress(download.progress);
        }
        const detach = () => {
            if (job.onProgress) download.listeners.delete(job.onProgress);
            if (--download.requesters === 0) download.controller.abort();
        };
        if (job.signal?.aborted) detach();
        job.signal?.addEventListener('abort', detach, { once: true });
        try {
            return await download.done;
        } finally {
            job.signal?.removeEventListener('abort', detach);
            if (!job.signal?.aborted && job.onProgress) download.listeners.delete(job.onProgress);
        }
    }

    private report(download: DownloadState, update: Partial<DownloadProgress>): void {
        download.progress = { ...download.progress, ...update };
        for (const listener of download.listeners) listener(download.progress);
        this.options.context.status.setDownload(download.statusProgress?.(download.progress) ?? download.progress);
        if (update.state && update.state !== 'downloading') this.emit('state', download.progress);
    }

    private async run(download: DownloadState): Promise<DownloadResult> {
        const { entry, file, controller } = download;
        const repo = entry.repo ?? '';
        const signal = controller.signal;
        this.report(download, { state: 'queued' });
        try {
            await this.slots.acquire(signal);
            try {
                const result = await this.fetchFile(download, repo, signal);
                this.report(download, { state: 'done', receivedBytes: download.progress.totalBytes, etaSeconds: 0 });
                return result;
            } finally {
                this.slots.release();
            }
        } catch (error) {
            if (signal.aborted) {
                this.report(download, { state: 'cancelled', message: 'Cancelled; the partial file is kept for a resume.' });
                throw new LocalAiError(ErrorCode.Cancelled, `Download of ${entry.name} ${file.quant} cancelled; it will resume from where it stopped.`);
            }
            const reported =
                error instanceof LocalAiError
                    ? error
                    : (diskFullError(error, this.options.store.paths(repo, file.file).partial) ??
                      fileSystemError(error, this.options.store.paths(repo, file.file).partial) ??
                      new LocalAiError(ErrorCode.DownloadFailed, String(error)));
            this.report(download, { state: 'failed', message: reported.message });
            throw reported;
        }
    }

    /**
     * Pins the revision to one commit, answers from the store when that commit (or the same bytes) is
     * installed, and otherwise fetches the file from that commit; a copy of another commit is replaced only
     * once the new one is verified (one copy per path). Offline, the installed copy is used whatever its commit.
     */
    private async fetchFile(download: DownloadState, repo: string, signal: AbortSignal): Promise<DownloadResult> {
        const { entry, file } = download;
        const { store, hub, context } = this.options;
        const revision = entry.revision ?? 'main';
        const paths = store.paths(repo, file.file);
        const installed = await store.installed(repo, file.file);
        const already = (): DownloadResult => ({ modelId: entry.id, quant: file.quant, path: paths.file, downloaded: false, bytesFetched: 0 });
        if (installed && hub.isOffline() && !download.repair) return already();

        const commit = download.repair?.commit ?? (await hub.resolveCommit(repo, revision));
        if (installed && !download.repair && installed.manifest.commit === commit) return already();
        const info = await hub.fileInfo(repo, file.file, commit);
        const current = installed && !download.repair ? installed.manifest : undefined;
        if (current && info.sha256 && current.sha256 === info.sha256 && current.sizeBytes === info.sizeBytes) {
            // The revision moved but this file did not: the same bytes, now known to be at `commit` too.
            await store.recordCommit(paths, { ...current, revision, commit });
            return already();
        }
        const replaced = current && { revision: current.revision ?? 'main', commit: current.commit };
        if (replaced && download.askBeforeReplacing) return { ...already(), replaceOffer: { installed: replaced, incoming: { revision, commit } } };
        // An installed file's listed sha256 is its manifest's: a moved revision differs from it by design.
        if (!installed && file.sha256 && info.sha256 && file.sha256 !== info.sha256) {
            context.log.warn(`${repo}/${file.file}: the catalog's sha256 differs from the hub's; the hub's is used.`);
        }
        const expectedSha = info.sha256 ?? file.sha256;
        const lock = await lockPartial(store, paths, info.sizeBytes, {
            signal,
            pollMs: this.options.lockPollMs,
            onWait: (update) => this.report(download, update),
        });
        try {
            // The process we waited for (or one that finished just before we looked) may have installed these bytes.
            const done = download.repair ? undefined : await this.verifiedInstall(download, repo, expectedSha, signal);
            if (done) return { modelId: entry.id, quant: file.quant, path: done.path, downloaded: false, bytesFetched: 0 };
            const partial = await openPartial(paths.partial);
            try {
                const result = await this.fetchClaimed(download, { repo, revision, commit, paths, partial, sizeBytes: info.sizeBytes, expectedSha }, signal);
                if (replaced)
                    context.log.info(
                        `${repo}/${file.file}: replaced ${replaced.revision} (${replaced.commit ?? 'commit unknown'}) with ${revision} (${commit}).`,
                    );
                return replaced ? { ...result, replaced } : result;
            } finally {
                await partial.handle.close();
            }
        } finally {
            await lock.release();
        }
    }

    /** The installed file, if its bytes hash to what its manifest says (read back: another process wrote them). */
    private async verifiedInstall(
        download: DownloadState,
        repo: string,
        expectedSha: string | undefined,
        signal: AbortSignal,
    ): Promise<InstalledFile | undefined> {
        const installed = await this.options.store.installed(repo, download.file.file);
        // A copy of other bytes (another commit, about to be replaced) is not the one we wanted.
        if (!installed || (expectedSha && installed.manifest.sha256 !== expectedSha)) return undefined;
        if (!installed.manifest.sha256) return installed;
        this.report(download, { state: 'verifying', message: undefined });
        return (await sha256OfFile(installed.path, signal)) === installed.manifest.sha256 ? installed : undefined;
    }

    /** Resumes or starts the partial, fetches the rest, verifies and installs it; the caller holds the partial's claim. */
    private async fetchClaimed(
        download: DownloadState,
        /** `commit`: every byte comes from this commit (the revision resolved once, in fetchFile). */
        target: { repo: string; revision: string; commit: string; paths: StorePaths; partial: PartialFile; sizeBytes: number; expectedSha?: string },
        signal: AbortSignal,
    ): Promise<DownloadResult> {
        const { entry, file } = download;
        const { store, hub, context } = this.options;
        const { repo, revision, commit, paths, partial, sizeBytes, expectedSha } = target;
        const journal = { repo, revision, commit, file: file.file, sizeBytes, sha256: expectedSha };
        const parts = await resumeState(store, paths, partial, journal, this.options);
        const startOffset = writtenBytes(parts);
        await checkDiskSpace(this.options.freeDiskBytes, paths, sizeBytes - startOffset).catch(async (error: unknown) => {
            // The empty partial opened for this download holds nothing worth keeping.
            if (startOffset === 0) await store.discardPartial(paths, partial);
            throw error;
        });

        const meter = new SpeedMeter();
        this.report(download, { state: 'downloading', totalBytes: sizeBytes, receivedBytes: startOffset, message: undefined });
        // The resumed prefix is hashed in the worker while the rest arrives.
        const hasher = new PrefixHasher(partial.handle.fd);
        let fetched: number;
        let actual: string;
        try {
            hasher.advance(contiguousPrefix(parts));
            fetched = await fetchParts({
                maxAttemptsWithoutProgress: this.options.maxAttemptsWithoutProgress,
                retryBaseDelayMs: this.options.retryBaseDelayMs,
                maxRateLimitWaitMs: this.options.maxRateLimitWaitMs,
                connections: this.options.connections ?? DEFAULT_CONNECTIONS,
                transfer: {
                    url: hub.resolveUrl(repo, file.file, commit),
                    headers: hub.authHeaders(),
                    dispatcher: hub.dispatcher(),
                    direct: !context.settings.proxy && !environmentProxy(),
                    partial: partial.handle,
                    expectedSize: sizeBytes,
                    stallTimeoutMs: this.options.stallTimeoutMs ?? 30_000,
                    refusal: (refusal) => hub.describeRefusal(refusal, { repo, file: file.file, revision }),
                },
                parts,
                signal,
                file: file.file,
                partialPath: paths.partial,
                onPrefix: (bytes) => hasher.advance(bytes),
                onRestart: () => hasher.reset(),
                onBytes: (received, total) => {
                    download.progress.receivedBytes = total;
                    const rate = meter.add(received, sizeBytes - total);
                    if (rate) this.report(download, { state: 'downloading', ...rate });
                },
                onRetry: (message, wait) => {
                    this.report(download, {
                        state: 'retrying',
                        receivedBytes: writtenBytes(parts),
                        message: `${message}, retrying in ${Math.round(wait / 100) / 10} s`,
                    });
                    context.log.info(`${repo}/${file.file}: ${message}; retry in ${wait} ms (${writtenBytes(parts)} bytes kept).`);
                },
                saveParts: (saved) => store.writeJournal(paths, { ...journal, startedAt: new Date().toISOString(), parts: saved }),
            });
            this.report(download, { state: 'verifying', receivedBytes: sizeBytes });
            actual = await hasher.digest(sizeBytes);
        } finally {
            await hasher.dispose();
        }
        await assertHoldsExactly(partial, sizeBytes);
        if (expectedSha && actual !== expectedSha) {
            await store.discardPartial(paths, partial);
            throw new LocalAiError(
                ErrorCode.ChecksumMismatch,
                `${file.file} arrived corrupted (sha256 ${actual.slice(0, 12)}…, the hub says ${expectedSha.slice(0, 12)}…); the bad bytes were deleted. Download again to fetch a fresh copy.`,
                { file: paths.file },
            );
        }
        const manifest = { modelId: entry.id, repo, revision, commit, file: file.file, quant: file.quant, sizeBytes, sha256: expectedSha ?? actual };
        await store.install(paths, { ...manifest, installedAt: new Date().toISOString(), source: hub.resolveUrl(repo, file.file, commit) }, partial);
        context.log.info(`${repo}/${file.file}: installed (${fetched} bytes fetched, resumed from ${startOffset}).`);
        return { modelId: entry.id, quant: file.quant, path: paths.file, downloaded: true, bytesFetched: fetched };
    }
}
