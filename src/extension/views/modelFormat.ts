/**
 * How models, fits and downloads read in the tree, the quick picks and the status bar, so the three
 * always say the same thing the same way.
 */
import * as vscode from 'vscode';
import type { FitClass, FitEstimate } from '../../common/hardware';
import { formatBytes, formatDuration, printable } from '../../common/format';
import type { DownloadProgress, ModelEntry, ModelFile } from '../../common/models';

export function percent(received: number, total: number): number {
    return total > 0 ? Math.min(100, Math.floor((received / total) * 100)) : 0;
}

/** `42% · Qwen2.5-Coder-1.5B · 38 MB/s · 1m20s`, the words the status bar and the downloads list share. */
export function describeDownload(download: DownloadProgress): string {
    const parts = [`${percent(download.receivedBytes, download.totalBytes)}%`, printable(download.name)];
    if (download.state === 'downloading' && download.bytesPerSecond > 0) parts.push(`${formatBytes(download.bytesPerSecond)}/s`);
    if (download.state === 'downloading' && download.etaSeconds !== undefined) parts.push(formatDuration(download.etaSeconds));
    if (download.state !== 'downloading') parts.push(download.state);
    return parts.join(' · ');
}

interface FitBadge {
    icon: string;
    color: string;
    label: string;
}

const FIT_BADGES: Record<FitClass | 'unknown', FitBadge> = {
    gpu: { icon: 'rocket', color: 'charts.green', label: 'Fits on the GPU' },
    partial: { icon: 'layers-active', color: 'charts.yellow', label: 'Partly on the GPU' },
    cpu: { icon: 'chip', color: 'charts.blue', label: 'Runs on the CPU' },
    none: { icon: 'circle-slash', color: 'errorForeground', label: 'Does not fit this machine' },
    unknown: { icon: 'question', color: 'descriptionForeground', label: 'Fit not estimated yet' },
};

export function fitBadge(fit: FitEstimate | undefined): FitBadge {
    return FIT_BADGES[fit?.fit ?? 'unknown'];
}

/** The badge's words and the estimate's reason, without saying the same thing twice. */
export function fitSentence(fit: FitEstimate | undefined): string {
    const label = fitBadge(fit).label;
    if (!fit) return label;
    return fit.reason.toLowerCase().startsWith(label.toLowerCase()) ? fit.reason : `${label}: ${fit.reason}`;
}

export function fitIcon(fit: FitEstimate | undefined): vscode.ThemeIcon {
    const badge = fitBadge(fit);
    return new vscode.ThemeIcon(badge.icon, new vscode.ThemeColor(badge.color));
}

/** Ratings as stars: quality and speed are 1 (worst) to 5 (best). */
export function stars(rating: number | undefined): string {
    if (rating === undefined) return '';
    const r = Math.max(0, Math.min(5, Math.round(rating)));
    return '★'.repeat(r) + '☆'.repeat(5 - r);
}

/** The file of a model shown by default: the one installed, else the machine's default quantization. */
export function preferredFile(entry: ModelEntry, quant?: string): ModelFile | undefined {
    return (
        entry.files.find((file) => file.quant === quant) ??
        entry.files.find((file) => file.state === 'installed' && (quant === undefined || file.quant === quant)) ??
        entry.files.find((file) => file.quant === entry.defaultQuant) ??
        entry.files[0]
    );
}

/** `1.5B · Q4_K_M · 1.1 GB · quality ★★★★☆ · speed ★★★☆☆`, the facts of a row after its name. */
export function describeFile(entry: ModelEntry, file: ModelFile | undefined): string {
    const parts: string[] = [];
    if (entry.parametersB !== undefined) parts.push(`${entry.parametersB}B`);
    if (file) parts.push(file.quant, formatBytes(file.sizeBytes));
    if (entry.quality !== undefined) parts.push(`quality ${stars(entry.quality)}`);
    if (entry.speed !== undefined) parts.push(`speed ${stars(entry.speed)}`);
    return parts.join(' · ');
}

/** The Markdown tooltip of a model: what it needs, why it fits or not, where it comes from. */
export function modelTooltip(entry: ModelEntry, file: ModelFile | undefined, extra: string[] = []): vscode.MarkdownString {
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**${escapeMarkdown(printable(entry.name))}**`);
    if (file) md.appendMarkdown(` · ${escapeMarkdown(file.quant)}`);
    md.appendMarkdown('\n\n');
    for (const line of extra) md.appendMarkdown(`${line}\n\n`);
    const fit = file?.fit;
    const badge = fitBadge(fit);
    md.appendMarkdown(`$(${badge.icon}) ${fitSentence(fit)}\n\n`);
    const rows: [string, string][] = [];
    if (fit) {
        rows.push(['RAM needed', formatBytes(fit.ramBytes)]);
        rows.push(['VRAM needed', fit.vramBytes > 0 ? `${formatBytes(fit.vramBytes)} (${fit.gpuLayers}/${fit.totalLayers} layers)` : 'none']);
        rows.push(['Speed', `~${Math.round(fit.tokensPerSecond)} tokens/s${fit.measured ? ' (measured)' : ' (estimated)'}`]);
        rows.push(['Context', `${fit.contextSize.toLocaleString()} tokens${entry.contextLength ? ` of ${entry.contextLength.toLocaleString()}` : ''}`]);
    } else if (entry.contextLength) {
        rows.push(['Context', `${entry.contextLength.toLocaleString()} tokens`]);
    }
    if (file) rows.push(['File size', formatBytes(file.sizeBytes)]);
    if (entry.parametersB !== undefined) rows.push(['Parameters', `${entry.parametersB}B`]);
    if (entry.quality !== undefined) rows.push(['Quality', stars(entry.quality)]);
    if (entry.speed !== undefined) rows.push(['Speed rating', stars(entry.speed)]);
    rows.push(['License', entry.license ? escapeMarkdown(entry.license) + (entry.gated ? ' (gated: accept it on the hub)' : '') : 'unknown']);
    rows.push(['Source', entry.repo ? escapeMarkdown(entry.repo) : entry.source === 'discovered' ? 'found on disk' : escapeMarkdown(entry.source)]);
    if (file?.path) rows.push(['File', escapeMarkdown(printable(file.path))]);
    md.appendMarkdown(`| | |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}`);
    if (entry.description) md.appendMarkdown(`\n\n${escapeMarkdown(entry.description)}`);
    return md;
}

function escapeMarkdown(text: string): string {
    return text.replace(/[|*_`[\]<>]/g, (c) => `\\${c}`);
}
