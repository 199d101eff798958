/**
 * Models the user named in `localAi.models` (or on the command line): hub files, hub repositories at a
 * quantization (looked up in the repository's file list), and local GGUF paths.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { printable } from '../../common/format';
import type { ModelEntry, ModelFile, ModelFilePart } from '../../common/models';
import type { UserModelSetting } from '../../common/settings';
import type { HubClient } from './hub';
import { hubFileId, hubFileNameProblem, hubUriProblem, isSplitPart, parseHubUri, quantFromFileName, splitPartFiles, type HubReference } from './hubUri';
import type { ModelStore } from './store';
import { fileSize } from './store';

export interface ResolvedModel {
    entry: ModelEntry;
    file: ModelFile;
}

/** Resolves user references, remembering hub answers for the life of the process. */
export class UserModelResolver {
    private readonly resolved = new Map<string, ResolvedModel>();

    constructor(
        private readonly hub: HubClient,
        private readonly store: ModelStore,
    ) {}

    /** Every configured user model that can be resolved now; the others are logged and skipped. */
    async entries(settings: UserModelSetting[], warn: (message: string) => void): Promise<ModelEntry[]> {
        const entries: ModelEntry[] = [];
        for (const setting of settings) {
            try {
                const { entry } = await this.resolve(setting.source, undefined, setting.name);
                entries.push(entry);
            } catch (error) {
                warn(`localAi.models: cannot use "${setting.source}": ${error instanceof Error ? error.message : String(error)}`);
            }
        }
        return entries;
    }

    /** A `hf:` reference or a local path; throws ModelNotFound when it names nothing usable. */
    async resolve(source: string, quant?: string, name?: string): Promise<ResolvedModel> {
        const ref = parseHubUri(source, this.hub.baseUrl);
        if (ref) return this.resolveHub(quant && !ref.file ? { ...ref, quant: quant.toUpperCase() } : ref, name);
        const problem = hubUriProblem(source, this.hub.baseUrl);
        if (problem) throw refusedFileName(source, problem);
        if (source.startsWith('file:') || path.isAbsolute(source) || source.startsWith('~')) return this.resolveLocal(source, name);
        throw new LocalAiError(ErrorCode.ModelNotFound, `"${printable(source)}" is not a catalog id, a hf: URI or an absolute path to a .gguf file.`);
    }

    private async resolveHub(ref: HubReference, name?: string): Promise<ResolvedModel> {
        const key = `${ref.repo}@${ref.revision}/${ref.file ?? `:${ref.quant ?? ''}`}`;
        // Copies: the registry marks a listed file's state on it, and a remembered answer must not keep that state.
        const cached = this.resolved.get(key);
        if (cached) return structuredClone(cached);
        const resolved = ref.file ? await this.hubFile(ref, ref.file, name) : await this.hubQuant(ref, name);
        // Knowing a repository is gated before downloading lets the editor ask for a token up front.
        if (!this.hub.isOffline()) resolved.entry.gated = await this.hub.isGated(ref.repo).catch(() => undefined);
        this.resolved.set(key, structuredClone(resolved));
        return resolved;
    }

    private async hubFile(ref: HubReference, file: string, name?: string): Promise<ResolvedModel> {
        // Any part of a split GGUF names the whole set, which is known by its first part.
        const partFiles = splitPartFiles(file);
        if (partFiles) return hubEntry(ref, await this.splitParts(ref, partFiles), name);
        const installed = await this.store.installed(ref.repo, file);
        if (installed) return hubEntry(ref, { path: file, sizeBytes: installed.manifest.sizeBytes, sha256: installed.manifest.sha256 }, name);
        if (this.hub.isOffline()) return hubEntry(ref, { path: file, sizeBytes: 0 }, name);
        return hubEntry(ref, await this.hub.fileInfo(ref.repo, file, ref.revision), name);
    }

    private async hubQuant(ref: HubReference, name?: string): Promise<ResolvedModel> {
        const quant = ref.quant ?? 'Q4_K_M';
        if (this.hub.isOffline()) {
            const installed = (await this.store.listManifests()).find((m) => m.manifest.repo === ref.repo && m.manifest.quant === quant);
            if (!installed) throw new LocalAiError(ErrorCode.ModelNotFound, `${ref.repo}:${quant} is not installed and offline mode is on.`);
            const partFiles = splitPartFiles(installed.manifest.file);
            if (partFiles) return hubEntry(ref, await this.splitParts(ref, partFiles), name);
            return hubEntry(ref, { path: installed.manifest.file, sizeBytes: installed.manifest.sizeBytes, sha256: installed.manifest.sha256 }, name);
        }
        const files = await this.hub.listGgufFiles(ref.repo, ref.revision);
        const matching = files.filter((file) => quantFromFileName(file.path) === quant && !file.path.toLowerCase().includes('mmproj'));
        if (matching.length === 0) {
            const quants = [...new Set(files.map((file) => quantFromFileName(file.path)).filter(Boolean))].join(', ');
            throw new LocalAiError(ErrorCode.ModelNotFound, `${ref.repo} has no ${quant} GGUF file${quants ? ` (it has ${quants})` : ''}.`);
        }
        const single = matching.filter((file) => !isSplitPart(file.path)).sort((a, b) => a.path.length - b.path.length);
        if (single.length > 0) return hubEntry(ref, single[0], name);
        // Only split sets: the first complete one (all its parts listed), from the repository's own listing.
        const sets = matching.map((file) => splitPartFiles(file.path)).filter((set): set is string[] => set !== undefined && set[0] !== undefined);
        const complete = sets.sort((a, b) => a[0].length - b[0].length).find((set) => set.every((part) => files.some((file) => file.path === part)));
        if (!complete) {
            throw new LocalAiError(ErrorCode.ModelNotFound, `${ref.repo} has ${quant} only as a split GGUF with parts missing from the repository.`);
        }
        return hubEntry(ref, splitSet(complete.map((part) => files.find((file) => file.path === part) as HubPartInfo)), name);
    }

    /** Every part of a split GGUF: from the store when all are installed, from the hub's listing otherwise (sizes unknown offline). */
    private async splitParts(ref: HubReference, partFiles: string[]): Promise<HubFileSet> {
        const installed = await Promise.all(partFiles.map((part) => this.store.installed(ref.repo, part)));
        if (installed.every((found) => found !== undefined) || this.hub.isOffline()) {
            return splitSet(
                partFiles.map((part, i) => ({ path: part, sizeBytes: installed[i]?.manifest.sizeBytes ?? 0, sha256: installed[i]?.manifest.sha256 })),
            );
        }
        const listed = await this.hub.listGgufFiles(ref.repo, ref.revision);
        const parts = partFiles.map((part) => listed.find((file) => file.path === part));
        const missing = partFiles.filter((_, i) => !parts[i]);
        if (missing.length > 0) {
            throw new LocalAiError(ErrorCode.ModelNotFound, `${ref.repo} is missing part ${missing.join(', ')} of the split GGUF ${partFiles[0]}.`, {
                file: missing[0],
            });
        }
        return splitSet(parts as HubPartInfo[]);
    }

    private async resolveLocal(source: string, name?: string): Promise<ResolvedModel> {
        const raw = source.startsWith('file:') ? source.slice('file:'.length) : source;
        const absolute = path.resolve(raw.startsWith('~') ? path.join(os.homedir(), raw.slice(1)) : raw);
        const size = await fileSize(absolute);
        if (size === undefined) throw new LocalAiError(ErrorCode.ModelNotFound, `No model file at ${absolute}.`, { file: absolute });
        return localEntry(absolute, size, 'user', name);
    }
}

/** A hub file name the store cannot hold as it is (it would escape the folder, print a fake line, or pass for a partial). */
function refusedFileName(name: string, problem: string): LocalAiError {
    return new LocalAiError(ErrorCode.InvalidParams, `Refused the hub file "${printable(name)}": ${problem}.`, {
        hint: 'Local AI downloads only hub files whose names are plain relative paths ending in .gguf.',
    });
}

interface HubPartInfo {
    path: string;
    sizeBytes: number;
    sha256?: string;
}

/** One hub file, or a split GGUF's parts under its first part's name. */
type HubFileSet = HubPartInfo & { parts?: ModelFilePart[] };

function splitSet(parts: HubPartInfo[]): HubFileSet {
    return {
        path: parts[0].path,
        sizeBytes: parts.reduce((sum, part) => sum + part.sizeBytes, 0),
        parts: parts.map((part) => ({ file: part.path, sizeBytes: part.sizeBytes, sha256: part.sha256 })),
    };
}

function hubEntry(ref: HubReference, info: HubFileSet, name?: string): ResolvedModel {
    // The hub chose these names (from a quantization reference, or its own answer about a file): they are checked again.
    for (const part of [info.path, ...(info.parts ?? []).map((p) => p.file)]) {
        const problem = hubFileNameProblem(part);
        if (problem) throw refusedFileName(`${ref.repo}/${part}`, problem);
    }
    const quant = quantFromFileName(info.path) ?? 'GGUF';
    const file: ModelFile = { quant, file: info.path, sizeBytes: info.sizeBytes, sha256: info.sha256, parts: info.parts, state: 'available' };
    const entry: ModelEntry = {
        id: hubFileId(ref.repo, info.path, ref.revision),
        name: printable(name ?? path.basename(info.path).replace(/(?:-\d{5}-of-\d{5})?\.gguf$/i, '')),
        family: ref.repo.split('/')[1],
        source: 'user',
        repo: ref.repo,
        revision: ref.revision,
        tags: [],
        files: [file],
        defaultQuant: quant,
    };
    return { entry, file };
}

/** An entry for a GGUF file on disk, used in place. */
export function localEntry(absolutePath: string, sizeBytes: number, source: 'user' | 'discovered', name?: string): ResolvedModel {
    const quant = quantFromFileName(absolutePath) ?? 'GGUF';
    const file: ModelFile = { quant, file: path.basename(absolutePath), sizeBytes, path: absolutePath, state: 'installed' };
    const entry: ModelEntry = {
        id: `file:${absolutePath}`,
        // A file found on disk may be named anything: the name is shown, so it cannot carry control characters.
        name: printable(name ?? path.basename(absolutePath).replace(/\.gguf$/i, '')),
        family: 'local',
        source,
        tags: [],
        files: [file],
        defaultQuant: quant,
    };
    return { entry, file };
}
