/** Tokens and API keys, kept in VS Code's SecretStorage only (never in settings or logs). */
import * as vscode from 'vscode';
import { PROVIDER_IDS, PROVIDERS, type ProviderId } from '../common/providers';
import type { SidecarSecrets } from '../common/settings';

const HF_TOKEN_KEY = 'localAi.huggingFaceToken';
const providerKey = (provider: ProviderId) => `localAi.apiKey.${provider}`;

export class SecretStore implements vscode.Disposable {
    private readonly changed = new vscode.EventEmitter<void>();
    /** Fires when any Local AI secret was set or cleared, here or in another window. */
    readonly onDidChange = this.changed.event;
    private readonly subscription: vscode.Disposable;

    constructor(private readonly storage: vscode.SecretStorage) {
        this.subscription = storage.onDidChange((event) => {
            if (event.key.startsWith('localAi.')) this.changed.fire();
        });
    }

    async read(): Promise<SidecarSecrets> {
        const keys = await Promise.all(PROVIDER_IDS.map(async (id) => [id, await this.storage.get(providerKey(id))] as const));
        return {
            huggingFaceToken: await this.storage.get(HF_TOKEN_KEY),
            providerKeys: Object.fromEntries(keys.filter(([, value]) => !!value)),
        };
    }

    // The setters fire onDidChange themselves as soon as the secret is stored: SecretStorage's own event can
    // come after the user's next request, which must already carry the new key. (Other windows' changes still
    // come through that event.)

    async setHuggingFaceToken(token: string | undefined): Promise<void> {
        await (token ? this.storage.store(HF_TOKEN_KEY, token) : this.storage.delete(HF_TOKEN_KEY));
        this.changed.fire();
    }

    async setProviderKey(provider: ProviderId, key: string | undefined): Promise<void> {
        // One Hugging Face token serves downloads and the inference router: never two copies that can disagree.
        if (PROVIDERS[provider].keyIsHuggingFaceToken) return this.setHuggingFaceToken(key);
        await (key ? this.storage.store(providerKey(provider), key) : this.storage.delete(providerKey(provider)));
        this.changed.fire();
    }

    dispose(): void {
        this.subscription.dispose();
        this.changed.dispose();
    }
}
