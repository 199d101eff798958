/**
 * The Models view with nothing installed (issue 14): before a byte is downloaded, what the recommended
 * model is, how large, where it runs and how fast, the disk left after it and why it was chosen, then
 * one Download row. Offline, or when nothing fits, the rows say why and what to do instead.
 */
import * as vscode from 'vscode';
import { formatBytes } from '../../common/format';
import type { ModelEntry, ModelFile } from '../../common/models';
import { readSidecarSettings } from '../config';
import { fitBadge, fitIcon } from './modelFormat';
import type { ModelsModel } from './modelsModel';

/** One line of the first-run view: a fact, or an action when it has a command. */
export interface FirstRunNode {
    kind: 'firstRun';
    /** Stable, for the tree and the tests: `where`, `disk`, `reason`, `download`, `offline`, `addFile`, `noFit`, `estimating`, `smaller`, `hardware`. */
    row: string;
    label: string;
    icon: vscode.ThemeIcon;
    tooltip?: string;
    command?: vscode.Command;
}

function row(row: string, label: string, icon: vscode.ThemeIcon | string, extra: Partial<FirstRunNode> = {}): FirstRunNode {
    return { kind: 'firstRun', row, label, icon: typeof icon === 'string' ? new vscode.ThemeIcon(icon) : icon, ...extra };
}

/** Where the file runs and how fast, in words: "Fits on the GPU, about 40 tokens/s (estimated)". */
export function whereAndHowFast(file: ModelFile): string {
    const fit = file.fit;
    if (!fit) return fitBadge(fit).label;
    return `${fitBadge(fit).label}, about ${Math.round(fit.tokensPerSecond)} tokens/s (${fit.measured ? 'measured' : 'estimated'})`;
}

/** "1.1 GB download, 52.3 GB free after it", or why it will not fit on the disk. */
export function diskAfterDownload(file: ModelFile, freeBytes: number | undefined): { text: string; enough: boolean } {
    const needed = Math.max(0, file.sizeBytes - (file.partialBytes ?? 0));
    const size = formatBytes(file.sizeBytes);
    if (freeBytes === undefined) return { text: `${size} download (free disk space unknown)`, enough: true };
    if (needed > freeBytes) return { text: `${size} download, but only ${formatBytes(freeBytes)} is free: free some space first`, enough: false };
    return { text: `${size} download, ${formatBytes(freeBytes - needed)} free after it`, enough: true };
}

/** The rows under "Recommended for this machine" while nothing is installed, after the model's own row. */
export function firstRunRows(model: ModelsModel, choice: { entry: ModelEntry; file: ModelFile } | undefined): FirstRunNode[] {
    const offline = readSidecarSettings().offline;
    if (!choice) return noRecommendation(model, offline);
    const { entry, file } = choice;
    const disk = diskAfterDownload(file, model.list?.freeDiskBytes);
    const reason = model.recommendation?.reason ?? '';
    const rows = [
        row('where', whereAndHowFast(file), fitIcon(file.fit), { tooltip: file.fit?.reason }),
        row('disk', disk.text, disk.enough ? 'database' : 'warning', { tooltip: model.list && `Downloads go to ${model.list.modelsPath}` }),
        // The model's name is on the row above: the reason's own row starts where it says why.
        row('reason', `Why: ${reason.replace(`${entry.name} (${file.quant}) is `, '')}`, 'info', { tooltip: reason }),
    ];
    if (offline) return [...rows, ...offlineRows()];
    return [
        ...rows,
        row('download', `Download ${entry.name} ${file.quant} (${formatBytes(file.sizeBytes)})`, 'cloud-download', {
            tooltip: 'Downloads it, checks it, loads it and opens the chat. A cancelled download resumes where it stopped.',
            command: { command: 'localAi.downloadRecommended', title: 'Download the Recommended Model' },
        }),
    ];
}

function offlineRows(): FirstRunNode[] {
    return [
        row('offline', 'Offline mode is on, so nothing is downloaded: turn it off to download', 'debug-disconnect', {
            tooltip: 'localAi.offline keeps every request on this machine. Turn it off to download a model, or add a GGUF file you already have.',
            command: { command: 'workbench.action.openSettings', title: 'Open the Offline Setting', arguments: ['localAi.offline'] },
        }),
        row('addFile', 'Add a GGUF file from this computer…', 'file-add', {
            command: { command: 'localAi.addCustomModel', title: 'Add Custom Model' },
        }),
    ];
}

function noRecommendation(model: ModelsModel, offline: boolean): FirstRunNode[] {
    const estimated = model.models.some((entry) => entry.source === 'catalog' && entry.files.some((file) => file.fit));
    // The hardware is still being read: no fit is known yet, so "nothing fits" would be a guess.
    if (!estimated) return [row('estimating', 'Estimating which models fit this machine…', 'loading~spin')];
    return [
        row('noFit', 'No catalog model fits this machine’s free memory', 'circle-slash', {
            tooltip: 'Each catalog model needs more RAM (or VRAM) than is free here. Close other applications, pick a smaller model, or use a cloud provider.',
        }),
        row('smaller', 'Try a smaller model: the catalog below says what each one needs', 'filter', {
            command: { command: 'localAi.filterCatalog', title: 'Filter the Catalog', arguments: ['small'] },
        }),
        row('hardware', 'See what was found of this machine', 'pulse', { command: { command: 'localAi.showHardwareReport', title: 'Show Hardware Report' } }),
        ...(offline ? offlineRows() : []),
    ];
}

export function firstRunItem(node: FirstRunNode): vscode.TreeItem {
    const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
    item.id = `firstRun/${node.row}`;
    item.iconPath = node.icon;
    item.tooltip = node.tooltip ?? node.label;
    item.command = node.command;
    item.contextValue = `firstRun ${node.row}`;
    // Screen readers hear what the row does, not only what it says.
    item.accessibilityInformation = { label: node.command ? `${node.label}. Press Enter: ${node.command.title}.` : node.label };
    return item;
}
