/**
 * The model store on disk. For a hub file `owner/repo/dir/file.gguf` it holds, under the models folder:
 *   owner/repo/dir/file.gguf                 the verified model (only ever appears by atomic rename)
 *   owner/repo/dir/file.gguf.manifest.json   what it is and where it came from (written before the rename)
 *   owner/repo/dir/file.gguf.partial         bytes of an unfinished download
 *   owner/repo/dir/file.gguf.partial.json    the journal that lets a later process resume that partial
 *   owner/repo/dir/file.gguf.partial.lock    the process writing that partial now (its pid)
 * A file counts as installed only when the model file and its manifest both exist and the sizes agree.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ModelManifest } from '../../common/models';
import { isSafeRelativePath } from './hubUri';

export interface StorePaths {
    file: string;
    manifest: string;
    partial: string;
    journal: string;
    lock: string;
}

/** Written when a download starts; a partial is resumed only if the hub still lists the same bytes. */
export interface DownloadJournal {
    repo: string;
    revision: string;
    /** The commit `revision` pointed to when the download started: a partial resumes only against it. */
    commit?: string;
    file: string;
    sizeBytes: number;
    sha256?: string;
    startedAt: string;
}

export interface InstalledFile {
    path: string;
    manifest: ModelManifest;
}

export interface StoredFileSummary {
    path: string;
    bytes: number;
}

export class ModelStore {
    /** What the last check found wrong with an installed file, by its path; forgotten once a verified copy replaces it. */
    private readonly damage = new Map<string, string>();

    /** `root` is read on every call because the models folder setting can change at run time. */
    constructor(private readonly root: () => string) {}

    get folder(): string {
        return this.root();
    }

    paths(repo: string, file: string): StorePaths {
        if (!isSafeRelativePath(repo) || !isSafeRelativePath(file)) throw new Error(`Unsafe model path: ${repo}/${file}`);
        const target = path.join(this.root(), ...repo.split('/'), ...file.split('/'));
        return {
            file: target,
            manifest: `${target}.manifest.json`,
            partial: `${target}.partial`,
            journal: `${target}.partial.json`,
            lock: lockOf(`${target}.partial`),
        };
    }

    async installed(repo: string, file: string): Promise<InstalledFile | undefined> {
        const paths = this.paths(repo, file);
        const manifest = await readJson<ModelManifest>(paths.manifest);
        if (!manifest) return undefined;
        const size = await fileSize(paths.file);
        if (size === undefined || size !== manifest.sizeBytes) return undefined;
        return { path: paths.file, manifest };
    }

    /** Records (or, with undefined, clears) what a check found wrong with the file at `file`. */
    recordDamage(file: string, problem: string | undefined): void {
        if (problem === undefined) this.damage.delete(file);
        else this.damage.set(file, problem);
    }

    damageOf(file: string): string | undefined {
        return this.damage.get(file);
    }

    /** Rewrites an installed file's manifest when its bytes are known to be at another revision and commit too. */
    async recordCommit(paths: StorePaths, manifest: ModelManifest): Promise<void> {
        await writeAtomically(paths.manifest, JSON.stringify(manifest, null, 2));
    }

    /** Bytes of an unfinished download, undefined when there is none. */
    async partialBytes(repo: string, file: string): Promise<number | undefined> {
        return fileSize(this.paths(repo, file).partial);
    }

    readJournal(paths: StorePaths): Promise<DownloadJournal | undefined> {
        return readJson<DownloadJournal>(paths.journal);
    }

    async writeJournal(paths: StorePaths, journal: DownloadJournal): Promise<void> {
        await fs.mkdir(path.dirname(paths.journal), { recursive: true });
        await writeAtomically(paths.journal, JSON.stringify(journal, null, 2));
    }

    /**
     * Makes a verified partial the installed file: the manifest first, then one rename, so a crash at
     * any point leaves either a resumable partial or a complete install, never a half-named model.
     */
    async install(paths: StorePaths, manifest: ModelManifest): Promise<void> {
        await writeAtomically(paths.manifest, JSON.stringify(manifest, null, 2));
        await fs.rename(paths.partial, paths.file);
        await fs.rm(paths.journal, { force: true });
        this.damage.delete(paths.file);
    }

    /**
     * Marks the partial as written by this process until the returned function is called, so that a
     * cleanup in another process (the CLI beside VS Code, another window's sidecar) spares it. A process
     * that dies leaves its mark behind, naming a process that no longer runs: it then counts for nothing.
     */
    async claimPartial(paths: StorePaths): Promise<() => Promise<void>> {
        await fs.mkdir(path.dirname(paths.lock), { recursive: true });
        await writeAtomically(paths.lock, JSON.stringify({ pid: process.pid }));
        return async () => {
            // Another process may have taken the partial over since; its mark stays.
            if ((await readJson<PartialLock>(paths.lock))?.pid === process.pid) await fs.rm(paths.lock, { force: true });
        };
    }

    /** Whether a running process (this one or another) is writing this partial. */
    async isPartialClaimed(partialPath: string): Promise<boolean> {
        const pid = (await readJson<PartialLock>(lockOf(partialPath)))?.pid;
        return typeof pid === 'number' && isRunning(pid);
    }

    /** Removes the mark a process that died left on a partial (before the partial itself is cleaned up). */
    async dropStaleClaim(partialPath: string): Promise<void> {
        if (!(await this.isPartialClaimed(partialPath))) await fs.rm(lockOf(partialPath), { force: true });
    }

    /** Removes the partial and its journal (after a checksum mismatch, or a file that changed upstream). */
    async discardPartial(paths: StorePaths): Promise<void> {
        await fs.rm(paths.partial, { force: true });
        await fs.rm(paths.journal, { force: true });
    }

    /** Deletes every trace of a file; returns what existed. */
    async remove(repo: string, file: string): Promise<string[]> {
        const paths = this.paths(repo, file);
        const deleted: string[] = [];
        for (const target of [paths.file, paths.manifest, paths.partial, paths.journal]) {
            if ((await fileSize(target)) !== undefined) {
                await fs.rm(target, { force: true });
                deleted.push(target);
            }
        }
        // Bookkeeping, not the user's data: removed without being listed.
        await fs.rm(paths.lock, { force: true });
        await this.pruneEmptyFolders(path.dirname(paths.file));
        return deleted;
    }

    /** Every unfinished download in the store. */
    async listPartials(): Promise<StoredFileSummary[]> {
        return (await this.walk()).filter((file) => file.path.endsWith('.partial'));
    }

    /** The journals of unfinished downloads (they name the hub file a partial belongs to). */
    async listJournals(): Promise<DownloadJournal[]> {
        const journals: DownloadJournal[] = [];
        for (const file of await this.walk()) {
            if (!file.path.endsWith('.partial.json')) continue;
            const journal = await readJson<DownloadJournal>(file.path);
            if (journal) journals.push(journal);
        }
        return journals;
    }

    /** Every manifest in the store, with the model path it describes. */
    async listManifests(): Promise<{ path: string; manifest: ModelManifest }[]> {
        const found: { path: string; manifest: ModelManifest }[] = [];
        for (const file of await this.walk()) {
            if (!file.path.endsWith('.manifest.json')) continue;
            const manifest = await readJson<ModelManifest>(file.path);
            if (manifest) found.push({ path: file.path.slice(0, -'.manifest.json'.length), manifest });
        }
        return found;
    }

    /** Removes now-empty owner/repo folders up to (not including) the store root. */
    async pruneEmptyFolders(folder: string): Promise<void> {
        const root = path.resolve(this.root());
        let current = path.resolve(folder);
        while (current.startsWith(root + path.sep)) {
            const entries = await fs.readdir(current).catch(() => undefined);
            if (!entries || entries.length > 0) return;
            await fs.rmdir(current).catch(() => undefined);
            current = path.dirname(current);
        }
    }

    private async walk(): Promise<StoredFileSummary[]> {
        const root = this.root();
        const names = await fs.readdir(root, { recursive: true }).catch(() => [] as string[]);
        const files: StoredFileSummary[] = [];
        for (const name of names) {
            const full = path.join(root, String(name));
            const size = await fileSize(full);
            if (size !== undefined) files.push({ path: full, bytes: size });
        }
        return files;
    }
}

function lockOf(partialPath: string): string {
    return `${partialPath}.lock`;
}

interface PartialLock {
    pid: number;
}

function isRunning(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        // EPERM: it runs, as another user.
        return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
}

/** Size of a regular file, undefined when it does not exist (or is not a file). */
export async function fileSize(file: string): Promise<number | undefined> {
    const stat = await fs.stat(file).catch(() => undefined);
    return stat?.isFile() ? stat.size : undefined;
}

async function readJson<T>(file: string): Promise<T | undefined> {
    try {
        return JSON.parse(await fs.readFile(file, 'utf8')) as T;
    } catch {
        return undefined;
    }
}

async function writeAtomically(file: string, text: string): Promise<void> {
    const temporary = `${file}.${process.pid}.tmp`;
    await fs.writeFile(temporary, text);
    await fs.rename(temporary, file);
}
