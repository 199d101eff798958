/**
 * Disk space for downloads: a full disk is found before the first byte when possible, and a disk that
 * fills up while writing is reported as a full disk, not a network failure. The partial is always kept.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { formatBytes } from '../../common/format';
import type { StorePaths } from './store';

/** Fails fast on a full disk; the partial (if any) stays for when space is freed. */
export async function checkDiskSpace(freeDiskBytes: ((folder: string) => Promise<number>) | undefined, paths: StorePaths, needed: number): Promise<void> {
    const folder = path.dirname(paths.partial);
    await fs.mkdir(folder, { recursive: true });
    const free = await (freeDiskBytes ?? statfsFree)(folder);
    if (needed > free) {
        throw new LocalAiError(
            ErrorCode.DiskFull,
            `Not enough disk space: the download needs ${formatBytes(needed)} more, ${formatBytes(free)} is free in ${folder}.`,
            {
                file: paths.partial,
                needed,
                available: free,
                unit: 'bytes',
                hint: 'Free some space or choose another models folder (localAi.modelsPath); the partial download is kept.',
            },
        );
    }
}

/**
 * The disk filling up while bytes are written (another program took the space after the up-front
 * check) surfaces as a raw ENOSPC from the write stream; it is a full disk, not a network failure.
 */
export function diskFullError(error: unknown, partial: string): LocalAiError | undefined {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code !== 'ENOSPC' && code !== 'EDQUOT') return undefined;
    return new LocalAiError(
        ErrorCode.DiskFull,
        `The disk filled up during the download: no space is left in ${path.dirname(partial)}. The partial download is kept; it resumes once space is freed.`,
        {
            file: partial,
            hint: 'Free some space or choose another models folder (localAi.modelsPath); the partial download is kept.',
        },
    );
}

/** Free space where `folder` is or would be created (its nearest existing parent); undefined when unreadable. */
export async function freeSpaceFor(folder: string): Promise<number | undefined> {
    for (let current = path.resolve(folder); ; current = path.dirname(current)) {
        try {
            return await statfsFree(current);
        } catch {
            if (path.dirname(current) === current) return undefined;
        }
    }
}

async function statfsFree(folder: string): Promise<number> {
    const stats = await fs.statfs(folder);
    return stats.bavail * stats.bsize;
}
