/**
 * Every model Local AI knows, in one list: the catalog, the user's own models, what the store holds and
 * GGUF files found on disk, each file with its state (available, partial, downloading, installed) and,
 * when the hardware service is there, how it fits this machine.
 */
import { ErrorCode, LocalAiError } from '../../common/errors';
import type { FitEstimate } from '../../common/hardware';
import type { DownloadProgress, ModelEntry, ModelFile, Recommendation } from '../../common/models';
import type { DownloadResult, ModelListResult } from '../../common/protocol';
import type { SidecarContext } from '../context';
import { Emitter } from '../events';
import { catalogEntries, catalogModels, type CatalogModel } from './catalog';
import { defaultDiscoveryFolders, discoverModelFiles, type DiscoveredFile, type DiscoveryFolders } from './discovery';
import type { DownloadManager } from './download';
import { hubFileId, quantFromFileName } from './hubUri';
import type { ModelStore } from './store';
import { localEntry, type ResolvedModel, type UserModelResolver } from './userModels';

/** What the registry needs from the hardware service, when it exists. */
export interface FitAdvisor {
    /** Detects the machine once; the estimates below use its last answer. */
    report(): Promise<unknown>;
    estimateCatalogFile(entry: ModelEntry, file: ModelFile, contextSize?: number): FitEstimate;
    /** For files with no catalog facts (your models, files found on disk): reads only the GGUF header. */
    estimateFile(source: { path: string }): Promise<FitEstimate>;
    recommend(models: ModelEntry[]): Recommendation | undefined;
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
    private readonly headerFits = new Map<string, FitEstimate | undefined>();
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
        if (refresh) {
            this.discovered = undefined;
            this.headerFits.clear();
        }
        const models = await this.entries();
        const hardware = await this.readyHardware();
        let recommended: Recommendation | undefined;
        if (hardware) {
            for (const entry of models) {
                for (const file of entry.files) {
                    if (entry.architecture) file.fit = safely(() => hardware.estimateCatalogFile(entry, file));
                    else if (file.path && file.state === 'installed') file.fit = await this.headerFit(hardware, file.path, file.sizeBytes);
                }
            }
            recommended = safely(() => hardware.recommend(models.filter((entry) => entry.source === 'catalog')));
        }
        const installedIds = new Set(models.filter((m) => m.files.some((f) => f.state === 'installed')).map((m) => m.id));
        const configured = this.options.context.settings.defaultModel;
        const activeModelId = configured || (recommended && installedIds.has(recommended.modelId) ? recommended.modelId : [...installedIds][0]);
        return { models, recommended, activeModelId, modelsPath: this.options.store.folder };
    }

    /** A catalog id, an entry id from the list, a `hf:` URI or a path; throws ModelNotFound. */
    async resolve(model: string, quant?: string): Promise<ResolvedModel> {
        const entries = await this.entries();
        const known = entries.find((entry) => entry.id === model);
        if (known) return { entry: known, file: pickFile(known, quant) };
        const resolved = await this.options.userModels.resolve(model, quant);
        const again = entries.find((entry) => entry.id === resolved.entry.id);
        if (again) return { entry: again, file: pickFile(again, quant ?? resolved.file.quant) };
        await this.decorate(resolved.entry, resolved.file, await this.discoveredFiles(), new Set());
        return resolved;
    }

    /** Like resolve, but only a file that is on disk; throws ModelNotInstalled otherwise. */
    async resolveInstalled(model: string, quant?: string): Promise<InstalledModel> {
        const resolved = await this.resolve(model, quant);
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
        const result = await this.options.downloads.download({
            entry,
            file,
            signal: options.signal,
            onProgress: options.onProgress,
            askBeforeReplacing: options.askBeforeReplacing,
        });
        this.emit('changed');
        return result;
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
        const { context, store, userModels } = this.options;
        const discovered = await this.discoveredFiles();
        const used = new Set<string>();
        const catalog = catalogEntries(this.catalog);
        const users = await userModels.entries(context.settings.userModels, (message) => context.log.warn(message));
        const known = [...catalog, ...users];
        const covered = new Set(known.flatMap((entry) => entry.files.map((file) => `${entry.repo}/${file.file}`)));
        // Files downloaded (or half downloaded) by URI stay listed even when no setting names them.
        const stored = [...(await store.listManifests()).map(({ manifest }) => manifest), ...(await store.listJournals())];
        for (const item of stored) {
            if (!item.repo || covered.has(`${item.repo}/${item.file}`)) continue;
            covered.add(`${item.repo}/${item.file}`);
            known.push(storedEntry(item.repo, item.file, item.revision ?? 'main', item.sizeBytes, item.sha256));
        }
        for (const entry of known) for (const file of entry.files) await this.decorate(entry, file, discovered, used);
        const others = discovered.filter((file) => !used.has(file.path)).map((file) => discoveredEntry(file));
        return [...known, ...others];
    }

    /** Header reads cost ~50 ms a file: each file is read once per size (a new download changes it). */
    private async headerFit(hardware: FitAdvisor, filePath: string, sizeBytes: number): Promise<FitEstimate | undefined> {
        const key = `${filePath}:${sizeBytes}`;
        if (!this.headerFits.has(key)) this.headerFits.set(key, await hardware.estimateFile({ path: filePath }).catch(() => undefined));
        return this.headerFits.get(key);
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

    private async decorate(entry: ModelEntry, file: ModelFile, discovered: DiscoveredFile[], used: Set<string>): Promise<void> {
        if (file.state === 'installed' || !entry.repo) return;
        const { store, downloads } = this.options;
        const installed = await store.installed(entry.repo, file.file);
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
        const partial = await store.partialBytes(entry.repo, file.file);
        if (partial !== undefined) Object.assign(file, { state: 'partial', partialBytes: partial });
    }
}

/** The requested quantization, else the entry's default, else its first file. */
function pickFile(entry: ModelEntry, quant?: string): ModelFile {
    const wanted = (quant ?? entry.defaultQuant)?.toUpperCase();
    const file = entry.files.find((f) => f.quant.toUpperCase() === wanted) ?? (quant ? undefined : entry.files[0]);
    if (!file) {
        throw new LocalAiError(ErrorCode.ModelNotFound, `${entry.name} has no ${quant} file; it has ${entry.files.map((f) => f.quant).join(', ')}.`);
    }
    return file;
}

/** A hub file in the store that neither the catalog nor the settings mention (downloaded by URI). */
function storedEntry(repo: string, file: string, revision: string, sizeBytes: number, sha256?: string): ModelEntry {
    const quant = quantFromFileName(file) ?? 'GGUF';
    return {
        id: hubFileId(repo, file, revision),
        name:
            file
                .split('/')
                .pop()
                ?.replace(/\.gguf$/i, '') ?? file,
        family: repo.split('/')[1],
        source: 'user',
        repo,
        revision,
        tags: [],
        files: [{ quant, file, sizeBytes, sha256, state: 'available' }],
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
