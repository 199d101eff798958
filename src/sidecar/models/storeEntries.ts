/**
 * The store's own files read back as untrusted input: a manifest or a journal may have been edited by
 * hand, written by another tool, truncated by a crash or planted to point elsewhere. Each is accepted
 * only when it has the right shape and names exactly the place where it lies in the models folder.
 */
import type { Stats } from 'node:fs';
import * as path from 'node:path';
import { printable } from '../../common/format';
import type { ModelManifest } from '../../common/models';
import { hubFileNameProblem, isHubRepo, isSafeRelativePath } from './hubUri';
import { fileIdentity } from './storeWalk';

export const MANIFEST_SUFFIX = '.manifest.json';
export const JOURNAL_SUFFIX = '.partial.json';
export const PARTIAL_SUFFIX = '.partial';
export const LOCK_SUFFIX = '.partial.lock';

/** A store file that is skipped: `models cleanup` may remove it (never anything it points to). */
export interface BadEntry {
    path: string;
    bytes: number;
    /** What is wrong, as a user reads it ("not valid JSON", "a symbolic link"). */
    problem: string;
    /** A manifest whose model file lies next to it: the model is damaged, not just its bookkeeping. */
    modelPath?: string;
}

/** The result of reading one manifest or journal: its value when it can be trusted, else why not. */
export type Checked<T> = { value: T; problem?: undefined } | { value?: undefined; problem: string };

/** The parsed JSON, or the problem with the text. */
export function parseJson(text: string): Checked<unknown> {
    try {
        return { value: JSON.parse(text) as unknown };
    } catch {
        return { problem: 'it is not valid JSON' };
    }
}

/** A manifest is trusted when its fields have their types and its repo and file name the model it lies next to. */
export function checkManifest(value: unknown, manifestPath: string, root: string): Checked<ModelManifest> {
    const problem =
        shapeProblem(value, { modelId: 'string', repo: 'string', file: 'string', quant: 'string', sizeBytes: 'size' }, [
            'revision',
            'commit',
            'sha256',
            'installedAt',
            'source',
        ]) ?? placeProblem(value as { repo: string; file: string }, manifestPath.slice(0, -MANIFEST_SUFFIX.length), root);
    return problem ? { problem } : { value: value as ModelManifest };
}

/** What a journal must hold to resume a partial: the hub file it belongs to, where it lies. */
export interface JournalFields {
    repo: string;
    revision: string;
    file: string;
    sizeBytes: number;
    sha256?: string;
    /** The commit every byte of the partial came from (absent in journals written before downloads were pinned). */
    commit?: string;
    startedAt: string;
}

export function checkJournal(value: unknown, journalPath: string, root: string): Checked<JournalFields> {
    const problem =
        shapeProblem(value, { repo: 'string', revision: 'string', file: 'string', sizeBytes: 'size' }, ['sha256', 'commit', 'startedAt']) ??
        placeProblem(value as { repo: string; file: string }, journalPath.slice(0, -JOURNAL_SUFFIX.length), root);
    return problem ? { problem } : { value: value as JournalFields };
}

type FieldType = 'string' | 'size';

function shapeProblem(value: unknown, required: Record<string, FieldType>, optionalStrings: string[]): string | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'it is not a JSON object';
    const record = value as Record<string, unknown>;
    for (const [field, type] of Object.entries(required)) {
        const item = record[field];
        if (type === 'string' && typeof item !== 'string') return `its "${field}" is not a string`;
        if (type === 'size' && !(typeof item === 'number' && Number.isSafeInteger(item) && item >= 0)) return `its "${field}" is not a size in bytes`;
    }
    for (const field of optionalStrings) {
        if (record[field] !== undefined && typeof record[field] !== 'string') return `its "${field}" is not a string`;
    }
    return undefined;
}

/** The repo and file must be safe names and must lead to `modelPath` itself: a manifest cannot speak for another place. */
function placeProblem(named: { repo: string; file: string }, modelPath: string, root: string): string | undefined {
    if (!isHubRepo(named.repo)) return `its repo "${printable(named.repo)}" is not an owner/name on the hub`;
    const fileProblem = hubFileNameProblem(named.file);
    if (fileProblem) return `its file "${printable(named.file)}" is refused: ${fileProblem}`;
    const expected = path.join(path.resolve(root), ...named.repo.split('/'), ...named.file.split('/'));
    if (expected !== path.resolve(modelPath)) return `it names ${printable(`${named.repo}/${named.file}`)}, which is not where it lies`;
    return undefined;
}

/** An installed file as a walk found it: model and manifest, sizes agreeing; `identity` is the model file's (fileIdentity). */
export interface ListedFile {
    path: string;
    manifest: ModelManifest;
    identity: string;
}

/**
 * The store as one walk found it, for a listing that asks about every file: the same answers as the
 * store's `installed()` and `partialBytes()`, without reading each manifest and each file again.
 */
export interface StoreListing<Journal = JournalFields> {
    manifests: { path: string; manifest: ModelManifest }[];
    journals: Journal[];
    installed(repo: string, file: string): ListedFile | undefined;
    partialBytes(repo: string, file: string): number | undefined;
}

/** The listing of one walk's findings, installed files and partials by their resolved paths, under `root`. */
export function listingOf<Journal>(
    root: string,
    found: { manifests: StoreListing['manifests']; journals: Journal[]; installed: Map<string, ListedFile>; partials: { path: string; bytes: number }[] },
): StoreListing<Journal> {
    const partialBytes = new Map(found.partials.map((partial) => [partial.path, partial.bytes]));
    // A walk never enters a linked folder, so a name under one is not found (the store's paths() refuses it).
    const at = (repo: string, file: string) =>
        isSafeRelativePath(repo) && !hubFileNameProblem(file) ? path.join(root, ...repo.split('/'), ...file.split('/')) : undefined;
    return {
        manifests: found.manifests,
        journals: found.journals,
        installed: (repo, file) => {
            const modelPath = at(repo, file);
            const listed = modelPath === undefined ? undefined : found.installed.get(path.resolve(modelPath));
            // The path as paths() names it, as installed() answers.
            return listed && modelPath !== undefined ? { ...listed, path: modelPath } : undefined;
        },
        partialBytes: (repo, file) => {
            const modelPath = at(repo, file);
            return modelPath === undefined ? undefined : partialBytes.get(path.resolve(`${modelPath}${PARTIAL_SUFFIX}`));
        },
    };
}

/**
 * A file's times tick coarsely (a kernel tick; seconds on some filesystems): a file changed less than this
 * before it was read could change again within the same tick and keep its identity, so it is not kept.
 */
const RECENT_CHANGE_MS = 2_000;

/**
 * Each manifest and journal as last read and checked, by its path, with the identity of the file read and
 * the root it was checked against: a walk that finds the same identity uses it without opening the file.
 * A file written again (a rename: a new inode) or changed in place (new times) is read again.
 */
export class EntryCache {
    private readonly known = new Map<string, { identity: string; entry: Checked<unknown> | undefined }>();

    /** What was read from `file` when it had this identity (fileIdentity) under this root; undefined if unknown. */
    lookup(file: string, root: string, identity: string): { entry: Checked<unknown> | undefined } | undefined {
        const cached = this.known.get(file);
        return cached?.identity === `${root}\0${identity}` ? cached : undefined;
    }

    /** Keeps what was read from `file`: opened at `started` (ms since the epoch), `stat` its handle's, if it opened. */
    remember(file: string, read: { root: string; started: number; stat: Stats | undefined; entry: Checked<unknown> | undefined }): void {
        const { root, started, stat, entry } = read;
        if (stat && started - Math.max(stat.mtimeMs, stat.ctimeMs) > RECENT_CHANGE_MS)
            this.known.set(file, { identity: `${root}\0${fileIdentity(stat)}`, entry });
        else this.known.delete(file);
    }

    /** Forgets every file a walk did not find: the cache never outgrows the store. */
    keepOnly(files: Map<string, unknown>): void {
        for (const file of this.known.keys()) if (!files.has(file)) this.known.delete(file);
    }
}
