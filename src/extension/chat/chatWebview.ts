/**
 * What the sidebar view and the editor panel share: the locked-down webview options, the HTML shell
 * with its Content-Security-Policy, and the validated link between a webview and the controller.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { parseWebviewMessage, type ExtensionToWebview } from '../../common/webviewProtocol';
import type { ChatController, ChatSurface } from './chatController';

/** Where esbuild.js writes the webview's script, stylesheet and codicons. */
const webviewRoot = (extensionUri: vscode.Uri) => vscode.Uri.joinPath(extensionUri, 'dist', 'webview');

/**
 * Only the built webview (dist/webview: its script, stylesheet and codicons) is readable, and
 * `command:` links stay inert (enableCommandUris is off).
 */
export function chatWebviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
    return {
        enableScripts: true,
        enableCommandUris: false,
        localResourceRoots: [webviewRoot(extensionUri)],
    };
}

/**
 * `default-src 'none'`: no network at all, so an image or a fetch slipped into model output has
 * nowhere to go. Scripts run only with this page's nonce; styles and fonts only from dist/webview.
 */
export function chatHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
    const nonce = randomBytes(16).toString('base64');
    const asset = (file: string) => webview.asWebviewUri(vscode.Uri.joinPath(webviewRoot(extensionUri), file)).toString();
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
<link rel="stylesheet" href="${asset('codicon.css')}">
<link rel="stylesheet" href="${asset('chat.css')}">
<title>Local AI Chat</title>
</head>
<body>
<div id="app" aria-busy="true">Loading the chat…</div>
<script nonce="${nonce}" src="${asset('chat.js')}"></script>
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
