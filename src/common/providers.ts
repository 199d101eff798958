/**
 * What both processes know about each cloud or remote provider: its name, whether it needs a key,
 * where the key comes from, and its endpoint. The extension's prompts, the sidecar's router and
 * errors, and the CLI all read this table.
 */

export const PROVIDER_IDS = ['openai', 'anthropic', 'gemini', 'ollama', 'huggingface', 'openai-compatible'] as const;

export type ProviderId = (typeof PROVIDER_IDS)[number];

export interface ProviderFacts {
    /** Short, for messages. */
    name: string;
    /** Longer, for the provider pick list; default: `name`. */
    label?: string;
    /** The model suggested when the user adds the provider (editable); empty when there is no sensible guess. */
    suggestedModel: string;
    /** Where keys are created, for the key prompt. */
    keyPage?: string;
    /** The public endpoint used when the setting leaves `baseUrl` empty; an OpenAI-compatible server has none. */
    defaultBaseUrl?: string;
    /** The endpoint offered for editing when the user adds a local or self-hosted provider; public services are not asked. */
    suggestedBaseUrl?: string;
    /** A public service refuses requests without a key; a local or team server usually has none. */
    keyRequired: boolean;
    /**
     * Environment variables the CLI reads for the key, after LOCAL_AI_API_KEY. An OpenAI-compatible
     * server gets none: OPENAI_API_KEY is a secret for api.openai.com, not for any server named by URL.
     */
    keyVariables: string[];
    /** The key is the Hugging Face token the user already stored for downloads; default: a key of its own. */
    keyIsHuggingFaceToken?: boolean;
}

export const PROVIDERS: Record<ProviderId, ProviderFacts> = {
    openai: {
        name: 'OpenAI',
        suggestedModel: 'gpt-4o-mini',
        keyPage: 'https://platform.openai.com/api-keys',
        defaultBaseUrl: 'https://api.openai.com/v1',
        keyRequired: true,
        keyVariables: ['OPENAI_API_KEY'],
    },
    anthropic: {
        name: 'Anthropic',
        suggestedModel: 'claude-sonnet-4-5',
        keyPage: 'https://console.anthropic.com/settings/keys',
        defaultBaseUrl: 'https://api.anthropic.com',
        keyRequired: true,
        keyVariables: ['ANTHROPIC_API_KEY'],
    },
    gemini: {
        name: 'Google Gemini',
        suggestedModel: 'gemini-2.5-flash',
        keyPage: 'https://aistudio.google.com/apikey',
        defaultBaseUrl: 'https://generativelanguage.googleapis.com',
        keyRequired: true,
        keyVariables: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'],
    },
    ollama: {
        name: 'Ollama',
        suggestedModel: 'llama3.2',
        defaultBaseUrl: 'http://127.0.0.1:11434',
        suggestedBaseUrl: 'http://127.0.0.1:11434',
        keyRequired: false,
        keyVariables: ['OLLAMA_API_KEY'],
    },
    // Hugging Face's inference providers behind one OpenAI-compatible router, paid with the user's Hugging Face token.
    huggingface: {
        name: 'Hugging Face',
        label: 'Hugging Face inference providers (uses your Hugging Face token)',
        suggestedModel: 'meta-llama/Llama-3.1-8B-Instruct',
        keyPage: 'https://huggingface.co/settings/tokens',
        defaultBaseUrl: 'https://router.huggingface.co/v1',
        keyRequired: true,
        keyVariables: ['HF_TOKEN'],
        keyIsHuggingFaceToken: true,
    },
    'openai-compatible': {
        name: 'OpenAI-compatible server',
        label: 'OpenAI-compatible server (LM Studio, vLLM, llama.cpp server, team GPU server)',
        suggestedModel: '',
        suggestedBaseUrl: 'http://127.0.0.1:1234/v1',
        keyRequired: false,
        keyVariables: [],
    },
};

export function isProviderId(value: unknown): value is ProviderId {
    return typeof value === 'string' && (PROVIDER_IDS as readonly string[]).includes(value);
}
