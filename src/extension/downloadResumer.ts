/**
 * Downloads outlive the sidecar and the window: every download the user started is remembered in the
 * global state until it finishes, fails for good or is cancelled. When the sidecar comes up again (after a
 * crash, a restart or a reloaded window) the remembered ones start again, and resume from their partial
 * files (HTTP Range), so the user never has to notice or start over.
 */
import type * as vscode from 'vscode';
import type { StatusParams } from '../common/protocol';
import type { SidecarClient } from './sidecarClient';

const STATE_KEY = 'localAi.pendingDownloads';

/** What is needed to start a download again. */
export interface PendingDownload {
    model: string;
    quant?: string;
    name?: string;
    force?: boolean;
}

const sameDownload = (a: PendingDownload, b: PendingDownload) => a.model === b.model && (a.quant ?? '') === (b.quant ?? '');

export class DownloadResumer implements vscode.Disposable {
    private readonly subscription: vscode.Disposable;
    private readonly running: PendingDownload[] = [];
    private wasReady = false;

    constructor(
        private readonly state: vscode.Memento,
        sidecar: SidecarClient,
        private readonly restart: (download: PendingDownload) => Promise<unknown>,
    ) {
        this.subscription = sidecar.onStatus((status) => this.onStatus(status));
    }

    /** Called when a download starts (by the user or by a resume). */
    async remember(download: PendingDownload): Promise<void> {
        if (!this.running.some((candidate) => sameDownload(candidate, download))) this.running.push(download);
        const pending = this.pending().filter((candidate) => !sameDownload(candidate, download));
        await this.state.update(STATE_KEY, [...pending, download]);
    }

    /** Called when a download is over for good: installed, cancelled by the user, or failed with an answer. */
    async forget(download: PendingDownload): Promise<void> {
        this.markStopped(download);
        await this.state.update(
            STATE_KEY,
            this.pending().filter((candidate) => !sameDownload(candidate, download)),
        );
    }

    /** Called when the sidecar went away under a download: it stays remembered and restarts with the sidecar. */
    markStopped(download: PendingDownload): void {
        const index = this.running.findIndex((candidate) => sameDownload(candidate, download));
        if (index >= 0) this.running.splice(index, 1);
    }

    pending(): PendingDownload[] {
        return this.state.get<PendingDownload[]>(STATE_KEY, []);
    }

    private onStatus(status: StatusParams): void {
        const ready = status.health === 'ready' || status.health === 'busy';
        const cameUp = ready && !this.wasReady;
        this.wasReady = ready;
        if (!cameUp) return;
        for (const download of this.pending()) {
            const inSidecar = status.downloads.some((d) => d.modelId === download.model && (!download.quant || d.quant === download.quant));
            if (inSidecar || this.running.some((candidate) => sameDownload(candidate, download))) continue;
            void this.restart(download);
        }
    }

    dispose(): void {
        this.subscription.dispose();
    }
}
