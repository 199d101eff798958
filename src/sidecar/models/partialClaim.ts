/** Claiming a partial for this process (waiting while another one writes it), and where to resume it from. */
import { createHash, type Hash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { DownloadProgress } from '../../common/models';
import { describeOwner, type HeldLock } from './fileLock';
import { hashPrefix, type PartialFile } from './partialFile';
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
 * Where a download continues from. A partial is kept only when its journal names the same size, sha256,
 * revision and commit the hub lists now; its bytes are then hashed once (Node cannot persist a hash's inner
 * state), which reads at disk speed and costs far less than fetching them again. Otherwise it starts afresh.
 */
export async function resumeState(
    store: ModelStore,
    paths: StorePaths,
    partial: PartialFile,
    journal: Omit<DownloadJournal, 'startedAt'>,
): Promise<{ offset: number; hash: Hash }> {
    const hash = createHash('sha256');
    const previous = await store.readJournal(paths);
    const bytes = (await partial.handle.stat()).size;
    const sameFile =
        previous &&
        previous.sizeBytes === journal.sizeBytes &&
        previous.sha256 === journal.sha256 &&
        previous.revision === journal.revision &&
        previous.commit === journal.commit;
    if (bytes > 0 && sameFile && bytes <= journal.sizeBytes) {
        await hashPrefix(partial, bytes, hash);
        return { offset: bytes, hash };
    }
    if (bytes > 0) await partial.handle.truncate(0);
    await store.writeJournal(paths, { ...journal, startedAt: new Date().toISOString() });
    return { offset: 0, hash };
}
