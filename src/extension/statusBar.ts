/**
 * The one Local AI status-bar item. In order of what matters most: the sidecar is down (click restarts
 * it), downloads are running (`$(cloud-download) 42% · Qwen2.5-Coder-1.5B · 38 MB/s · 1m20s`, click
 * lists them; the GPU build's fetch is one of them), the model list failed, then the active model and its
 * engine or why there is none (click switches models). Where models run on the CPU, the tooltip carries the
 * GPU acceleration offer, with its buttons. While the local server is on, the tooltip ends with its address and
 * the requests it answered, or why this window does not serve.
 */
import * as vscode from 'vscode';
import type { DownloadProgress } from '../common/models';
import type { ServerState } from '../common/serverProtocol';
import type { GpuAcceleration } from './gpu/gpuAcceleration';
import type { LocalServer } from './server/localServer';
import type { SidecarClient } from './sidecarClient';
import { formatBytes, formatDuration } from '../common/format';
import { describeDownload, percent } from './views/modelFormat';
import type { ModelsModel } from './views/modelsModel';

export class StatusBar implements vscode.Disposable {
    private readonly item = vscode.window.createStatusBarItem('localAi.status', vscode.StatusBarAlignment.Right, 100);
    private readonly subscriptions: vscode.Disposable[];

    constructor(
        private readonly sidecar: SidecarClient,
        private readonly models: ModelsModel,
        private readonly gpu: GpuAcceleration,
        private readonly server: LocalServer,
    ) {
        this.item.name = 'Local AI';
        this.render();
        this.item.show();
        this.subscriptions = [
            sidecar.onStatus(() => this.render()),
            models.onDidChange(() => this.render()),
            gpu.onDidChange(() => this.render()),
            server.onDidChange(() => this.render()),
        ];
    }

    /** What the item says now, icons as `$(name)`: the words a user reads in the status bar. */
    get text(): string {
        return this.item.text;
    }

    /** What its tooltip says, as Markdown source (command links included). */
    get tooltip(): string {
        const tooltip = this.item.tooltip;
        return typeof tooltip === 'string' ? tooltip : (tooltip?.value ?? '');
    }

    private render(): void {
        const status = this.sidecar.status;
        const item = this.item;
        item.backgroundColor = undefined;
        item.command = 'localAi.showLogs';
        item.tooltip = `Local AI: ${status.message}`;
        const downloads = [...this.gpu.downloads, ...this.models.downloads];
        const running = downloads.filter((download) => download.state !== 'failed');
        const failed = downloads.filter((download) => download.state === 'failed');
        if (status.health === 'error') {
            item.text = '$(error) Local AI';
            item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
            item.command = 'localAi.restartSidecar';
        } else if (status.health === 'starting') {
            item.text = '$(loading~spin) Local AI';
        } else if (running.length > 0) {
            item.text = `$(cloud-download) ${summarise(running)}`;
            item.tooltip = downloadsTooltip(downloads);
            item.command = 'localAi.showDownloads';
        } else if (failed.length > 0) {
            item.text = `$(warning) Download failed · ${failed[0].name}`;
            item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
            item.tooltip = downloadsTooltip(downloads);
            item.command = 'localAi.showDownloads';
        } else if (this.models.error) {
            item.text = '$(warning) Local AI';
            item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
            item.tooltip = `Local AI could not list models: ${this.models.error}`;
        } else if (status.activeModel) {
            item.text = `$(hubot) ${status.activeModel.name} · ${status.activeModel.device}`;
            item.tooltip = `Local AI: ${status.activeModel.name}${status.activeModel.quant ? ` ${status.activeModel.quant}` : ''} on the ${status.activeModel.device}, context ${status.activeModel.contextSize.toLocaleString()} tokens${status.activeModel.sequences ? ` for each of ${status.activeModel.sequences} conversations kept warm` : ''}. Click to switch models.`;
            item.command = 'localAi.selectModel';
            if (status.activeModel.device === 'CPU') this.addGpuOffer();
        } else {
            this.renderIdle();
            this.addGpuOffer();
        }
        this.addServerLine();
        if (status.busy && status.health !== 'error' && running.length === 0 && !item.text.includes('~spin')) {
            item.text = item.text.replace(/^\$\([^)]+\)/, '$(loading~spin)');
        }
    }

    /** No model in memory: say which one chat will use, or why there is none. */
    private renderIdle(): void {
        const item = this.item;
        item.command = 'localAi.selectModel';
        const active = this.models.activeModelId ? this.models.find(this.models.activeModelId) : undefined;
        const installed = this.models.installed();
        const providers = this.models.cloudProviders;
        if (active && installed.some((choice) => choice.entry.id === active.id)) {
            item.text = `$(hubot) ${active.name} · not loaded`;
            item.tooltip = `Local AI: ${active.name} loads on the first chat. Click to switch models.`;
        } else if (active) {
            item.text = `$(hubot) ${active.name} · not downloaded`;
            item.tooltip = `Local AI: chat is set to ${active.name}, which is not downloaded yet. Click to pick another model or download one.`;
        } else if (installed.length > 0) {
            item.text = '$(hubot) Local AI · pick a model';
            item.tooltip = 'Local AI: models are installed but none is chosen for chat. Click to pick one.';
        } else if (providers.length > 0) {
            item.text = `$(cloud) ${providers[0].model} · cloud`;
            item.tooltip = `Local AI: no local model is installed; ${providers[0].id} answers when the fallback policy allows. Click to download a local model.`;
        } else if (this.models.loaded) {
            item.text = '$(hubot) Local AI · no model';
            item.tooltip = 'Local AI: no model is installed yet. Click to download one.';
        } else {
            item.text = '$(hubot) Local AI';
        }
    }

    /** The GPU offer under the tooltip, its actions as command links (only those commands are trusted). */
    private addGpuOffer(): void {
        const view = this.gpu.view;
        if (!view) return;
        const item = this.item;
        const text = typeof item.tooltip === 'string' ? item.tooltip : (item.tooltip?.value ?? '');
        const links = view.actions.map((action) =>
            action.url
                ? `[${action.title}](${action.url})`
                : `[${action.title}](command:${action.command}?${encodeURIComponent(JSON.stringify(action.args ?? []))})`,
        );
        // The sidecar's words go in as text: a registry URL or a reason must not turn into Markdown.
        const md = new vscode.MarkdownString(undefined, true);
        md.appendText(text).appendMarkdown('\n\n---\n\n$(rocket) **GPU acceleration:** ').appendText(view.headline);
        if (links.length > 0) md.appendMarkdown(`\n\n${links.join(' · ')}`);
        md.isTrusted = { enabledCommands: ['localAi.enableGpu', 'localAi.disableGpu'] };
        item.tooltip = md;
    }

    /** The local server's line under the tooltip, as text (an address or a message must not turn into Markdown). */
    private addServerLine(): void {
        const line = describeServer(this.server.state, this.server.enabled);
        if (!line) return;
        const item = this.item;
        if (typeof item.tooltip === 'string' || !item.tooltip) {
            item.tooltip = `${item.tooltip ?? ''}\n\n${line}`;
        } else {
            item.tooltip.appendMarkdown('\n\n---\n\n').appendText(line);
        }
    }

    dispose(): void {
        for (const subscription of this.subscriptions) subscription.dispose();
        this.item.dispose();
    }
}

/** One download in full; several as a count with their combined progress and the longest wait. */
export function summarise(downloads: DownloadProgress[]): string {
    if (downloads.length === 1) return describeDownload(downloads[0]);
    const received = downloads.reduce((sum, download) => sum + download.receivedBytes, 0);
    const total = downloads.reduce((sum, download) => sum + download.totalBytes, 0);
    const speed = downloads.reduce((sum, download) => sum + download.bytesPerSecond, 0);
    const etas = downloads.map((download) => download.etaSeconds).filter((eta): eta is number => eta !== undefined);
    const parts = [`${percent(received, total)}%`, `${downloads.length} downloads`];
    if (speed > 0) parts.push(`${formatBytes(speed)}/s`);
    if (etas.length > 0) parts.push(formatDuration(Math.max(...etas)));
    return parts.join(' · ');
}

/** The server's line in the tooltip; nothing while it is off. */
export function describeServer(state: ServerState, enabled: boolean): string | undefined {
    if (state.running) return `Local server: ${state.address} · ${state.requests.toLocaleString()} ${state.requests === 1 ? 'request' : 'requests'}`;
    if (state.problem?.kind === 'portTakenByLocalAi') return `Local server: another window serves at ${state.address}`;
    if (state.problem) return `Local server: not running (${state.problem.message})`;
    return enabled ? 'Local server: starting…' : undefined;
}

function downloadsTooltip(downloads: DownloadProgress[]): vscode.MarkdownString {
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown('**Local AI downloads** (click to see them, cancel keeps what was downloaded)\n\n');
    for (const download of downloads) {
        md.appendMarkdown(
            `- $(${download.state === 'failed' ? 'warning' : 'cloud-download'}) ${describeDownload(download)} · ${formatBytes(download.receivedBytes)} of ${formatBytes(download.totalBytes)}${download.message ? ` — ${download.message}` : ''}\n`,
        );
    }
    return md;
}
