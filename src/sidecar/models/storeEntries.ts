/**
 * The store's own files read back as untrusted input: a manifest or a journal may have been edited by
 * hand, written by another tool, truncated by a crash or planted to point elsewhere. Each is accepted
 * only when it has the right shape and names exactly the place where it lies in the models folder.
 */
import * as path from 'node:path';
import { printable } from '../../common/format';
import type { ModelManifest } from '../../common/models';
import { hubFileNameProblem, isHubRepo } from './hubUri';

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
