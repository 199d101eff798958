/**
 * Cloud and remote providers: "Set Cloud API Key…", "Clear Cloud API Key…" (keys live in SecretStorage
 * only) and "Use a Cloud Provider…", which writes localAi.fallback.providers and .mode in the user
 * settings (the fallback settings are ignored in untrusted workspaces, so a repository cannot set them)
 * and then asks for the key.
 */
import * as vscode from 'vscode';
import { isProviderId, PROVIDER_IDS, PROVIDERS, type ProviderId } from '../../common/providers';
import { providerApiKey, type ProviderSetting } from '../../common/settings';
import { SECTION, readSidecarSettings } from '../config';
import type { ExtensionServices } from '../services';
import type { CommandRow } from './commandRow';

async function pickProvider(title: string, candidates: readonly ProviderId[]): Promise<ProviderId | undefined> {
    const configured = new Set(readSidecarSettings().fallback.providers.map((provider) => provider.id));
    const picked = await vscode.window.showQuickPick(
        candidates.map((id) => ({ label: PROVIDERS[id].label ?? PROVIDERS[id].name, description: configured.has(id) ? 'configured' : undefined, id })),
        { title, placeHolder: 'Provider' },
    );
    return picked?.id;
}

/** Asks for a key and stores it; resolves true when one was stored. */
export async function promptForKey({ secrets }: ExtensionServices, provider: ProviderId, reason?: string): Promise<boolean> {
    const facts = PROVIDERS[provider];
    const key = await vscode.window.showInputBox({
        title: facts.keyIsHuggingFaceToken ? 'Hugging Face token (also used for downloads)' : `${facts.name} API key`,
        prompt: [reason, facts.keyPage ? `Create one at ${facts.keyPage}.` : undefined, "Kept in VS Code's secret storage, never in settings."]
            .filter(Boolean)
            .join(' '),
        password: true,
        ignoreFocusOut: true,
        validateInput: (value) => (value.trim() ? undefined : 'Paste the key, or press Escape to cancel.'),
    });
    if (!key?.trim()) return false;
    await secrets.setProviderKey(provider, key.trim());
    void vscode.window.showInformationMessage(`Local AI: the ${facts.name} key is stored.`);
    return true;
}

async function setCloudApiKey(services: ExtensionServices, arg: unknown): Promise<void> {
    const provider = isProviderId(arg) ? arg : await pickProvider('Set Cloud API Key', PROVIDER_IDS);
    if (provider) await promptForKey(services, provider);
}

async function clearCloudApiKey(services: ExtensionServices, arg: unknown): Promise<void> {
    const stored = Object.keys((await services.secrets.read()).providerKeys) as ProviderId[];
    if (stored.length === 0) {
        void vscode.window.showInformationMessage('Local AI: no cloud API key is stored.');
        return;
    }
    const provider = isProviderId(arg) ? arg : await pickProvider('Clear Cloud API Key', stored);
    if (!provider) return;
    await services.secrets.setProviderKey(provider, undefined);
    void vscode.window.showInformationMessage(`Local AI: the ${PROVIDERS[provider].name} key is removed.`);
}

async function useCloudProvider(services: ExtensionServices): Promise<void> {
    const provider = await pickProvider('Use a Cloud Provider', PROVIDER_IDS);
    if (!provider) return;
    const facts = PROVIDERS[provider];
    const config = vscode.workspace.getConfiguration(SECTION);
    const existing = readSidecarSettings().fallback.providers.find((candidate) => candidate.id === provider);
    let baseUrl = existing?.baseUrl;
    if (facts.suggestedBaseUrl) {
        baseUrl = await vscode.window.showInputBox({
            title: `${facts.name}: endpoint`,
            value: existing?.baseUrl || facts.suggestedBaseUrl,
            ignoreFocusOut: true,
            validateInput: (value) => (/^https?:\/\/\S+$/.test(value.trim()) ? undefined : 'An http:// or https:// URL.'),
        });
        if (baseUrl === undefined) return;
    }
    const model = await vscode.window.showInputBox({
        title: `${facts.name}: model name`,
        value: existing?.model || facts.suggestedModel,
        ignoreFocusOut: true,
        validateInput: (value) => (value.trim() ? undefined : 'The model name at the provider.'),
    });
    if (!model) return;
    const entry: ProviderSetting = { id: provider, model: model.trim(), ...(baseUrl?.trim() ? { baseUrl: baseUrl.trim() } : {}) };
    // The chosen provider goes first; the others keep their order behind it.
    const providers = [entry, ...readSidecarSettings().fallback.providers.filter((candidate) => candidate.id !== provider)];
    await config.update('fallback.providers', providers, vscode.ConfigurationTarget.Global);

    if (readSidecarSettings().fallback.mode === 'off') {
        const choice = await vscode.window.showQuickPick(
            [
                { label: 'Ask each time', description: 'Say why the local model cannot answer, then ask before sending', mode: 'ask' as const },
                { label: 'Automatically', description: 'Use the provider whenever the local model cannot answer', mode: 'auto' as const },
                {
                    label: 'Only when I pick it in the chat',
                    description: 'Fallback stays off; nothing leaves the machine unless you choose this model',
                    mode: 'off' as const,
                },
            ],
            { title: `When may ${facts.name} answer?` },
        );
        if (choice && choice.mode !== 'off') await config.update('fallback.mode', choice.mode, vscode.ConfigurationTarget.Global);
    }
    const hasKey = !!providerApiKey(await services.secrets.read(), provider);
    if (!hasKey && (facts.keyRequired || (await askOptionalKey(facts.name)))) await promptForKey(services, provider);
}

async function askOptionalKey(name: string): Promise<boolean> {
    const choice = await vscode.window.showInformationMessage(`Does the ${name} need an API key?`, 'Set API Key', 'No Key Needed');
    return choice === 'Set API Key';
}

export function cloudCommands(services: ExtensionServices): CommandRow[] {
    return [
        { id: 'localAi.setCloudApiKey', run: (provider?: unknown) => setCloudApiKey(services, provider) },
        { id: 'localAi.clearCloudApiKey', run: (provider?: unknown) => clearCloudApiKey(services, provider) },
        { id: 'localAi.useCloudProvider', run: () => useCloudProvider(services) },
    ];
}
