/**
 * The extension's side of cloud fallback: `ask` mode's modal (why the local model cannot answer and
 * which provider would), the one-time notice the first time a conversation leaves the machine in this
 * session, and an offer to set a key when a provider refused one.
 */
import * as vscode from 'vscode';
import type { FallbackInfo, ProviderId } from '../common/chat';
import { FallbackConfirmRequest, FallbackUsedNotification, ProviderKeyRejectedNotification, type FallbackConfirmParams } from '../common/protocol';
import { PROVIDERS } from '../common/providers';
import { promptForKey } from './commands/cloud';
import type { ExtensionServices } from './services';

export class FallbackPrompts implements vscode.Disposable {
    private noticeShown = false;
    /** Providers already asked about in this session; cleared when a key changes. */
    private readonly keyPrompted = new Set<ProviderId>();
    private readonly disposables: vscode.Disposable[];

    constructor(private readonly services: ExtensionServices) {
        const { sidecar, secrets } = services;
        this.disposables = [
            sidecar.onRequest(FallbackConfirmRequest.type, (params) => this.confirm(params)),
            sidecar.onNotification(FallbackUsedNotification.type, (info: FallbackInfo) => this.firstFallback(info)),
            sidecar.onNotification(ProviderKeyRejectedNotification.type, ({ provider }: { provider: ProviderId }) => void this.keyRejected(provider)),
            secrets.onDidChange(() => this.keyPrompted.clear()),
        ];
    }

    private async confirm(params: FallbackConfirmParams): Promise<{ allow: boolean }> {
        const name = PROVIDERS[params.provider].name;
        const send = `Send to ${name}`;
        const choice = await vscode.window.showWarningMessage(
            `${params.message} Send this conversation to ${params.providerModel} at ${name}?`,
            {
                modal: true,
                detail: 'The conversation, including any code in it, leaves this machine. Change this with the localAi.fallback.mode setting.',
            },
            send,
        );
        return { allow: choice === send };
    }

    private firstFallback(info: FallbackInfo): void {
        if (this.noticeShown) return;
        this.noticeShown = true;
        this.services.log.info(`Fallback to ${info.provider}: ${info.message}`);
        void vscode.window
            .showInformationMessage(
                `Local AI: ${info.message} This answer comes from ${PROVIDERS[info.provider].name}; answers from a provider carry a cloud badge.`,
                'Fallback Settings',
            )
            .then((choice) => {
                if (choice) void vscode.commands.executeCommand('workbench.action.openSettings', 'localAi.fallback');
            });
    }

    private async keyRejected(provider: ProviderId): Promise<void> {
        if (this.keyPrompted.has(provider)) return;
        this.keyPrompted.add(provider);
        const name = PROVIDERS[provider].name;
        const choice = await vscode.window.showWarningMessage(`Local AI: ${name} refused the API key, or none is set.`, 'Set API Key');
        if (choice) await promptForKey(this.services, provider, `${name} refused the previous key.`);
    }

    dispose(): void {
        for (const disposable of this.disposables) disposable.dispose();
    }
}
