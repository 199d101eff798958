/** Tokens and API keys, kept in VS Code's SecretStorage only (never in settings or logs). */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { PROVIDER_IDS, PROVIDERS, type ProviderId } from '../common/providers';
import type { SidecarSecrets } from '../common/settings';

const HF_TOKEN_KEY = 'localAi.huggingFaceToken';
const SERVER_TOKEN_KEY = 'localAi.serverToken';
const providerKey = (provider: ProviderId) => `localAi.apiKey.${provider}`;

export class SecretStore implements vscode.Disposable {
    private readonly changed = new vscode.EventEmitter<void>();
    /** Fires when any Local AI secret was set or cleared, here or in another window. */
    readonly onDidChange = this.changed.event;
    private readonly subscription: vscode.Disposable;
    /** The token being created, so that two callers at once store one token, not two. */
    private creatingServerToken: Promise<string> | undefined;

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
            serverToken: await this.storage.get(SERVER_TOKEN_KEY),
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

    /**
     * The local server's bearer token, created the first time it is needed (32 random bytes, base64url) and
     * kept from then on: every tool a user configured keeps working across restarts and windows.
     */
    async serverToken(): Promise<string> {
        // One lookup-or-create at a time: two callers at once get one token, never two that overwrite each other.
        this.creatingServerToken ??= (async () => {
            const stored = await this.storage.get(SERVER_TOKEN_KEY);
            if (stored) return stored;
            const token = randomBytes(32).toString('base64url');
            await this.storage.store(SERVER_TOKEN_KEY, token);
            this.changed.fire();
            return token;
        })().finally(() => (this.creatingServerToken = undefined));
        return this.creatingServerToken;
    }

    dispose(): void {
        this.subscription.dispose();
        this.changed.dispose();
    }
}
