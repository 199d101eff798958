/**
 * What the sidebar view and the editor panel share: the locked-down webview options, the HTML shell
 * with its Content-Security-Policy, and the validated link between a webview and the controller.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { parseWebviewMessage, type ExtensionToWebview } from '../../common/webviewProtocol';
import type { ChatController, ChatSurface } from './chatController';

/** Only media/ is readable, and `command:` links stay inert (enableCommandUris is off). */
export function chatWebviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
    return {
        enableScripts: true,
        enableCommandUris: false,
        localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media')],
    };
}

/**
 * `default-src 'none'`: no network at all, so an image or a fetch slipped into model output has
 * nowhere to go. Scripts run only with this page's nonce; styles and fonts only from media/.
 */
export function chatHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
    const nonce = randomBytes(16).toString('base64');
    const asset = (...path: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', ...path)).toString();
    const csp = [
        "default-src 'none'",
        `img-src ${webview.cspSource} data:`,
        `style-src ${webview.cspSource}`,
        `font-src ${webview.cspSource}`,
        `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${asset('chat', 'codicons', 'codicon.css')}">
<link rel="stylesheet" href="${asset('chat', 'chat.css')}">
<title>Local AI Chat</title>
</head>
<body>
<div id="app" aria-busy="true">Loading the chat…</div>
<script nonce="${nonce}" src="${asset('build', 'chat.js')}"></script>
</body>
</html>`;
}

/** Connects a webview to the controller; every incoming message is validated before it is acted on. */
export function connectWebview(webview: vscode.Webview, controller: ChatController, log: vscode.LogOutputChannel): vscode.Disposable {
    const surface: ChatSurface = {
        post: (message: ExtensionToWebview) => void webview.postMessage(message),
    };
    const detach = controller.attach(surface);
    const listener = webview.onDidReceiveMessage((raw: unknown) => {
        const parsed = parseWebviewMessage(raw);
        if (!parsed.ok) {
            log.warn(`Chat webview sent an invalid message (${parsed.problem}); ignored.`);
            return;
        }
        controller.handle(surface, parsed.message).catch((error: unknown) => {
            const message = error instanceof Error ? error.message : String(error);
            log.error(`Chat: ${message}`);
            void vscode.window.showErrorMessage(`Local AI: ${message}`);
        });
    });
    return vscode.Disposable.from(detach, listener);
}
