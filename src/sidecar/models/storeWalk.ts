/**
 * Walking the models folder without ever leaving it: links are listed, never entered or followed, so a
 * link to a folder elsewhere (or a loop of links) cannot make a listing, a cleanup or a delete reach
 * outside the store, or list a model twice.
 */
import { type Dirent, promises as fs, lstatSync } from 'node:fs';
import * as path from 'node:path';
import { printable } from '../../common/format';
import { fileSystemError } from './fileSystemError';

/** Every regular file under the root, and every link, without entering a link (so a loop lists nothing twice). */
export async function walkStore(
    storeRoot: string,
    warn: (folder: string, message: string) => void,
): Promise<{ files: { path: string; bytes: number }[]; links: string[] }> {
    const root = path.resolve(storeRoot);
    const files: { path: string; bytes: number }[] = [];
    const links: string[] = [];
    const folders = [root];
    while (folders.length > 0) {
        const folder = folders.pop() as string;
        let entries: Dirent[];
        try {
            entries = await fs.readdir(folder, { withFileTypes: true });
        } catch (error) {
            const code = (error as NodeJS.ErrnoException).code;
            if (code === 'ENOENT') continue;
            // The root itself unusable (a file, no permission) is the user's to fix; a folder below it is skipped.
            if (folder === root) throw fileSystemError(error, root) ?? error;
            warn(folder, `Skipped ${printable(folder)}: it cannot be read (${code}).`);
            continue;
        }
        for (const entry of entries) {
            const full = path.join(folder, entry.name);
            if (entry.isSymbolicLink()) links.push(full);
            else if (entry.isDirectory()) folders.push(full);
            else if (entry.isFile()) {
                const stat = await fs.lstat(full).catch(() => undefined);
                if (stat?.isFile()) files.push({ path: full, bytes: stat.size });
            }
        }
    }
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
