/** Builds the engine for one configured provider: its adapter, its default endpoint, its key. */
import type { ProviderId } from '../../../common/chat';
import { ErrorCode, LocalAiError } from '../../../common/errors';
import type { ProviderSetting } from '../../../common/settings';
import { anthropicAdapter } from './anthropic';
import { geminiAdapter } from './gemini';
import { ollamaAdapter } from './ollama';
import { openAiAdapter } from './openai';
import { CloudEngine, PROVIDER_NAMES, type ProviderAdapter } from './provider';

export { CloudEngine, ProviderFailure, PROVIDER_NAMES, scrubSecret } from './provider';

const ADAPTERS: Record<ProviderId, ProviderAdapter> = {
    openai: openAiAdapter,
    'openai-compatible': openAiAdapter,
    anthropic: anthropicAdapter,
    gemini: geminiAdapter,
    ollama: ollamaAdapter,
};

/** Public endpoints used when the setting leaves `baseUrl` empty; an OpenAI-compatible server has none. */
export const DEFAULT_BASE_URLS: Partial<Record<ProviderId, string>> = {
    openai: 'https://api.openai.com/v1',
    anthropic: 'https://api.anthropic.com',
    gemini: 'https://generativelanguage.googleapis.com',
    ollama: 'http://127.0.0.1:11434',
};

/** Providers that answer without a key (a local or team server usually has none). */
export function needsApiKey(id: ProviderId): boolean {
    return id === 'openai' || id === 'anthropic' || id === 'gemini';
}

export interface CreateProviderOptions {
    setting: ProviderSetting;
    apiKey?: string;
    /** Default 60 000 ms: see CloudEngineOptions.idleTimeoutMs. */
    idleTimeoutMs?: number;
}

export function createProvider({ setting, apiKey, idleTimeoutMs }: CreateProviderOptions): CloudEngine {
    const baseUrl = setting.baseUrl?.trim() || DEFAULT_BASE_URLS[setting.id];
    if (!baseUrl) {
        throw new LocalAiError(ErrorCode.InvalidParams, `${PROVIDER_NAMES[setting.id]} needs a base URL (localAi.fallback.providers[].baseUrl, or --base-url).`, {
            provider: setting.id,
        });
    }
    if (!setting.model) {
        throw new LocalAiError(ErrorCode.InvalidParams, `${PROVIDER_NAMES[setting.id]} needs a model name.`, { provider: setting.id });
    }
    return new CloudEngine({ connection: { id: setting.id, baseUrl, model: setting.model, apiKey }, adapter: ADAPTERS[setting.id], idleTimeoutMs });
}
