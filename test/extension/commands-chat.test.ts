/**
 * Open Chat in Editor, New Chat and Show Logs, inside the real extension host: the editor tab the chat
 * opens in (one, however often asked), a new empty conversation that keeps the last one in the history
 * and brings the chat view up, and the Local AI log shown in the Output panel.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ChatViewState, ExtensionToWebview } from '../../src/common/webviewProtocol';
import type { ChatSurface } from '../../src/extension/chat/chatController';
import type { ChatFeatures } from '../../src/extension/chat/chatFeatures';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { startMockProvider } from '../fixtures/mockProviders/server';
import { localAi, pollUntil, setSettings } from './harness';

const PANEL_VIEW_TYPE = 'localAi.chatPanel';

/** The editor tabs that hold the chat. */
function chatTabs(): vscode.Tab[] {
    return vscode.window.tabGroups.all
        .flatMap((group) => group.tabs)
        .filter((tab) => tab.input instanceof vscode.TabInputWebview && tab.input.viewType.endsWith(PANEL_VIEW_TYPE));
}

/** Resolves once `check` holds, testing it again at each change that `event` reports. */
function until<T>(what: string, event: vscode.Event<T>, check: () => boolean, timeoutMs = 30_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            subscription.dispose();
            reject(new Error(`timed out waiting until ${what}`));
        }, timeoutMs);
        const subscription = event(() => {
            if (!check()) return;
            clearTimeout(timer);
            subscription.dispose();
            resolve();
        });
    });
}

describe('Commands: chat and logs', function () {
    this.timeout(120_000);
    let local: LocalAiTestApi;
    let chat: ChatFeatures;

    before(async () => {
        local = await localAi();
        assert.ok(local.services.chat, 'the chat features were not created');
        chat = local.services.chat;
    });

    it('Open Chat in Editor opens the chat in one editor tab, and brings that tab back when asked again', async () => {
        await vscode.window.tabGroups.close(chatTabs());
        try {
            await vscode.commands.executeCommand('localAi.openChatInEditor');
            await until('the chat tab is open', vscode.window.tabGroups.onDidChangeTabs, () => chatTabs().length === 1);
            assert.equal(chatTabs()[0].label, 'Local AI Chat');
            assert.equal(chatTabs()[0].isActive, true);

            // Another editor in front of it, then the command again: the same tab comes forward, no second one.
            const other = await vscode.workspace.openTextDocument({ content: 'in front of the chat' });
            await vscode.window.showTextDocument(other, { viewColumn: chatTabs()[0].group.viewColumn });
            await until('the chat tab is behind', vscode.window.tabGroups.onDidChangeTabs, () => !chatTabs()[0].isActive);
            await vscode.commands.executeCommand('localAi.openChatInEditor');
            await until('the chat tab is in front again', vscode.window.tabGroups.onDidChangeTabs, () => chatTabs().length === 1 && chatTabs()[0].isActive);
        } finally {
            await vscode.window.tabGroups.close(chatTabs());
            await vscode.commands.executeCommand('workbench.action.closeAllEditors');
        }
    });

    it('New Chat starts an empty conversation, keeps the last one in the history, and shows the chat view', async () => {
        const provider = await startMockProvider({ provider: 'ollama' });
        const restore = await setSettings({ 'fallback.providers': [{ id: 'ollama', model: 'llama3.2', baseUrl: provider.baseUrl }] });
        const posted: ExtensionToWebview[] = [];
        const surface: ChatSurface = { post: (message) => posted.push(structuredClone(message)) };
        const attached = chat.controller.attach(surface);
        try {
            // A conversation with an answer in it, from the provider picked in the chat's header.
            await chat.controller.handle(surface, { type: 'model/select', modelId: 'cloud:ollama:llama3.2' });
            assert.equal(chat.controller.state().selectedModel, 'cloud:ollama:llama3.2', 'the provider is not offered in the chat header');
            await chat.controller.send('hello');
            const before = chat.controller.state();
            assert.equal(before.turns.at(-1)?.content, 'Hello from the mock.');

            // The view itself is the product's (no API lists the views a user sees); the side bar is closed first.
            const view = () => (chat.view as unknown as { view?: vscode.WebviewView }).view;
            await vscode.commands.executeCommand('workbench.action.closeSidebar');
            await pollUntil('the chat view is hidden', () => view()?.visible !== true);

            posted.length = 0;
            await vscode.commands.executeCommand('localAi.newChat');
            const after = chat.controller.state();
            assert.notEqual(after.conversationId, before.conversationId);
            assert.deepEqual(after.turns, []);
            assert.ok(
                after.history.some((summary) => summary.id === before.conversationId),
                'the last conversation left the history',
            );
            const states = posted.filter((message): message is { type: 'state'; state: ChatViewState } => message.type === 'state');
            assert.equal(states.at(-1)?.state.conversationId, after.conversationId, 'the chat was not redrawn with the new conversation');
            assert.ok(
                posted.some((message) => message.type === 'focus'),
                'the question box was not focused',
            );
            await pollUntil('the chat view is shown', () => view()?.visible === true);
        } finally {
            attached.dispose();
            await restore();
            await provider.stop();
        }
    });

    it('Show Logs shows the Local AI log in the Output panel', async () => {
        const isLogShown = () =>
            vscode.window.visibleTextEditors.some((editor) => editor.document.uri.scheme === 'output' && /Local%20AI|Local AI/.test(editor.document.uri.path));
        await vscode.commands.executeCommand('workbench.action.closePanel');
        await until('the log is hidden', vscode.window.onDidChangeVisibleTextEditors, () => !isLogShown());
        await vscode.commands.executeCommand('localAi.showLogs');
        await until('the log is shown', vscode.window.onDidChangeVisibleTextEditors, isLogShown);
        const log = vscode.window.visibleTextEditors.find((editor) => editor.document.uri.scheme === 'output')!.document.getText();
        assert.match(log, /Sidecar ready/, 'the log shown is not the Local AI log');
    });
});
