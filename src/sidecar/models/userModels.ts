/**
 * Models the user named in `localAi.models` (or on the command line): hub files, hub repositories at a
 * quantization (looked up in the repository's file list), and local GGUF paths.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode, LocalAiError } from '../../common/errors';
import type { ModelEntry, ModelFile } from '../../common/models';
import type { UserModelSetting } from '../../common/settings';
import type { HubClient } from './hub';
import { hubFileId, isSplitPart, parseHubUri, quantFromFileName, type HubReference } from './hubUri';
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
        if (source.startsWith('file:') || path.isAbsolute(source) || source.startsWith('~')) return this.resolveLocal(source, name);
        throw new LocalAiError(ErrorCode.ModelNotFound, `"${source}" is not a catalog id, a hf: URI or an absolute path to a .gguf file.`);
    }

    private async resolveHub(ref: HubReference, name?: string): Promise<ResolvedModel> {
        const key = `${ref.repo}@${ref.revision}/${ref.file ?? `:${ref.quant ?? ''}`}`;
        const cached = this.resolved.get(key);
        if (cached) return cached;
        const resolved = ref.file ? await this.hubFile(ref, ref.file, name) : await this.hubQuant(ref, name);
        // Knowing a repository is gated before downloading lets the editor ask for a token up front.
        if (!this.hub.isOffline()) resolved.entry.gated = await this.hub.isGated(ref.repo).catch(() => undefined);
        this.resolved.set(key, resolved);
        return resolved;
    }

    private async hubFile(ref: HubReference, file: string, name?: string): Promise<ResolvedModel> {
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
            return hubEntry(ref, { path: installed.manifest.file, sizeBytes: installed.manifest.sizeBytes, sha256: installed.manifest.sha256 }, name);
        }
        const files = await this.hub.listGgufFiles(ref.repo, ref.revision);
        const matching = files.filter((file) => quantFromFileName(file.path) === quant && !file.path.toLowerCase().includes('mmproj'));
        if (matching.length === 0) {
            const quants = [...new Set(files.map((file) => quantFromFileName(file.path)).filter(Boolean))].join(', ');
            throw new LocalAiError(ErrorCode.ModelNotFound, `${ref.repo} has no ${quant} GGUF file${quants ? ` (it has ${quants})` : ''}.`);
        }
        const single = matching.filter((file) => !isSplitPart(file.path)).sort((a, b) => a.path.length - b.path.length);
        if (single.length === 0) {
            throw new LocalAiError(ErrorCode.ModelNotFound, `${ref.repo} has ${quant} only as a split (multi-part) GGUF, which Local AI cannot download yet.`);
        }
        return hubEntry(ref, single[0], name);
    }

    private async resolveLocal(source: string, name?: string): Promise<ResolvedModel> {
        const raw = source.startsWith('file:') ? source.slice('file:'.length) : source;
        const absolute = path.resolve(raw.startsWith('~') ? path.join(os.homedir(), raw.slice(1)) : raw);
        const size = await fileSize(absolute);
        if (size === undefined) throw new LocalAiError(ErrorCode.ModelNotFound, `No model file at ${absolute}.`, { file: absolute });
        return localEntry(absolute, size, 'user', name);
    }
}

function hubEntry(ref: HubReference, info: { path: string; sizeBytes: number; sha256?: string }, name?: string): ResolvedModel {
    const quant = quantFromFileName(info.path) ?? 'GGUF';
    const file: ModelFile = { quant, file: info.path, sizeBytes: info.sizeBytes, sha256: info.sha256, state: 'available' };
    const entry: ModelEntry = {
        id: hubFileId(ref.repo, info.path, ref.revision),
        name: name ?? path.basename(info.path).replace(/\.gguf$/i, ''),
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
        name: name ?? path.basename(absolutePath).replace(/\.gguf$/i, ''),
        family: 'local',
        source,
        tags: [],
        files: [file],
        defaultQuant: quant,
    };
    return { entry, file };
}
