/**
 * Walking the models folder without ever leaving it: links are listed, never entered or followed, so a
 * link to a folder elsewhere (or a loop of links) cannot make a listing, a cleanup or a delete reach
 * outside the store, or list a model twice.
 */
import { type Dirent, promises as fs, lstatSync } from 'node:fs';
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

/** Every regular file under the root, and every link, without entering a link (so a loop lists nothing twice). */
export async function walkStore(
    storeRoot: string,
    warn: (folder: string, message: string) => void,
): Promise<{ files: { path: string; bytes: number }[]; links: string[] }> {
    const root = path.resolve(storeRoot);
    const files: { path: string; bytes: number }[] = [];
    const links: string[] = [];
    const visit = async (folder: string): Promise<string[]> => {
        let entries: Dirent[];
        try {
            entries = await fs.readdir(folder, { withFileTypes: true });
        } catch (error) {
            const code = (error as NodeJS.ErrnoException).code;
            if (code === 'ENOENT') return [];
            // The root itself unusable (a file, no permission) is the user's to fix; a folder below it is skipped.
            if (folder === root) throw fileSystemError(error, root) ?? error;
            warn(folder, `Skipped ${printable(folder)}: it cannot be read (${code}).`);
            return [];
        }
        const folders: string[] = [];
        const regular: string[] = [];
        for (const entry of entries) {
            const full = path.join(folder, entry.name);
            if (entry.isSymbolicLink()) links.push(full);
            else if (entry.isDirectory()) folders.push(full);
            else if (entry.isFile()) regular.push(full);
        }
        // lstat again: the entry may have been replaced by a link since readdir.
        const stats = await mapLimited(regular, PARALLEL_CALLS, (file) => fs.lstat(file).catch(() => undefined));
        stats.forEach((stat, index) => {
            if (stat?.isFile()) files.push({ path: regular[index], bytes: stat.size });
        });
        return folders;
    };
    // Breadth first, a level's folders read a few at once.
    for (let level = [root]; level.length > 0; ) level = (await mapLimited(level, PARALLEL_CALLS, visit)).flat();
    const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
    return { files: files.sort(byPath), links: links.sort() };
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
