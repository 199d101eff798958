/**
 * The partial file of a download, opened once and written only through that one descriptor. It is
 * opened with O_NOFOLLOW, so a link planted in the store is refused instead of written through, and
 * it remembers which file (device and inode) it is, so the store can prove that the file it installs,
 * and the file then at the final path, is the one whose bytes were hashed.
 */
import { createHash } from 'node:crypto';
import { constants, createReadStream, promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCode, LocalAiError } from '../../common/errors';

/** Which file on disk: a name can be replaced, a device and inode cannot. */
export interface FileIdentity {
    dev: number;
    ino: number;
}

export interface PartialFile extends FileIdentity {
    readonly path: string;
    readonly handle: FileHandle;
}

/** Windows has no O_NOFOLLOW; there the lstat check after the open refuses a link. */
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/** Opens (creating if needed) the partial for reading and writing; refuses a link or anything but a plain file. */
export async function openPartial(partialPath: string): Promise<PartialFile> {
    let handle: FileHandle;
    try {
        handle = await fs.open(partialPath, constants.O_RDWR | constants.O_CREAT | NOFOLLOW, 0o644);
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ELOOP' || code === 'EMLINK') throw notAPlainFile(partialPath, 'is a symbolic link');
        throw error;
    }
    try {
        const [opened, named] = await Promise.all([handle.stat(), fs.lstat(partialPath)]);
        if (!opened.isFile() || named.isSymbolicLink()) throw notAPlainFile(partialPath, named.isSymbolicLink() ? 'is a symbolic link' : 'is not a file');
        // A hard link shares its bytes with a file elsewhere, maybe outside the store: writing would change it too.
        if (opened.nlink > 1) throw notAPlainFile(partialPath, `is a hard link (${opened.nlink} names share its bytes)`);
        if (!isSameFile(named, opened)) throw replacedError(partialPath);
        return { path: partialPath, handle, dev: opened.dev, ino: opened.ino };
    } catch (error) {
        await handle.close();
        throw error;
    }
}

/**
 * The hash covers the bytes written through the descriptor at their offsets and read back through it; the
 * file holding exactly those is this one, with exactly `bytes` in it, or another process wrote to it.
 */
export async function assertHoldsExactly(partial: PartialFile, bytes: number): Promise<void> {
    const { size } = await partial.handle.stat();
    if (size !== bytes) {
        throw new LocalAiError(
            ErrorCode.DownloadFailed,
            `${partial.path} holds ${size} bytes, not the ${bytes} this download wrote: another process wrote to it. Nothing was installed; download again.`,
            { file: partial.path },
        );
    }
}

/** Whether `stats` (an lstat of some name) is the file `identity` names. */
export function isSameFile(stats: Stats | undefined, identity: FileIdentity): boolean {
    return stats !== undefined && !stats.isSymbolicLink() && stats.dev === identity.dev && stats.ino === identity.ino;
}

/** Another process changed a file only the lock holder may write. */
export function replacedError(file: string): LocalAiError {
    return new LocalAiError(
        ErrorCode.DownloadFailed,
        `Another process replaced ${file} while this download was writing it; nothing was installed. Download again.`,
        { file },
    );
}

/** sha256 of a file read by name (an installed model); aborts with `signal`. */
export async function sha256OfFile(file: string, signal?: AbortSignal): Promise<string> {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, signal })) hash.update(chunk as Buffer);
    return hash.digest('hex');
}

function notAPlainFile(file: string, what: string): LocalAiError {
    return new LocalAiError(
        ErrorCode.DownloadFailed,
        `${file} ${what}; Local AI never writes through links in its store, and left it and what it points to untouched. Remove it, then download again.`,
        { file },
    );
}
