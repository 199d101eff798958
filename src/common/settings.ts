/** The settings the sidecar needs, read by the extension's config.ts and pushed over the protocol. */
import { FALLBACK_REASONS, type FallbackReason, type ProviderId } from './chat';
import type { GpuMode } from './hardware';
import { PROVIDERS } from './providers';
import { DEFAULT_SERVER_HOST, DEFAULT_SERVER_PORT } from './serverProtocol';

export interface UserModelSetting {
    /** `hf:owner/repo/file.gguf`, `hf:owner/repo:Q4_K_M`, or an absolute path to a .gguf file. */
    source: string;
    name?: string;
    /** Optional LoRA adapter (GGUF) applied at context creation. */
    lora?: string;
    loraScale?: number;
}

export interface ProviderSetting {
    id: ProviderId;
    /** Default: the provider's public endpoint (Ollama: http://127.0.0.1:11434). */
    baseUrl?: string;
    model: string;
}

export interface SidecarSettings {
    /** Folder for downloaded models; empty = the extension's global storage. */
    modelsPath: string;
    /** Extra folders searched for GGUF files (used in place, never copied). */
    extraModelFolders: string[];
    /** Hub endpoint (mirror); empty = HF_ENDPOINT or https://huggingface.co. */
    hubEndpoint: string;
    /** HTTP(S) proxy, from VS Code's http.proxy. */
    proxy: string;
    offline: boolean;
    maxConcurrentDownloads: number;
    defaultModel: string;
    userModels: UserModelSetting[];
    gpu: GpuMode;
    /** npm registry (mirror) GPU backends are fetched from (`localAi.gpuRegistry`); empty or absent = npm_config_registry, then registry.npmjs.org. */
    gpuRegistry?: string;
    gpuLayers: number | 'auto';
    threads: number | 'auto';
    contextSize: number | 'auto';
    idleUnloadMinutes: number;
    /** Code completion (`localAi.completion.*`); `enabled` and `languages` are the extension's own. */
    completion: {
        /** Catalog id, `id@QUANT` or a GGUF path; empty = the recommended completion model installed. */
        model: string;
        /** Where completions come from: this machine, or a server the user configured for completions specifically. */
        provider: 'local' | 'openai-compatible' | 'llama-server' | 'ollama';
        /** The remote server's address (`http://host:port`, or with `/v1` for openai-compatible). */
        baseUrl: string;
        /** The model name on the remote server. */
        remoteModel: string;
    };
    /** The local OpenAI-compatible server (`localAi.server.*`, see common/serverProtocol.ts). */
    server: {
        enabled: boolean;
        port: number;
        /** Loopback unless the user explicitly binds another address. */
        host: string;
        /** Browser origins allowed to call it; empty = none. */
        allowedOrigins: string[];
    };
    fallback: {
        mode: 'off' | 'ask' | 'auto';
        triggers: Record<FallbackReason, boolean>;
        firstTokenTimeoutSeconds: number;
        providers: ProviderSetting[];
        /** True when the workspace forbids cloud use entirely. */
        forbidden: boolean;
    };
}

/** Secrets, held by the extension in SecretStorage and only in memory in the sidecar. */
export interface SidecarSecrets {
    huggingFaceToken?: string;
    /** API keys by provider id. */
    providerKeys: Partial<Record<ProviderId, string>>;
    /** The local server's bearer token, generated once by the extension (or LOCAL_AI_SERVER_TOKEN for the CLI). */
    serverToken?: string;
}

/** The key a provider is called with: its own, or for Hugging Face the token already stored for downloads. */
export function providerApiKey(secrets: SidecarSecrets, provider: ProviderId): string | undefined {
    return secrets.providerKeys[provider] || (PROVIDERS[provider].keyIsHuggingFaceToken ? secrets.huggingFaceToken : undefined) || undefined;
}

/** Settings a user gets when nothing is configured: package.json declares the same defaults, and the CLI uses these. */
export function defaultSettings(): SidecarSettings {
    return {
        modelsPath: '',
        extraModelFolders: [],
        hubEndpoint: '',
        proxy: '',
        offline: false,
        maxConcurrentDownloads: 2,
        defaultModel: '',
        userModels: [],
        gpu: 'auto',
        gpuRegistry: '',
        gpuLayers: 'auto',
        threads: 'auto',
        contextSize: 'auto',
        idleUnloadMinutes: 10,
        completion: { model: '', provider: 'local', baseUrl: '', remoteModel: '' },
        server: { enabled: false, port: DEFAULT_SERVER_PORT, host: DEFAULT_SERVER_HOST, allowedOrigins: [] },
        fallback: {
            mode: 'off',
            triggers: Object.fromEntries(FALLBACK_REASONS.map((reason) => [reason, true])) as Record<FallbackReason, boolean>,
            firstTokenTimeoutSeconds: 30,
            providers: [],
            forbidden: false,
        },
    };
}

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** The hub both processes talk to: the setting, then HF_ENDPOINT, then huggingface.co; without a trailing slash. */
export function hubEndpoint(setting: string, env: Record<string, string | undefined>): string {
    return (setting || env.HF_ENDPOINT || DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
}

export const DEFAULT_NPM_REGISTRY = 'https://registry.npmjs.org';

/** The npm registry GPU backends come from: the setting, then npm_config_registry, then registry.npmjs.org; without a trailing slash. */
export function gpuRegistry(setting: string | undefined, env: Record<string, string | undefined>): string {
    return (setting || env.npm_config_registry || env.NPM_CONFIG_REGISTRY || DEFAULT_NPM_REGISTRY).replace(/\/+$/, '');
}
