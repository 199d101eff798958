/**
 * The Models tree of the Local AI side bar: what is recommended for this machine, what is installed,
 * what is downloading, the catalog by family, and the cloud providers. It only draws ModelsModel.
 */
import * as vscode from 'vscode';
import type { DownloadProgress, ModelEntry, ModelFile } from '../../common/models';
import type { ProviderSetting } from '../../common/settings';
import { firstRunItem, firstRunRows, type FirstRunNode } from './firstRun';
import { describeDownload, describeFile, fitBadge, fitIcon, modelTooltip, percent, preferredFile } from './modelFormat';
import type { ModelsModel } from './modelsModel';

export type GroupId = 'recommended' | 'installed' | 'downloading' | 'catalog' | 'cloud';

export interface GroupNode {
    kind: 'group';
    group: GroupId;
}

export interface FamilyNode {
    kind: 'family';
    family: string;
    entries: ModelEntry[];
}

/** One model file in one group; commands receive it as their argument from the tree's menus. */
export interface ModelNode {
    kind: 'model';
    group: GroupId;
    entry: ModelEntry;
    file: ModelFile;
    download?: DownloadProgress;
}

export interface ProviderNode {
    kind: 'provider';
    provider?: ProviderSetting;
}

/** A line that explains why the tree is empty (sidecar starting, the list failed). */
export interface InfoNode {
    kind: 'info';
    message: string;
    error: boolean;
}

export type ModelsTreeNode = GroupNode | FamilyNode | ModelNode | ProviderNode | InfoNode | FirstRunNode;

const GROUP_LABELS: Record<GroupId, string> = {
    recommended: 'Recommended for this machine',
    installed: 'Installed',
    downloading: 'Downloading',
    catalog: 'Catalog',
    cloud: 'Cloud providers',
};

export class ModelsTreeProvider implements vscode.TreeDataProvider<ModelsTreeNode>, vscode.Disposable {
    private readonly changed = new vscode.EventEmitter<ModelsTreeNode | undefined>();
    readonly onDidChangeTreeData = this.changed.event;
    private readonly subscription: vscode.Disposable;

    constructor(private readonly model: ModelsModel) {
        this.subscription = model.onDidChange(() => this.refresh());
    }

    refresh(): void {
        this.changed.fire(undefined);
    }

    getChildren(node?: ModelsTreeNode): ModelsTreeNode[] {
        if (!node) return this.roots();
        if (node.kind === 'group') return this.groupChildren(node.group);
        if (node.kind === 'family') return node.entries.map((entry) => this.modelNode('catalog', entry));
        return [];
    }

    getTreeItem(node: ModelsTreeNode): vscode.TreeItem {
        switch (node.kind) {
            case 'group':
                return this.groupItem(node.group);
            case 'family': {
                const item = new vscode.TreeItem(
                    node.family,
                    this.model.catalogFilter ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed,
                );
                item.id = `family/${node.family}`;
                item.description = `${node.entries.length}`;
                item.contextValue = 'family';
                return item;
            }
            case 'model':
                return this.modelItem(node);
            case 'provider':
                return this.providerItem(node);
            case 'firstRun':
                return firstRunItem(node);
            case 'info': {
                const item = new vscode.TreeItem(node.message);
                item.iconPath = new vscode.ThemeIcon(node.error ? 'error' : 'loading~spin');
                item.tooltip = node.message;
                if (node.error) item.command = { command: 'localAi.refreshModels', title: 'Refresh Models' };
                item.contextValue = 'info';
                return item;
            }
        }
    }

    private roots(): ModelsTreeNode[] {
        const model = this.model;
        if (!model.loaded) {
            if (model.error) return [{ kind: 'info', message: `Could not list models: ${model.error}`, error: true }];
            const health = model.status.health;
            if (health === 'error') return [{ kind: 'info', message: model.status.message, error: true }];
            return [{ kind: 'info', message: 'Starting Local AI…', error: false }];
        }
        const groups: GroupId[] = [];
        // Nothing installed yet: the recommendation always shows, with its facts, or why there is none.
        if (this.recommendedChoice() || this.firstRun()) groups.push('recommended');
        if (model.installed().length > 0) groups.push('installed');
        if (model.downloads.length > 0) groups.push('downloading');
        groups.push('catalog', 'cloud');
        return groups.map((group) => ({ kind: 'group', group }));
    }

    private groupChildren(group: GroupId): ModelsTreeNode[] {
        const model = this.model;
        switch (group) {
            case 'recommended': {
                const choice = this.recommendedChoice();
                const row: ModelsTreeNode[] = choice
                    ? [{ kind: 'model', group, entry: choice.entry, file: choice.file, download: model.downloadOf(choice.entry.id, choice.file.quant) }]
                    : [];
                return this.firstRun() ? [...row, ...firstRunRows(model, choice)] : row;
            }
            case 'installed':
                return model.installed().map(({ entry, file }) => ({ kind: 'model', group, entry, file }));
            case 'downloading':
                return model.downloads.flatMap((download): ModelNode[] => {
                    const entry = model.find(download.modelId);
                    const file = entry?.files.find((candidate) => candidate.quant === download.quant);
                    return entry && file ? [{ kind: 'model', group, entry, file, download }] : [];
                });
            case 'catalog': {
                const byFamily = new Map<string, ModelEntry[]>();
                for (const entry of model.notInstalled().filter((candidate) => model.matchesFilter(candidate))) {
                    byFamily.set(entry.family, [...(byFamily.get(entry.family) ?? []), entry]);
                }
                if (byFamily.size === 0 && model.catalogFilter)
                    return [{ kind: 'info', message: `No catalog model matches "${model.catalogFilter}"`, error: false }];
                return [...byFamily.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([family, entries]) => ({ kind: 'family', family, entries }));
            }
            case 'cloud': {
                const providers = model.cloudProviders;
                return providers.length > 0 ? providers.map((provider) => ({ kind: 'provider', provider })) : [{ kind: 'provider' }];
            }
        }
    }

    /** Nothing installed and nothing downloading: the first-run view. */
    private firstRun(): boolean {
        return this.model.installed().length === 0 && this.model.downloads.length === 0;
    }

    private recommendedChoice(): { entry: ModelEntry; file: ModelFile } | undefined {
        const recommendation = this.model.recommendation;
        const entry = recommendation && this.model.find(recommendation.modelId);
        const file = entry && preferredFile(entry, recommendation.quant);
        return entry && file ? { entry, file } : undefined;
    }

    private modelNode(group: GroupId, entry: ModelEntry): ModelNode | InfoNode {
        const file = preferredFile(entry);
        if (!file) return { kind: 'info', message: `${entry.name}: no file listed`, error: true };
        return { kind: 'model', group, entry, file, download: this.model.downloadOf(entry.id, file.quant) };
    }

    private groupItem(group: GroupId): vscode.TreeItem {
        const collapsed =
            group === 'catalog' && !this.model.catalogFilter ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.Expanded;
        const item = new vscode.TreeItem(GROUP_LABELS[group], collapsed);
        item.id = `group/${group}`;
        item.contextValue = `group ${group}`;
        if (group === 'recommended') {
            // The first run gives the reason a row of its own.
            item.description = this.firstRun() ? undefined : this.model.recommendation?.reason;
            item.tooltip = this.model.recommendation?.reason;
            item.iconPath = new vscode.ThemeIcon('star-full');
        } else if (group === 'catalog') {
            item.description = this.model.catalogFilter ? `filter: ${this.model.catalogFilter}` : `${this.model.notInstalled().length} models`;
        } else if (group === 'downloading') {
            item.description = `${this.model.downloads.length}`;
        }
        item.accessibilityInformation = { label: [GROUP_LABELS[group], item.description].filter(Boolean).join(': ') };
        return item;
    }

    private modelItem(node: ModelNode): vscode.TreeItem {
        const { entry, file, download } = node;
        const active = this.model.isActive(entry, file);
        const loaded = entry.id === this.model.loadedModelId;
        const item = new vscode.TreeItem(entry.name, vscode.TreeItemCollapsibleState.None);
        item.id = `${node.group}/${entry.id}/${file.quant}`;
        // A failed download is a partial file the user can resume or delete.
        const state = download ? (download.state === 'failed' ? 'partial' : 'downloading') : file.state;
        const facts = describeFile(entry, file);
        const marks: string[] = [];
        if (active) marks.push(loaded ? '● active' : '○ active');
        if (download)
            marks.push(
                describeDownload(download)
                    .split(' · ')
                    .filter((part) => part !== entry.name && part !== download.name)
                    .join(' · '),
            );
        else if (file.state === 'partial') marks.push(`paused at ${percent(file.partialBytes ?? 0, file.sizeBytes)}%`);
        else if (file.damage) marks.push('damaged');
        item.description = [...marks, facts].join(' · ');
        item.iconPath = download
            ? new vscode.ThemeIcon(download.state === 'failed' ? 'warning' : 'sync~spin')
            : file.damage
              ? new vscode.ThemeIcon('warning')
              : fitIcon(file.fit);
        const extra: string[] = [];
        if (node.group === 'recommended' && this.model.recommendation) extra.push(`$(star-full) ${this.model.recommendation.reason}`);
        if (active) extra.push(loaded ? '$(pass-filled) Active model, loaded in memory' : '$(circle-large-outline) Active model (loads on the first chat)');
        // The template the loaded file answers in: a fallback is otherwise invisible, except in the answers' quality.
        const inMemory = this.model.status.activeModel;
        if (loaded && inMemory && (inMemory.quant === undefined || inMemory.quant === file.quant))
            extra.push(`$(comment-discussion) Chat template: ${inMemory.chatTemplate}`);
        if (download) extra.push(`$(cloud-download) ${describeDownload(download)}${download.message ? ` — ${download.message}` : ''}`);
        else if (file.damage) extra.push(`$(warning) Damaged: ${file.damage}. Repair fetches it again.`);
        item.tooltip = modelTooltip(entry, file, extra);
        // Screen readers and the e2e tests read the badge in words.
        item.accessibilityInformation = { label: `${entry.name}, ${item.description}, ${fitBadge(file.fit).label}` };
        const tokens = ['model', state];
        if (active) tokens.push('active');
        if (loaded) tokens.push('loaded');
        if (entry.repo) tokens.push('hub');
        if (file.path) tokens.push('onDisk');
        if (file.damage && !download) tokens.push('damaged');
        if (entry.files.length > 1) tokens.push('quants');
        item.contextValue = tokens.join(' ');
        return item;
    }

    private providerItem(node: ProviderNode): vscode.TreeItem {
        if (!node.provider) {
            const item = new vscode.TreeItem('Use a cloud provider…');
            item.id = 'cloud/add';
            item.iconPath = new vscode.ThemeIcon('add');
            item.tooltip = 'Answer with a cloud model when the local one cannot (only when you allow it).';
            item.command = { command: 'localAi.useCloudProvider', title: 'Use a Cloud Provider…' };
            item.contextValue = 'providerAdd';
            return item;
        }
        const { provider } = node;
        const item = new vscode.TreeItem(provider.id);
        item.id = `cloud/${provider.id}/${provider.model}`;
        item.description = provider.model;
        item.iconPath = new vscode.ThemeIcon('cloud');
        item.tooltip = new vscode.MarkdownString(
            `**${provider.id}** · ${provider.model}\n\nEndpoint: ${provider.baseUrl ?? 'the provider\u2019s public endpoint'}\n\nUsed only as the fallback policy allows (\`localAi.fallback.mode\`).`,
        );
        item.contextValue = 'provider';
        return item;
    }

    dispose(): void {
        this.subscription.dispose();
        this.changed.dispose();
    }
}
