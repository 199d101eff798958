/** The one Local AI status-bar item: sidecar health, the active model, or download progress. */
import * as vscode from 'vscode';
import type { StatusParams } from '../common/protocol';
import type { SidecarClient } from './sidecarClient';

export class StatusBar implements vscode.Disposable {
    private readonly item = vscode.window.createStatusBarItem('localAi.status', vscode.StatusBarAlignment.Right, 100);
    private readonly subscription: vscode.Disposable;

    constructor(sidecar: SidecarClient) {
        this.item.name = 'Local AI';
        this.render(sidecar.status);
        this.item.show();
        this.subscription = sidecar.onStatus((status) => this.render(status));
    }

    private render(status: StatusParams): void {
        this.item.backgroundColor = undefined;
        this.item.command = 'localAi.showLogs';
        if (status.health === 'error') {
            this.item.text = '$(error) Local AI';
            this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
            this.item.command = 'localAi.restartSidecar';
        } else if (status.health === 'starting') {
            this.item.text = '$(loading~spin) Local AI';
        } else if (status.activeModel) {
            this.item.text = `$(hubot) ${status.activeModel.name} · ${status.activeModel.device}`;
        } else {
            this.item.text = status.busy ? '$(loading~spin) Local AI' : '$(hubot) Local AI';
        }
        this.item.tooltip = `Local AI: ${status.message}`;
    }

    dispose(): void {
        this.subscription.dispose();
        this.item.dispose();
    }
}
