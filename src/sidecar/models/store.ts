/**
 * The model store on disk. For a hub file `owner/repo/dir/file.gguf` it holds, under the models folder:
 *   owner/repo/dir/file.gguf                 the verified model (only ever appears by atomic rename)
 *   owner/repo/dir/file.gguf.manifest.json   what it is and where it came from (written before the rename)
 *   owner/repo/dir/file.gguf.partial         bytes of an unfinished download
 *   owner/repo/dir/file.gguf.partial.json    the journal that lets a later process resume that partial
 *   owner/repo/dir/file.gguf.partial.lock    the one process writing that partial now (fileLock.ts)
 * A file counts as installed only when the model file and its manifest both exist and the sizes agree.
 * Nothing in the folder is trusted: walks never follow links (a link is named in a warning and skipped),
 * and a manifest or journal is used only when it is well formed and names the place where it lies.
 */
import { constants, promises as fs, type Stats } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { printable } from '../../common/format';
import type { ModelManifest } from '../../common/models';
import type { FilePart } from './fileParts';
import { lockOwner, tryLock, type LockAttempt, type LockOwner } from './fileLock';
import { hubFileNameProblem, isSafeRelativePath, STORE_SUFFIXES } from './hubUri';
import { isSameFile, replacedError, type FileIdentity } from './partialFile';
import { type BadEntry, type Checked, checkJournal, checkManifest, JOURNAL_SUFFIX, MANIFEST_SUFFIX, PARTIAL_SUFFIX, parseJson } from './storeEntries';
import { EntryCache, type ListedFile, listingOf, type StoreListing } from './storeEntries';
import { linkedFolder, mapLimited, PARALLEL_CALLS, walkStore } from './storeWalk';

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
    /** A download in parallel parts: each part and the bytes of it written (read back untrusted: fileParts.ts). */
    parts?: FilePart[];
}

export interface InstalledFile {
    path: string;
    manifest: ModelManifest;
}

export interface StoredFileSummary {
    path: string;
    bytes: number;
}

/** What one walk of the store found, bad entries apart. */
interface StoreScan {
    partials: StoredFileSummary[];
    journals: DownloadJournal[];
    manifests: { path: string; manifest: ModelManifest }[];
    bad: BadEntry[];
    /** Each installed file (model and manifest, sizes agreeing), by its model path, with the model file's identity. */
    installed: Map<string, ListedFile>;
}

/** The largest manifest or journal worth reading (they are a few hundred bytes). */
const MAX_ENTRY_BYTES = 1 << 20;

export class ModelStore {
    /** Each bad entry is named once per process, not on every listing. */
    private readonly warned = new Set<string>();
    /** What the last check found wrong with an installed file, by its path; forgotten once a verified copy replaces it. */
    private readonly damage = new Map<string, string>();
    /** Manifests and journals as last read, while their files stay the same. */
    private readonly entries = new EntryCache();

    /**
     * `root` is read on every call because the models folder setting can change at run time; `warn` names
     * the entries a listing skips (links, bad manifests and journals). Default: no warnings.
     */
    constructor(
        private readonly root: () => string,
        private readonly warn: (message: string) => void = () => undefined,
    ) {}

    get folder(): string {
        return this.root();
    }

    /** Throws when the names are unsafe, or when a folder on the way is a link (writing there would leave the store). */
    paths(repo: string, file: string): StorePaths {
        if (!isSafeRelativePath(repo) || hubFileNameProblem(file)) {
            throw new LocalAiError(ErrorCode.InvalidParams, `Unsafe model path: ${printable(repo)}/${printable(file)}`);
        }
        const target = path.join(this.root(), ...repo.split('/'), ...file.split('/'));
        const link = linkedFolder(this.root(), target);
        if (link) {
            throw new LocalAiError(
                ErrorCode.FileSystemError,
                `${printable(link)} is a symbolic link; Local AI never follows links inside the models folder, so it does not touch ${printable(`${repo}/${file}`)} there.`,
                { file: link, hint: 'Replace the link with a real folder, or make the folder it points to the models folder.' },
            );
        }
        return {
            file: target,
            manifest: `${target}.manifest.json`,
            partial: `${target}.partial`,
            journal: `${target}.partial.json`,
            lock: lockOf(`${target}.partial`),
        };
    }

    async installed(repo: string, file: string): Promise<InstalledFile | undefined> {
        const paths = this.pathsIfUsable(repo, file);
        if (!paths) return undefined;
        const manifest = (await this.readEntry(paths.manifest, checkManifest))?.value;
        if (!manifest) return undefined;
        const size = await storedFileSize(paths.file);
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
        const paths = this.pathsIfUsable(repo, file);
        return paths && storedFileSize(paths.partial);
    }

    /** The journal of a partial when it can be trusted; undefined otherwise (the download then starts afresh). */
    async readJournal(paths: StorePaths): Promise<DownloadJournal | undefined> {
        return (await this.readEntry(paths.journal, checkJournal))?.value;
    }

    async writeJournal(paths: StorePaths, journal: DownloadJournal): Promise<void> {
        await fs.mkdir(path.dirname(paths.journal), { recursive: true });
        await writeAtomically(paths.journal, JSON.stringify(journal, null, 2));
    }

    /**
     * Makes a verified partial the installed file: the manifest first, then one rename, so a crash at
     * any point leaves either a resumable partial or a complete install, never a half-named model.
     * `written` is the partial whose bytes were hashed: the name must still be that file before the
     * rename, and the final path that file after it, or nothing counts as installed.
     */
    async install(paths: StorePaths, manifest: ModelManifest, written: FileIdentity): Promise<void> {
        if (!isSameFile(await lstatOf(paths.partial), written)) throw replacedError(paths.partial);
        await writeAtomically(paths.manifest, JSON.stringify(manifest, null, 2));
        await fs.rename(paths.partial, paths.file);
        const installed = await lstatOf(paths.file);
        if (!isSameFile(installed, written) || installed?.size !== manifest.sizeBytes) {
            await fs.rm(paths.manifest, { force: true });
            throw replacedError(paths.file);
        }
        await fs.rm(paths.journal, { force: true });
        this.damage.delete(paths.file);
    }

    /**
     * Takes the partial's lock (fileLock.ts) for this process, unless another live process (another
     * window's sidecar, the CLI) holds it; a lock left by a process that died is recovered.
     */
    async claimPartial(paths: Pick<StorePaths, 'lock'>): Promise<LockAttempt> {
        await fs.mkdir(path.dirname(paths.lock), { recursive: true });
        return tryLock(paths.lock);
    }

    /** The same for a partial found on disk (cleanup), named by its path. */
    claimPartialAt(partialPath: string): Promise<LockAttempt> {
        return this.claimPartial({ lock: lockOf(partialPath) });
    }

    /** Whether a running process (this one or another) is writing this partial. */
    async isPartialClaimed(partialPath: string): Promise<boolean> {
        return (await lockOwner(lockOf(partialPath))) !== undefined;
    }

    /**
     * Removes the partial and its journal (after a checksum mismatch, or a file that changed upstream).
     * With `written`, only if the partial is still that file: the bytes this process wrote, never a
     * link or a file another process put in its place.
     */
    async discardPartial(paths: StorePaths, written?: FileIdentity): Promise<void> {
        if (!written || isSameFile(await lstatOf(paths.partial), written)) await fs.rm(paths.partial, { force: true });
        await fs.rm(paths.journal, { force: true });
    }

    /**
     * Deletes every trace of a file under its partial's lock; returns what existed, or the process that
     * holds the lock (it is downloading the file) and nothing deleted.
     */
    async remove(repo: string, file: string): Promise<{ deleted: string[]; heldBy?: undefined } | { deleted?: undefined; heldBy: LockOwner }> {
        const paths = this.paths(repo, file);
        const claim = await this.claimPartial(paths);
        if (claim.heldBy) return { heldBy: claim.heldBy };
        const deleted: string[] = [];
        try {
            for (const target of [paths.file, paths.manifest, paths.partial, paths.journal]) {
                // lstat: a link is removed itself (fs.rm never follows it), whatever it points to stays.
                if (await lstatOf(target)) {
                    await fs.rm(target, { force: true });
                    deleted.push(target);
                }
            }
        } finally {
            // Bookkeeping, not the user's data: removed without being listed.
            await claim.held.release();
        }
        await this.pruneEmptyFolders(path.dirname(paths.file));
        return { deleted };
    }

    /** Every unfinished download in the store (regular files only: a linked partial is a bad entry). */
    async listPartials(): Promise<StoredFileSummary[]> {
        return (await this.scan()).partials;
    }

    /** The journals of unfinished downloads (they name the hub file a partial belongs to); bad ones are skipped. */
    async listJournals(): Promise<DownloadJournal[]> {
        return (await this.scan()).journals;
    }

    /** Every trusted manifest in the store, with the model path it describes; bad ones are skipped. */
    async listManifests(): Promise<{ path: string; manifest: ModelManifest }[]> {
        return (await this.scan()).manifests;
    }

    /** Trusted manifests and journals, installed files and partials from one walk (listing them apart walks the store again). */
    async listing(): Promise<StoreListing<DownloadJournal>> {
        return listingOf(this.root(), await this.scan());
    }

    /** Manifests and journals that cannot be trusted, and links carrying the store's own names. */
    async listBadEntries(): Promise<BadEntry[]> {
        return (await this.scan()).bad;
    }

    /** The hub repo and file a path in the store stands for, judged by where it lies (for naming a bad entry). */
    hubFileAt(modelPath: string): { repo: string; file: string } | undefined {
        const parts = path.relative(path.resolve(this.root()), path.resolve(modelPath)).split(path.sep);
        if (parts.length < 3 || parts[0] === '..') return undefined;
        return { repo: `${parts[0]}/${parts[1]}`, file: parts.slice(2).join('/') };
    }

    /** Removes now-empty owner/repo folders up to (not including) the store root; stops at a link. */
    async pruneEmptyFolders(folder: string): Promise<void> {
        const root = path.resolve(this.root());
        let current = path.resolve(folder);
        while (current.startsWith(root + path.sep)) {
            if (!(await fs.lstat(current).catch(() => undefined))?.isDirectory()) return;
            const entries = await fs.readdir(current).catch(() => undefined);
            if (!entries || entries.length > 0) return;
            await fs.rmdir(current).catch(() => undefined);
            current = path.dirname(current);
        }
    }

    private pathsIfUsable(repo: string, file: string): StorePaths | undefined {
        try {
            return this.paths(repo, file);
        } catch {
            return undefined;
        }
    }

    private async scan(): Promise<StoreScan> {
        const scan: StoreScan = { partials: [], journals: [], manifests: [], bad: [], installed: new Map() };
        const root = this.root();
        const { files, links } = await walkStore(root, (folder, message) => this.warnOnce(folder, message));
        for (const link of links) {
            this.warnOnce(link, `Skipped ${printable(link)}: it is a symbolic link, and Local AI never follows links inside the models folder.`);
            if (STORE_SUFFIXES.some((suffix) => link.endsWith(suffix))) scan.bad.push({ path: link, bytes: 0, problem: 'it is a symbolic link' });
        }
        const kindOf = (file: string) => (file.endsWith(MANIFEST_SUFFIX) ? 'manifest' : file.endsWith(JOURNAL_SUFFIX) ? 'journal' : undefined);
        // Only entries not known by their identity are read, a few at once (each read is several thread-pool round trips).
        const known = new Map<string, Checked<unknown> | undefined>();
        const unknown = files.filter((file) => {
            const cached = kindOf(file.path) && this.entries.lookup(file.path, root, file.identity);
            if (cached) known.set(file.path, cached.entry);
            return kindOf(file.path) && !cached;
        });
        await mapLimited(unknown, PARALLEL_CALLS, async (file) => {
            const started = Date.now();
            let opened: Stats | undefined;
            const entry = await this.readEntry<unknown>(file.path, kindOf(file.path) === 'manifest' ? checkManifest : checkJournal, (stat) => {
                opened = stat;
            });
            known.set(file.path, entry);
            this.entries.remember(file.path, { root, started, stat: opened, entry });
        });
        this.entries.keepOnly(known);
        const entries = files.map((file) => known.get(file.path));
        const byPath = new Map(files.map((file) => [file.path, file]));
        for (const [index, file] of files.entries()) {
            if (file.path.endsWith(PARTIAL_SUFFIX)) scan.partials.push({ path: file.path, bytes: file.bytes });
            const kind = kindOf(file.path);
            const entry = entries[index];
            if (!kind || !entry) continue;
            if (entry.problem !== undefined) {
                const modelPath = kind === 'manifest' ? file.path.slice(0, -MANIFEST_SUFFIX.length) : undefined;
                const damaged = modelPath !== undefined && (await storedFileSize(modelPath)) !== undefined;
                scan.bad.push({ path: file.path, bytes: file.bytes, problem: entry.problem, modelPath: damaged ? modelPath : undefined });
            } else if (kind === 'manifest') {
                const modelPath = file.path.slice(0, -MANIFEST_SUFFIX.length);
                const manifest = entry.value as ModelManifest;
                scan.manifests.push({ path: modelPath, manifest });
                const model = byPath.get(modelPath);
                if (model?.bytes === manifest.sizeBytes) scan.installed.set(modelPath, { path: modelPath, manifest, identity: model.identity });
            } else scan.journals.push(entry.value as DownloadJournal);
        }
        return scan;
    }

    /**
     * Reads one manifest or journal without following a link, and checks it; undefined when it is gone.
     * A problem is named in a warning (once) so the user learns which file is skipped.
     */
    private async readEntry<T>(
        file: string,
        check: (value: unknown, file: string, root: string) => Checked<T>,
        opened: (stat: Stats) => void = () => undefined,
    ): Promise<Checked<T> | undefined> {
        let text: string;
        try {
            const handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
            try {
                const stat = await handle.stat();
                opened(stat);
                if (!stat.isFile() || stat.size > MAX_ENTRY_BYTES) return this.skipped(file, { problem: 'it is not a small regular file' });
                text = await handle.readFile('utf8');
            } finally {
                await handle.close();
            }
        } catch (error) {
            const code = (error as NodeJS.ErrnoException).code;
            // A name too long for the disk cannot exist; the write that tries to create it reports that.
            if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG') return undefined;
            return this.skipped(file, { problem: code === 'ELOOP' ? 'it is a symbolic link' : `it cannot be read (${code})` });
        }
        const parsed = parseJson(text);
        return this.skipped(file, parsed.problem !== undefined ? parsed : check(parsed.value, file, this.root()));
    }

    private skipped<T>(file: string, entry: Checked<T>): Checked<T> {
        if (entry.problem !== undefined) {
            this.warnOnce(
                file,
                `Skipped ${printable(file)}: ${entry.problem}. \`local-ai models cleanup\` (Local AI: Clean Up Partial Downloads) removes it; if its model lies beside it, \`models check\` reports that model as damaged.`,
            );
        }
        return entry;
    }

    private warnOnce(file: string, message: string): void {
        if (this.warned.has(file)) return;
        this.warned.add(file);
        this.warn(message);
    }
}

function lockOf(partialPath: string): string {
    return `${partialPath}.lock`;
}

function lstatOf(file: string): Promise<Stats | undefined> {
    return fs.lstat(file).catch(() => undefined);
}

/** Size of a regular file, undefined when it does not exist (or is not a file). Follows a link: for paths the user gave. */
export async function fileSize(file: string): Promise<number | undefined> {
    const stat = await fs.stat(file).catch(() => undefined);
    return stat?.isFile() ? stat.size : undefined;
}

/** Size of a regular file in the store, undefined when it does not exist, is not a file, or is a link (never followed). */
export async function storedFileSize(file: string): Promise<number | undefined> {
    const stat = await fs.lstat(file).catch(() => undefined);
    return stat?.isFile() ? stat.size : undefined;
}

async function writeAtomically(file: string, text: string): Promise<void> {
    const temporary = `${file}.${process.pid}.tmp`;
    await fs.writeFile(temporary, text);
    await fs.rename(temporary, file);
}
