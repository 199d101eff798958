/**
 * Builds every chat surface once, at activation: the controller behind the sidebar view and the editor
 * panel, the inline chat and its review, `@local` in VS Code's Chat view, and the language-model
 * provider. Nothing here waits for the sidecar.
 */
import * as vscode from 'vscode';
import type { ExtensionServices } from '../services';
import { ChatController } from './chatController';
import { ChatPanel } from './chatPanel';
import { ChatViewProvider } from './chatViewProvider';
import { EditReview } from './editReview';
import { InlineChat } from './inlineChat';
import { registerLanguageModelProvider } from './lmProvider';
import { registerParticipant } from './participant';

export interface ChatFeatures extends vscode.Disposable {
    controller: ChatController;
    view: ChatViewProvider;
    panel: ChatPanel;
    review: EditReview;
    inline: InlineChat;
    /** False on VS Code versions without `lm.registerLanguageModelChatProvider`. */
    languageModelsRegistered: boolean;
}

export function createChatFeatures(services: ExtensionServices): ChatFeatures {
    const { context, log } = services;
    const review = new EditReview();
    const controller = new ChatController(services, review);
    const view = new ChatViewProvider(context.extensionUri, controller, log);
    const panel = new ChatPanel(context.extensionUri, controller, log);
    const inline = new InlineChat(services, review);
    const disposables: vscode.Disposable[] = [review, controller, view, panel, vscode.window.registerWebviewViewProvider(ChatViewProvider.viewId, view)];
    if (typeof vscode.chat?.createChatParticipant === 'function') disposables.push(registerParticipant(services));
    const languageModels = registerLanguageModelProvider(services);
    if (languageModels) disposables.push(languageModels);
    return {
        controller,
        view,
        panel,
        review,
        inline,
        languageModelsRegistered: languageModels !== undefined,
        dispose: () => {
            for (const disposable of disposables.reverse()) disposable.dispose();
        },
    };
}
