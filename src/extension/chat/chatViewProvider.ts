/**
 * The Chat view in the Local AI sidebar (`localAi.chat`). The webview is rebuilt when it becomes
 * visible again (no retainContextWhenHidden); it restores its scroll and draft with getState/setState
 * and gets the conversation back from the controller on `ready`.
 */
import * as vscode from 'vscode';
import type { ChatController } from './chatController';
import { chatHtml, chatWebviewOptions, connectWebview } from './chatWebview';

export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
    static readonly viewId = 'localAi.chat';
    private view: vscode.WebviewView | undefined;
    private connection: vscode.Disposable | undefined;

    constructor(
        private readonly extensionUri: vscode.Uri,
        private readonly controller: ChatController,
        private readonly log: vscode.LogOutputChannel,
    ) {}

    resolveWebviewView(view: vscode.WebviewView): void {
        this.connection?.dispose();
        this.view = view;
        view.webview.options = chatWebviewOptions(this.extensionUri);
        view.webview.html = chatHtml(view.webview, this.extensionUri);
        this.connection = connectWebview(view.webview, this.controller, this.log);
        view.onDidDispose(() => {
            this.connection?.dispose();
            this.connection = undefined;
            this.view = undefined;
        });
    }

    /** Shows the view (resolving it if needed) and puts the cursor in the question box. */
    async reveal(): Promise<void> {
        if (this.view) this.view.show(false);
        else await vscode.commands.executeCommand(`${ChatViewProvider.viewId}.focus`);
        this.controller.focus();
    }

    dispose(): void {
        this.connection?.dispose();
    }
}
