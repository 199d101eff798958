/** Builds the engine for one configured provider: its adapter, its default endpoint, its key. */
import { PROVIDERS, type ProviderId } from '../../common/providers';
import { ErrorCode, LocalAiError } from '../../common/errors';
import type { ProviderSetting } from '../../common/settings';
import { proxyDispatcher } from '../proxy';
import { anthropicAdapter } from './anthropic';
import { geminiAdapter } from './gemini';
import { ollamaAdapter } from './ollama';
import { openAiAdapter } from './openai';
import { CloudEngine, type ProviderAdapter } from './provider';

export { CloudEngine, ProviderFailure } from './provider';
export { maskSecret } from './secrets';

const ADAPTERS: Record<ProviderId, ProviderAdapter> = {
    openai: openAiAdapter,
    'openai-compatible': openAiAdapter,
    anthropic: anthropicAdapter,
    gemini: geminiAdapter,
    ollama: ollamaAdapter,
    huggingface: openAiAdapter,
};

export interface CreateProviderOptions {
    setting: ProviderSetting;
    apiKey?: string;
    /** Default 60 000 ms: see CloudEngineOptions.idleTimeoutMs. */
    idleTimeoutMs?: number;
    /** The `proxy` setting (VS Code's http.proxy). Default '': HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment. */
    proxy?: string;
}

export function createProvider({ setting, apiKey, idleTimeoutMs, proxy = '' }: CreateProviderOptions): CloudEngine {
    const baseUrl = setting.baseUrl?.trim() || PROVIDERS[setting.id].defaultBaseUrl;
    if (!baseUrl) {
        throw new LocalAiError(
            ErrorCode.InvalidParams,
            `${PROVIDERS[setting.id].name} needs a base URL (localAi.fallback.providers[].baseUrl, or --base-url).`,
            {
                provider: setting.id,
            },
        );
    }
    if (!setting.model) {
        throw new LocalAiError(ErrorCode.InvalidParams, `${PROVIDERS[setting.id].name} needs a model name.`, { provider: setting.id });
    }
    return new CloudEngine({
        connection: { id: setting.id, baseUrl, model: setting.model, apiKey },
        adapter: ADAPTERS[setting.id],
        idleTimeoutMs,
        dispatcher: proxyDispatcher(proxy),
    });
}
