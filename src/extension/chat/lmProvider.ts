/**
 * Installed local models in VS Code's own model picker, for any extension that uses the language-model
 * API. Registered only where VS Code has `lm.registerLanguageModelChatProvider` (1.104 and later);
 * on older versions the chat simply does without it.
 */
import * as vscode from 'vscode';
import type { ChatMessage } from '../../common/chat';
import { CountTokensRequest } from '../../common/protocol';
import type { ExtensionServices } from '../services';
import { streamChat } from './streamChat';

/** Must match `contributes.languageModelChatProviders[].vendor` in package.json. */
export const LM_VENDOR = 'local-ai';
/** Used when a model does not say how long its context is. */
const DEFAULT_CONTEXT = 4096;

export function registerLanguageModelProvider(services: ExtensionServices): vscode.Disposable | undefined {
    const lm: Partial<typeof vscode.lm> = vscode.lm;
    if (typeof lm.registerLanguageModelChatProvider !== 'function') return undefined;
    const provider = new LocalModelsProvider(services);
    return vscode.Disposable.from(provider, lm.registerLanguageModelChatProvider(LM_VENDOR, provider));
}

class LocalModelsProvider implements vscode.LanguageModelChatProvider, vscode.Disposable {
    private readonly changed = new vscode.EventEmitter<void>();
    readonly onDidChangeLanguageModelChatInformation = this.changed.event;
    private readonly subscription: vscode.Disposable;

    constructor(private readonly services: ExtensionServices) {
        this.subscription = services.models.onDidChange(() => this.changed.fire());
    }

    async provideLanguageModelChatInformation(): Promise<vscode.LanguageModelChatInformation[]> {
        const { models } = this.services;
        if (!models.loaded) await models.refresh();
        const installed = new Map(models.installed().map(({ entry }) => [entry.id, entry]));
        return [...installed.values()].map((model) => ({
            id: model.id,
            name: model.name,
            family: model.family,
            version: model.revision ?? '1',
            detail: 'Local AI · on this machine',
            maxInputTokens: model.contextLength ?? model.presets?.contextSize ?? DEFAULT_CONTEXT,
            maxOutputTokens: model.contextLength ?? DEFAULT_CONTEXT,
            capabilities: {},
        }));
    }

    async provideLanguageModelChatResponse(
        model: vscode.LanguageModelChatInformation,
        messages: readonly vscode.LanguageModelChatRequestMessage[],
        _options: vscode.ProvideLanguageModelChatResponseOptions,
        progress: vscode.Progress<vscode.LanguageModelResponsePart>,
        token: vscode.CancellationToken,
    ): Promise<void> {
        await streamChat(
            this.services.sidecar,
            { model: model.id, messages: messages.map(toChatMessage) },
            { onText: (text) => progress.report(new vscode.LanguageModelTextPart(text)) },
            token,
        );
    }

    async provideTokenCount(
        model: vscode.LanguageModelChatInformation,
        text: string | vscode.LanguageModelChatRequestMessage,
        token: vscode.CancellationToken,
    ): Promise<number> {
        const params = typeof text === 'string' ? { model: model.id, text } : { model: model.id, messages: [toChatMessage(text)] };
        return (await this.services.sidecar.request(CountTokensRequest.type, params, token)).tokens;
    }

    dispose(): void {
        this.subscription.dispose();
        this.changed.dispose();
    }
}

function toChatMessage(message: vscode.LanguageModelChatRequestMessage): ChatMessage {
    const content = message.content.map((part) => (part instanceof vscode.LanguageModelTextPart ? part.value : '')).join('');
    return { role: message.role === vscode.LanguageModelChatMessageRole.Assistant ? 'assistant' : 'user', content };
}
