/** Claiming a partial for this process (waiting while another one writes it), and where to resume it from. */
import { setTimeout as delay } from 'node:timers/promises';
import type { DownloadProgress } from '../../common/models';
import { describeOwner, type HeldLock } from './fileLock';
import { type FilePart, type PartPlanOptions, planParts, trustedParts } from './fileParts';
import type { PartialFile } from './partialFile';
import { SpeedMeter } from './speedMeter';
import { type DownloadJournal, fileSize, type ModelStore, type StorePaths } from './store';

/**
 * Takes the partial's lock. While another process holds it (another window, the CLI), nothing is
 * written: its progress is reported from the partial's growing size until it lets go.
 */
export async function lockPartial(
    store: ModelStore,
    paths: StorePaths,
    sizeBytes: number,
    options: { signal: AbortSignal; pollMs?: number; onWait: (update: Partial<DownloadProgress>) => void },
): Promise<HeldLock> {
    const meter = new SpeedMeter();
    let seen: number | undefined;
    for (;;) {
        const attempt = await store.claimPartial(paths);
        if (attempt.held) return attempt.held;
        const bytes = (await fileSize(paths.partial)) ?? 0;
        const rate = seen === undefined ? undefined : meter.add(Math.max(0, bytes - seen), sizeBytes - bytes);
        seen = bytes;
        options.onWait({
            state: 'downloading',
            totalBytes: sizeBytes,
            receivedBytes: bytes,
            ...rate,
            message: `downloading in another window or the CLI (${describeOwner(attempt.heldBy)})`,
        });
        await delay(options.pollMs ?? 250, undefined, { signal: options.signal });
    }
}

/**
 * Where a download continues from: its parts, and how much of each is written. A partial is kept only when
 * its journal names the same size, sha256, revision and commit the hub lists now, and, for a download in
 * parts, parts that tile the file within the bytes on disk (fileParts.ts); its bytes are then hashed again
 * (Node cannot persist a hash's inner state) by the caller's hasher, at disk speed. Otherwise it starts
 * afresh, in the parts `plan` gives, which the journal records before any byte is written: a partial with
 * holes is never taken for one stream.
 */
export async function resumeState(
    store: ModelStore,
    paths: StorePaths,
    partial: PartialFile,
    journal: Omit<DownloadJournal, 'startedAt' | 'parts'>,
    plan: PartPlanOptions,
): Promise<FilePart[]> {
    const previous = await store.readJournal(paths);
    const bytes = (await partial.handle.stat()).size;
    const sameFile =
        previous &&
        previous.sizeBytes === journal.sizeBytes &&
        previous.sha256 === journal.sha256 &&
        previous.revision === journal.revision &&
        previous.commit === journal.commit;
    if (bytes > 0 && sameFile) {
        if (previous.parts !== undefined) {
            const parts = trustedParts(previous.parts, journal.sizeBytes, bytes);
            if (parts) return parts;
        } else if (bytes <= journal.sizeBytes) return [{ start: 0, end: journal.sizeBytes, written: bytes }];
    }
    if (bytes > 0) await partial.handle.truncate(0);
    const parts = planParts(journal.sizeBytes, plan);
    await store.writeJournal(paths, { ...journal, ...(parts.length > 1 ? { parts } : {}), startedAt: new Date().toISOString() });
    return parts;
}
