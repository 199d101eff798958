/**
 * Walking the models folder without ever leaving it: links are listed, never entered or followed, so a
 * link to a folder elsewhere (or a loop of links) cannot make a listing, a cleanup or a delete reach
 * outside the store, or list a model twice.
 */
import { type Dirent, lstatSync, readdirSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { printable } from '../../common/format';
import { fileSystemError } from './fileSystemError';

/**
 * Filesystem calls in flight at once while a store is walked or read: each call is a round trip to
 * libuv's thread pool, so one at a time a 1,000-file store took over a second; a few at once keep the
 * pool's threads busy without starving a download's writes.
 */
export const PARALLEL_CALLS = 8;

/** `work` on every item, at most `limit` at once; the results in the items' order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
    const results = new Array<R>(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const index = next++;
            results[index] = await work(items[index]);
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return results;
}

/** A regular file as a walk found it. */
export interface WalkedFile {
    path: string;
    bytes: number;
    /** Its device, inode, size and times (fileIdentity): what it read from this file stays true while this does. */
    identity: string;
}

/**
 * A file's device, inode, size, mtime and ctime: a file replaced (a rename over it, a new download) or
 * changed in place (a write, a truncate, a copy over it) gets another identity.
 */
export function fileIdentity(stat: Stats): string {
    return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
}

/**
 * The longest the walk holds the event loop at once: between slices it yields, so a token stream or a
 * request in flight waits no longer than this.
 */
const SLICE_MS = 8;

/**
 * Every regular file under the root, and every link, without entering a link (so a loop lists nothing twice).
 * The calls are synchronous, in slices of SLICE_MS: each is a few microseconds on a cached folder, while a
 * promise per call is a round trip through libuv's thread pool that a loaded machine stretches to
 * milliseconds (a 1,000-file store took 0.3–1 s to walk that way).
 */
export async function walkStore(storeRoot: string, warn: (folder: string, message: string) => void): Promise<{ files: WalkedFile[]; links: string[] }> {
    const root = path.resolve(storeRoot);
    const files: WalkedFile[] = [];
    const links: string[] = [];
    const visit = (folder: string): string[] => {
        let entries: Dirent[];
        try {
            entries = readdirSync(folder, { withFileTypes: true });
        } catch (error) {
            const code = (error as NodeJS.ErrnoException).code;
            if (code === 'ENOENT') return [];
            // The root itself unusable (a file, no permission) is the user's to fix; a folder below it is skipped.
            if (folder === root) throw fileSystemError(error, root) ?? error;
            warn(folder, `Skipped ${printable(folder)}: it cannot be read (${code}).`);
            return [];
        }
        const folders: string[] = [];
        for (const entry of entries) {
            const full = path.join(folder, entry.name);
            if (entry.isSymbolicLink()) links.push(full);
            else if (entry.isDirectory()) folders.push(full);
            else if (entry.isFile()) {
                // lstat again: the entry may have been replaced by a link since readdir.
                const stat = lstatOrUndefined(full);
                if (stat?.isFile()) files.push({ path: full, bytes: stat.size, identity: fileIdentity(stat) });
            }
        }
        return folders;
    };
    const pending = [root];
    let sliceStarted = performance.now();
    for (let folder = pending.pop(); folder !== undefined; folder = pending.pop()) {
        pending.push(...visit(folder));
        if (performance.now() - sliceStarted > SLICE_MS) {
            await new Promise((resolve) => setImmediate(resolve));
            sliceStarted = performance.now();
        }
    }
    const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
    return { files: files.sort(byPath), links: links.sort() };
}

function lstatOrUndefined(file: string): Stats | undefined {
    try {
        return lstatSync(file, { throwIfNoEntry: false });
    } catch {
        return undefined;
    }
}

/** The first folder strictly inside `root` on the way to `target` that is a symbolic link, if any. */
export function linkedFolder(root: string, target: string): string | undefined {
    let current = path.resolve(root);
    for (const part of path.relative(current, path.dirname(path.resolve(target))).split(path.sep)) {
        if (!part) continue;
        current = path.join(current, part);
        try {
            const stat = lstatSync(current, { throwIfNoEntry: false });
            if (!stat) return undefined;
            if (stat.isSymbolicLink()) return current;
        } catch {
            // ENOTDIR and the like: the operation itself fails with a clear error later.
            return undefined;
        }
    }
    return undefined;
}
