/**
 * A split GGUF (`…-00001-of-00003.gguf` …) downloaded as one model: each part goes through the
 * DownloadManager like any hub file (its own partial, journal, resume and sha256 check, installed by its
 * own rename), one after another, and the requester sees one progress over the sum of the parts. The
 * model counts as installed only when every part is (the registry checks that on every list).
 */
import type { DownloadProgress, ModelFilePart } from '../../common/models';
import type { DownloadResult } from '../../common/protocol';
import type { DownloadJob, DownloadManager } from './download';
import { fileSize, type ModelStore } from './store';

export interface SplitDownloadJob extends DownloadJob {
    /** Every part, first to last, with the sizes the hub lists. */
    parts: ModelFilePart[];
}

/** Resolves when every part is installed and verified; the first failure (naming its part) ends it, keeping the parts already done. */
export async function downloadSplitModel(services: { downloads: DownloadManager; store: ModelStore }, job: SplitDownloadJob): Promise<DownloadResult> {
    const { downloads, store } = services;
    await journalPendingParts(store, job);
    const totalBytes = job.parts.reduce((sum, part) => sum + part.sizeBytes, 0);
    let doneBytes = 0;
    let bytesFetched = 0;
    let downloaded = false;
    let firstPath: string | undefined;
    for (const [index, part] of job.parts.entries()) {
        const last = index === job.parts.length - 1;
        const before = doneBytes;
        const asModel = (progress: DownloadProgress) => overall(progress, { before, totalBytes, last });
        const result = await downloads
            .download({
                entry: job.entry,
                file: { quant: job.file.quant, file: part.file, sizeBytes: part.sizeBytes, sha256: part.sha256, state: 'available' },
                signal: job.signal,
                onProgress: job.onProgress && ((progress) => job.onProgress?.(asModel(progress))),
                statusProgress: asModel,
            })
            .catch(async (error: unknown) => {
                // A part whose bad bytes were deleted left no journal: the set must stay known all the same.
                await journalPendingParts(store, job).catch(() => undefined);
                throw error;
            });
        firstPath ??= result.path;
        doneBytes += part.sizeBytes;
        bytesFetched += result.bytesFetched;
        downloaded ||= result.downloaded;
    }
    return { modelId: job.entry.id, quant: job.file.quant, path: firstPath ?? '', downloaded, bytesFetched };
}

/**
 * Writes the journal of every part not started yet, so that the store alone, in any later process, knows the
 * whole set and its size while the model is half downloaded. The part's own download rewrites it when it starts.
 */
async function journalPendingParts(store: ModelStore, job: SplitDownloadJob): Promise<void> {
    const repo = job.entry.repo ?? '';
    for (const part of job.parts) {
        const paths = store.paths(repo, part.file);
        if ((await store.installed(repo, part.file)) || (await store.readJournal(paths)) || (await fileSize(paths.partial)) !== undefined) continue;
        const journal = { repo, revision: job.entry.revision ?? 'main', file: part.file, sizeBytes: part.sizeBytes, sha256: part.sha256 };
        await store.writeJournal(paths, { ...journal, startedAt: new Date().toISOString() });
    }
}

/** One part's progress as the model's: bytes counted over all parts, and 'done' only when the last part is. */
function overall(progress: DownloadProgress, at: { before: number; totalBytes: number; last: boolean }): DownloadProgress {
    const receivedBytes = at.before + progress.receivedBytes;
    const state = progress.state === 'done' && !at.last ? 'downloading' : progress.state;
    const etaSeconds = progress.bytesPerSecond > 0 ? (at.totalBytes - receivedBytes) / progress.bytesPerSecond : progress.etaSeconds;
    return { ...progress, receivedBytes, totalBytes: at.totalBytes, etaSeconds: state === 'done' ? 0 : etaSeconds, state };
}
