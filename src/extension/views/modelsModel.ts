/**
 * What the editor knows about models: the catalog, user and discovered models with their state, the
 * recommendation, the active and loaded model, and running downloads. Fed by ModelListRequest,
 * ModelsChangedNotification and the sidecar's status; the tree, the status bar and the commands read it.
 */
import * as vscode from 'vscode';
import type { ProviderSetting } from '../../common/settings';
import { ModelListRequest, ModelsChangedNotification, type ModelListResult, type StatusParams } from '../../common/protocol';
import type { DownloadProgress, ModelEntry, ModelFile, Recommendation } from '../../common/models';
import { readSidecarSettings } from '../config';
import type { SidecarClient } from '../sidecarClient';

/** Context key that shows the welcome view of the Models tree. */
export const NO_MODEL_INSTALLED_KEY = 'localAi.noModelInstalled';

/** A model file the user can act on: the entry and one of its quantizations. */
export interface ModelChoice {
    entry: ModelEntry;
    file: ModelFile;
}

/** Download states that still need the user's attention in the status bar. */
const UNFINISHED: DownloadProgress['state'][] = ['queued', 'downloading', 'verifying', 'retrying', 'failed'];

export interface ModelsModelOptions {
    sidecar: SidecarClient;
    log: vscode.LogOutputChannel;
}

export class ModelsModel implements vscode.Disposable {
    private readonly changed = new vscode.EventEmitter<void>();
    /** Fires whenever anything the views show changed. */
    readonly onDidChange = this.changed.event;
    private readonly disposables: vscode.Disposable[] = [this.changed];
    private result: ModelListResult | undefined;
    private refreshing: Promise<void> | undefined;
    private refreshAgain = false;
    private sidecarReady = false;
    private catalogFilterText = '';
    private readonly contextKeys = new Map<string, boolean>();
    /** Why the list could not be read, in plain words; cleared by the next successful read. */
    error: string | undefined;

    constructor(private readonly options: ModelsModelOptions) {
        this.disposables.push(
            options.sidecar.onStatus((status) => this.onStatus(status)),
            options.sidecar.onNotification<void>(ModelsChangedNotification.type, () => {
                // Before 'ready' the next 'ready' refreshes anyway (see onStatus).
                if (this.sidecarReady) void this.refresh();
            }),
            vscode.workspace.onDidChangeConfiguration((event) => {
                if (event.affectsConfiguration('localAi.fallback.providers')) this.changed.fire();
            }),
        );
        // No setContext here: every key starts false, which is what an unset key already means, and the four
        // commands took about 7 of activate()'s 21 ms in a profile of the extension host (#21 §4).
    }

    /** The last list the sidecar sent; undefined until the sidecar answered once. */
    get list(): ModelListResult | undefined {
        return this.result;
    }

    get loaded(): boolean {
        return this.result !== undefined;
    }

    get status(): StatusParams {
        return this.options.sidecar.status;
    }

    get models(): ModelEntry[] {
        return this.result?.models ?? [];
    }

    get recommendation(): Recommendation | undefined {
        return this.result?.recommended;
    }

    /** The model chat uses by default. */
    get activeModelId(): string | undefined {
        return this.result?.activeModelId;
    }

    /** The quantization of the active model the user picked; undefined: its default file. */
    get activeQuant(): string | undefined {
        return this.result?.activeQuant;
    }

    /** Whether this installed file is the one chat answers with. */
    isActive(entry: ModelEntry, file: ModelFile): boolean {
        if (entry.id !== this.activeModelId || file.state !== 'installed') return false;
        const quant = this.activeQuant ?? entry.files.find((candidate) => candidate.quant === entry.defaultQuant && candidate.state === 'installed')?.quant;
        return quant === undefined || quant === file.quant;
    }

    /** The model in memory now, from the sidecar's status. */
    get loadedModelId(): string | undefined {
        return this.status.activeModel?.modelId;
    }

    /** Downloads still running, queued, or failed (for the status bar and the Downloading group). */
    get downloads(): DownloadProgress[] {
        return this.status.downloads.filter((download) => UNFINISHED.includes(download.state));
    }

    get cloudProviders(): ProviderSetting[] {
        return readSidecarSettings().fallback.providers;
    }

    get catalogFilter(): string {
        return this.catalogFilterText;
    }

    /** Shows only catalog models whose name, family or tags contain `text` (case-insensitive); '' shows all. */
    setCatalogFilter(text: string): void {
        this.catalogFilterText = text.trim();
        void vscode.commands.executeCommand('setContext', 'localAi.catalogFiltered', this.catalogFilterText !== '');
        this.changed.fire();
    }

    matchesFilter(entry: ModelEntry): boolean {
        const filter = this.catalogFilterText.toLowerCase();
        if (!filter) return true;
        return [entry.name, entry.family, entry.id, ...entry.tags].some((text) => text.toLowerCase().includes(filter));
    }

    find(modelId: string): ModelEntry | undefined {
        return this.models.find((entry) => entry.id === modelId);
    }

    /** Every installed file, active model first. */
    installed(): ModelChoice[] {
        const choices = this.models.flatMap((entry) => entry.files.filter((file) => file.state === 'installed').map((file) => ({ entry, file })));
        return choices.sort((a, b) => Number(this.isActive(b.entry, b.file)) - Number(this.isActive(a.entry, a.file)));
    }

    /** The catalog and user models that are not installed in any quantization. */
    notInstalled(): ModelEntry[] {
        return this.models.filter((entry) => entry.source !== 'discovered' && !entry.files.some((file) => file.state === 'installed'));
    }

    /** The progress of a running download of this file, if any. */
    downloadOf(modelId: string, quant: string): DownloadProgress | undefined {
        return this.downloads.find((download) => download.modelId === modelId && download.quant === quant);
    }

    /**
     * Asks the sidecar for the list again. Never throws: a failure is kept in `error` and logged, and
     * the views say why. Concurrent calls share one request, and a call during a request schedules one more.
     */
    refresh(refresh = false): Promise<void> {
        if (this.refreshing) {
            this.refreshAgain = true;
            return this.refreshing;
        }
        this.refreshing = this.read(refresh).finally(() => {
            this.refreshing = undefined;
            if (this.refreshAgain) {
                this.refreshAgain = false;
                void this.refresh();
            }
        });
        return this.refreshing;
    }

    private async read(refresh: boolean): Promise<void> {
        try {
            this.result = await this.options.sidecar.request(ModelListRequest.type, { refresh });
            this.error = undefined;
        } catch (error) {
            this.error = error instanceof Error ? error.message : String(error);
            this.options.log.error(`Could not list models: ${this.error}`);
        }
        this.updateContextKey();
        this.changed.fire();
    }

    private onStatus(status: StatusParams): void {
        // Ask only once the sidecar said 'ready' (sent after the client is running): a request while the
        // language client is still (re)starting would make the client start a second process.
        if (status.health === 'ready' && !this.sidecarReady) {
            this.sidecarReady = true;
            // A (re)started sidecar may know other models than the one before it.
            void this.refresh();
        } else if (status.health === 'starting' || status.health === 'error') {
            this.sidecarReady = false;
        }
        this.updateContextKey();
        this.changed.fire();
    }

    /** The keys menus and the welcome view depend on; set only when they change (status arrives often). */
    private updateContextKey(): void {
        const keys: Record<string, boolean> = {
            [NO_MODEL_INSTALLED_KEY]: this.result !== undefined && this.installed().length === 0 && this.downloads.length === 0,
            // Completes the walkthrough's download step however the model was installed.
            'localAi.modelInstalled': this.installed().length > 0,
            'localAi.downloading': this.downloads.some((download) => download.state !== 'failed'),
            'localAi.modelLoaded': this.status.activeModel !== undefined,
        };
        for (const [key, value] of Object.entries(keys)) {
            if (this.contextKeys.get(key) === value) continue;
            this.contextKeys.set(key, value);
            void vscode.commands.executeCommand('setContext', key, value);
        }
    }

    dispose(): void {
        for (const disposable of this.disposables) disposable.dispose();
    }
}
