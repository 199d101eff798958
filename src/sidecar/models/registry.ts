/**
 * Every model Local AI knows, in one list: the catalog, the user's own models, what the store holds and
 * GGUF files found on disk, each file with its state (available, partial, downloading, installed) and,
 * when the hardware service is there, how it fits this machine.
 */
import { ErrorCode, LocalAiError } from '../../common/errors';
import { printable } from '../../common/format';
import type { FitEstimate } from '../../common/hardware';
import type { DownloadProgress, ModelEntry, ModelFile, ModelFilePart, Recommendation } from '../../common/models';
import type { DownloadResult, ModelListResult } from '../../common/protocol';
import type { SidecarContext } from '../context';
import { Emitter } from '../events';
import { hasFimTokens } from '../llama/fimTokens';
import type { ModelMemory } from '../llama/memoryModel';
import { catalogEntries, catalogModels, type CatalogModel } from './catalog';
import { defaultDiscoveryFolders, discoverModelFiles, type DiscoveredFile, type DiscoveryFolders } from './discovery';
import { freeSpaceFor } from './diskSpace';
import type { DownloadManager } from './download';
import { GgufHeaderCache } from './headerCache';
import { hubFileId, quantFromFileName, splitPartFiles } from './hubUri';
import { downloadSplitModel } from './splitDownload';
import type { ModelStore } from './store';
import type { StoreListing } from './storeEntries';
import { localEntry, type ResolvedModel, type UserModelResolver } from './userModels';

/** What the registry needs from the hardware service, when it exists. */
export interface FitAdvisor {
    /** Detects the machine once; the estimates below use its last answer. */
    report(): Promise<unknown>;
    estimateCatalogFile(entry: ModelEntry, file: ModelFile, contextSize?: number): FitEstimate;
    /** For files with no catalog facts (your models, files found on disk): reads only the GGUF header. */
    readHeader(source: { path: string }): Promise<ModelMemory>;
    /** How a file whose header was read fits (no I/O); `file` names its measurements. */
    estimateHeader(model: ModelMemory, file: string): FitEstimate;
    recommend(models: ModelEntry[]): Recommendation | undefined;
    /** The completion (FIM) model that fits beside `chat`. */
    recommendCompletion(models: ModelEntry[], chat: Recommendation | undefined): Recommendation | undefined;
}

export interface ModelRegistryOptions {
    context: SidecarContext;
    store: ModelStore;
    downloads: DownloadManager;
    userModels: UserModelResolver;
    /** Default: models/catalog.json. */
    catalog?: CatalogModel[];
    /** Default: the HF cache, LM Studio's folders and localAi.extraModelFolders. */
    discoveryFolders?: () => DiscoveryFolders;
    /** Read on every list, because the hardware service may start after the registry. */
    hardware?: () => FitAdvisor | undefined;
}

export interface InstalledModel extends ResolvedModel {
    path: string;
}

/** Tells when the list may look different (install, delete, download state, settings, hardware facts). */
export class ModelRegistry extends Emitter<{ changed: [] }> {
    private readonly headers = new GgufHeaderCache();
    private discovered: Promise<DiscoveredFile[]> | undefined;
    private readonly onSettings = () => {
        this.discovered = undefined;
        this.emit('changed');
    };
    private readonly onDownloadState = () => this.emit('changed');

    constructor(private readonly options: ModelRegistryOptions) {
        super();
        options.context.on('settings', this.onSettings);
        options.downloads.on('state', this.onDownloadState);
    }

    get catalog(): CatalogModel[] {
        return this.options.catalog ?? catalogModels();
    }

    async list(refresh = false): Promise<ModelListResult> {
        // Headers are not read again on refresh: the cache reads again each file that changed.
        if (refresh) this.discovered = undefined;
        const { models, listing } = await this.listEntries();
        const hardware = await this.readyHardware();
        let recommended: Recommendation | undefined;
        let recommendedCompletion: Recommendation | undefined;
        if (hardware) {
            const headerFiles: { entry: ModelEntry; file: ModelFile; path: string; identity?: string }[] = [];
            for (const entry of models) {
                for (const file of entry.files) {
                    if (entry.architecture) file.fit = safely(() => hardware.estimateCatalogFile(entry, file));
                    else if (file.path && file.state === 'installed') {
                        // A file of the store was found by the walk: its identity is known without another stat.
                        const stored = entry.repo === undefined ? undefined : listing.installed(entry.repo, file.parts?.[0]?.file ?? file.file);
                        headerFiles.push({ entry, file, path: file.path, identity: stored?.path === file.path ? stored.identity : undefined });
                    }
                }
            }
            const memories = await this.headers.memoryOf(
                headerFiles.map(({ path, identity }) => ({ path, identity })),
                (path) => hardware.readHeader({ path }),
            );
            headerFiles.forEach(({ entry, file, path }, index) => {
                const memory = memories[index];
                file.fit = memory && safely(() => hardware.estimateHeader(memory, path));
                // The header already read says whether the file can fill in the middle: no second read.
                if (memory?.source.kind === 'gguf') entry.fim = entry.fim === true || hasFimTokens(memory.source.insights.ggufFileInfo);
            });
            const catalog = models.filter((entry) => entry.source === 'catalog');
            recommended = safely(() => hardware.recommend(catalog));
            recommendedCompletion = safely(() => hardware.recommendCompletion(catalog, recommended));
        }
        const installedIds = new Set(models.filter((m) => m.files.some((f) => f.state === 'installed')).map((m) => m.id));
        const configured = activeChoice(models, this.options.context.settings.defaultModel);
        const activeModelId = configured.model || (recommended && installedIds.has(recommended.modelId) ? recommended.modelId : [...installedIds][0]);
        const freeDiskBytes = await freeSpaceFor(this.options.store.folder);
        return {
            models,
            recommended,
            recommendedCompletion,
            activeModelId,
            activeQuant: configured.quant,
            modelsPath: this.options.store.folder,
            freeDiskBytes,
        };
    }

    /** A catalog id, an entry id from the list, a `hf:` URI or a path; throws ModelNotFound. */
    async resolve(model: string, quant?: string): Promise<ResolvedModel> {
        const { models: entries, listing } = await this.listEntries();
        const known = entries.find((entry) => entry.id === model);
        if (known) return { entry: known, file: pickFile(known, quant) };
        const resolved = await this.options.userModels.resolve(model, quant);
        const again = entries.find((entry) => entry.id === resolved.entry.id);
        if (again) return { entry: again, file: pickFile(again, quant ?? resolved.file.quant) };
        this.decorate(resolved.entry, resolved.file, { listing, discovered: await this.discoveredFiles(), used: new Set() });
        return resolved;
    }

    /** Like resolve, but only a file that is on disk; throws ModelNotInstalled otherwise. */
    async resolveInstalled(model: string, quant?: string): Promise<InstalledModel> {
        const resolved = await this.resolve(model, quant);
        const missing = resolved.file.missingParts;
        if (resolved.file.state !== 'installed' && missing?.length) {
            throw new LocalAiError(
                ErrorCode.ModelNotInstalled,
                `${resolved.entry.name} ${resolved.file.quant} is not fully downloaded: ${missing.length === 1 ? 'part' : 'parts'} ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing.`,
                {
                    file: missing[0],
                    hint: `Download it again to fetch the missing parts (local-ai models download --model ${resolved.entry.id} --quant ${resolved.file.quant}).`,
                },
            );
        }
        if (resolved.file.state !== 'installed' || !resolved.file.path) {
            throw new LocalAiError(ErrorCode.ModelNotInstalled, `${resolved.entry.name} ${resolved.file.quant} is not downloaded yet.`, {
                hint: `Download it first (Local AI: Download Model…, or local-ai models download --model ${resolved.entry.id} --quant ${resolved.file.quant}).`,
            });
        }
        return { ...resolved, path: resolved.file.path };
    }

    /** Downloads a model file unless it is already on disk; refuses one that cannot fit unless forced. */
    async download(options: {
        model: string;
        quant?: string;
        force?: boolean;
        signal?: AbortSignal;
        onProgress?: (progress: DownloadProgress) => void;
        askBeforeReplacing?: boolean;
    }): Promise<DownloadResult> {
        const { entry, file } = await this.resolve(options.model, options.quant);
        // A file in the store may be from another commit than the revision asked for: the download manager
        // decides (offline, it keeps it). Files found on disk are used as they are.
        const inStore = entry.repo !== undefined && file.path === this.options.store.paths(entry.repo, file.file).file;
        if (file.state === 'installed' && file.path && !inStore) {
            return { modelId: entry.id, quant: file.quant, path: file.path, downloaded: false, bytesFetched: 0 };
        }
        const hardware = entry.architecture ? await this.readyHardware() : undefined;
        const fit = hardware ? safely(() => hardware.estimateCatalogFile(entry, file)) : undefined;
        if (fit?.fit === 'none' && !options.force) {
            throw new LocalAiError(ErrorCode.ModelDoesNotFit, `${entry.name} ${file.quant} does not fit this machine: ${fit.reason}`, {
                needed: fit.ramBytes,
                unit: 'bytes',
                hint: 'Choose a smaller quantization or model, or download anyway with force.',
            });
        }
        const job = { entry, file, signal: options.signal, onProgress: options.onProgress, askBeforeReplacing: options.askBeforeReplacing };
        const result = file.parts
            ? await downloadSplitModel(this.options, { ...job, parts: await this.partsToFetch(entry, file.parts) })
            : await this.options.downloads.download(job);
        this.emit('changed');
        return result;
    }

    /** A split GGUF listed from the store alone may not know the sizes of parts it never started: the hub does. */
    private async partsToFetch(entry: ModelEntry, parts: ModelFilePart[]): Promise<ModelFilePart[]> {
        if (parts.every((part) => part.sizeBytes > 0) || this.options.context.settings.offline) return parts;
        return (await this.options.userModels.resolve(entry.id)).file.parts ?? parts;
    }

    /** Something the registry cannot watch changed (files removed from the store, the hardware detected): list again. */
    invalidate(): void {
        this.emit('changed');
    }

    dispose(): void {
        this.options.context.off('settings', this.onSettings);
        this.options.downloads.off('state', this.onDownloadState);
    }

    /** All entries with their files' states. */
    async entries(): Promise<ModelEntry[]> {
        return (await this.listEntries()).models;
    }

    /** The entries, and the walk of the store their states come from. */
    private async listEntries(): Promise<{ models: ModelEntry[]; listing: StoreListing }> {
        const { context, store, userModels } = this.options;
        const discovered = await this.discoveredFiles();
        const used = new Set<string>();
        const catalog = catalogEntries(this.catalog);
        const users = await userModels.entries(context.settings.userModels, (message) => context.log.warn(message));
        const known = [...catalog, ...users];
        const covered = new Set(known.flatMap((entry) => entry.files.map((file) => `${entry.repo}/${file.file}`)));
        // Files downloaded (or half downloaded) by URI stay listed even when no setting names them.
        const listing = await store.listing();
        const { manifests, journals } = listing;
        const stored = [...manifests.map(({ manifest }) => manifest), ...journals];
        for (const item of stored) {
            // Each part of a split GGUF has its own manifest or journal; the model is one entry, under its first part.
            const partFiles = splitPartFiles(item.file);
            const file = partFiles?.[0] ?? item.file;
            if (!item.repo || covered.has(`${item.repo}/${file}`)) continue;
            covered.add(`${item.repo}/${file}`);
            const parts = partFiles?.map((part) => {
                const found = stored.find((other) => other.repo === item.repo && other.file === part);
                return { file: part, sizeBytes: found?.sizeBytes ?? 0, sha256: found?.sha256 };
            });
            known.push(storedEntry(item.repo, file, item.revision ?? 'main', { sizeBytes: item.sizeBytes, sha256: item.sha256, parts }));
        }
        for (const entry of known) for (const file of entry.files) this.decorate(entry, file, { listing, discovered, used });
        const others = discovered.filter((file) => !used.has(file.path)).map((file) => discoveredEntry(file));
        return { models: [...known, ...others], listing };
    }

    /** The hardware service once it has a report; undefined without one (no fit badges then). */
    private async readyHardware(): Promise<FitAdvisor | undefined> {
        const hardware = this.options.hardware?.();
        if (!hardware) return undefined;
        try {
            await hardware.report();
            return hardware;
        } catch (error) {
            this.options.context.log.warn(`No fit estimates: hardware detection failed (${error instanceof Error ? error.message : String(error)}).`);
            return undefined;
        }
    }

    private discoveredFiles(): Promise<DiscoveredFile[]> {
        const folders = this.options.discoveryFolders?.() ?? defaultDiscoveryFolders(this.options.context.settings.extraModelFolders);
        this.discovered ??= discoverModelFiles(folders);
        return this.discovered;
    }

    private decorate(entry: ModelEntry, file: ModelFile, found: FoundFiles): void {
        if (file.state === 'installed' || !entry.repo) return;
        if (file.parts) {
            this.decorateSplit(entry.repo, file, file.parts, found);
            return;
        }
        const { store, downloads } = this.options;
        const { listing, discovered, used } = found;
        const installed = listing.installed(entry.repo, file.file);
        if (installed) {
            Object.assign(file, { state: 'installed', path: installed.path, sizeBytes: installed.manifest.sizeBytes, sha256: installed.manifest.sha256 });
            const damage = store.damageOf(installed.path);
            if (damage) file.damage = damage;
            return;
        }
        const onDisk = discovered.find((found) => found.repo === entry.repo && found.file === file.file);
        if (onDisk) {
            used.add(onDisk.path);
            Object.assign(file, { state: 'installed', path: onDisk.path });
            return;
        }
        const running = downloads.progressOf(entry.repo, file.file);
        if (running) {
            Object.assign(file, { state: 'downloading', partialBytes: running.receivedBytes });
            return;
        }
        const partial = listing.partialBytes(entry.repo, file.file);
        if (partial !== undefined) Object.assign(file, { state: 'partial', partialBytes: partial });
    }

    /** A split GGUF is installed only when every part is; otherwise the parts still missing are named. */
    private decorateSplit(repo: string, file: ModelFile, parts: ModelFilePart[], { listing, discovered, used }: FoundFiles): void {
        const { downloads } = this.options;
        const installed = parts.map((part) => listing.installed(repo, part.file));
        if (installed.every((found) => found !== undefined)) {
            const facts = installed.map((found, i) => ({ file: parts[i].file, sizeBytes: found.manifest.sizeBytes, sha256: found.manifest.sha256 }));
            Object.assign(file, { state: 'installed', path: installed[0].path, parts: facts, sizeBytes: sum(facts.map((part) => part.sizeBytes)) });
            return;
        }
        // Discovery keeps a split GGUF only when all its parts are there, under its first part.
        const onDisk = discovered.find((found) => found.repo === repo && found.file === file.file);
        if (onDisk) {
            used.add(onDisk.path);
            Object.assign(file, { state: 'installed', path: onDisk.path });
            return;
        }
        const running = parts.map((part) => downloads.progressOf(repo, part.file));
        const partials = parts.map((part) => listing.partialBytes(repo, part.file));
        const onDiskBytes = sum(parts.map((_, i) => installed[i]?.manifest.sizeBytes ?? running[i]?.receivedBytes ?? partials[i] ?? 0));
        const missingParts = parts.filter((_, i) => !installed[i]).map((part) => part.file);
        if (running.some(Boolean)) Object.assign(file, { state: 'downloading', partialBytes: onDiskBytes, missingParts });
        else if (installed.some(Boolean) || partials.some((bytes) => bytes !== undefined))
            Object.assign(file, { state: 'partial', partialBytes: onDiskBytes, missingParts });
    }
}

/** What a file's state is decided from: the store's walk, the files found on disk, and those already claimed by an entry. */
interface FoundFiles {
    listing: StoreListing;
    discovered: DiscoveredFile[];
    used: Set<string>;
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/** The requested quantization, else the entry's default, else its first file. */
/**
 * `localAi.defaultModel` as "Use for Chat" writes it, `id@QUANT`, or a bare id, URI or path. A value that is
 * itself an id (a hub file's id may hold `@revision`) is taken whole.
 */
function activeChoice(models: ModelEntry[], setting: string): { model: string; quant?: string } {
    const at = setting.lastIndexOf('@');
    if (at <= 0 || models.some((entry) => entry.id === setting)) return { model: setting };
    const [model, quant] = [setting.slice(0, at), setting.slice(at + 1)];
    const entry = models.find((candidate) => candidate.id === model);
    return entry?.files.some((file) => file.quant === quant) ? { model, quant } : { model: setting };
}

function pickFile(entry: ModelEntry, quant?: string): ModelFile {
    const wanted = (quant ?? entry.defaultQuant)?.toUpperCase();
    const file = entry.files.find((f) => f.quant.toUpperCase() === wanted) ?? (quant ? undefined : entry.files[0]);
    if (!file) {
        throw new LocalAiError(ErrorCode.ModelNotFound, `${entry.name} has no ${quant} file; it has ${entry.files.map((f) => f.quant).join(', ')}.`);
    }
    return file;
}

/** A hub file in the store that neither the catalog nor the settings mention (downloaded by URI). */
function storedEntry(repo: string, file: string, revision: string, facts: { sizeBytes: number; sha256?: string; parts?: ModelFilePart[] }): ModelEntry {
    const quant = quantFromFileName(file) ?? 'GGUF';
    const { parts } = facts;
    return {
        id: hubFileId(repo, file, revision),
        name: printable(
            file
                .split('/')
                .pop()
                ?.replace(/(?:-\d{5}-of-\d{5})?\.gguf$/i, '') ?? file,
        ),
        family: repo.split('/')[1],
        source: 'user',
        repo,
        revision,
        tags: [],
        files: [
            parts
                ? { quant, file, sizeBytes: sum(parts.map((part) => part.sizeBytes)), parts, state: 'available' }
                : { quant, file, sizeBytes: facts.sizeBytes, sha256: facts.sha256, state: 'available' },
        ],
        defaultQuant: quant,
    };
}

function discoveredEntry(found: DiscoveredFile): ModelEntry {
    const { entry } = localEntry(found.path, found.sizeBytes, 'discovered');
    if (found.repo && found.file) {
        // Keep the hub identity so the same file is recognised whichever tool downloaded it.
        return { ...entry, id: hubFileId(found.repo, found.file), repo: found.repo, family: found.repo.split('/')[1], tags: [found.origin] };
    }
    return { ...entry, tags: [found.origin] };
}

function safely<T>(compute: () => T): T | undefined {
    try {
        return compute();
    } catch {
        return undefined;
    }
}
