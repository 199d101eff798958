/** "Open Chat in Editor": the same chat in an editor tab, for a wider view. One panel at a time. */
import * as vscode from 'vscode';
import type { ChatController } from './chatController';
import { chatHtml, chatWebviewOptions, connectWebview } from './chatWebview';

export class ChatPanel implements vscode.Disposable {
    static readonly viewType = 'localAi.chatPanel';
    private panel: vscode.WebviewPanel | undefined;
    private connection: vscode.Disposable | undefined;

    constructor(
        private readonly extensionUri: vscode.Uri,
        private readonly controller: ChatController,
        private readonly log: vscode.LogOutputChannel,
    ) {}

    show(): void {
        if (this.panel) {
            this.panel.reveal();
            this.controller.focus();
            return;
        }
        const panel = vscode.window.createWebviewPanel(ChatPanel.viewType, 'Local AI Chat', vscode.ViewColumn.Beside, chatWebviewOptions(this.extensionUri));
        panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'icons', 'local-ai.svg');
        panel.webview.html = chatHtml(panel.webview, this.extensionUri);
        this.connection = connectWebview(panel.webview, this.controller, this.log);
        this.panel = panel;
        panel.onDidDispose(() => {
            this.connection?.dispose();
            this.connection = undefined;
            this.panel = undefined;
        });
    }

    dispose(): void {
        this.panel?.dispose();
    }
}
