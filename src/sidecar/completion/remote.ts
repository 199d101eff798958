/**
 * Code completion from a server the user configured for completions (`localAi.completion.provider`):
 * an OpenAI-compatible `/completions` with `suffix`, llama-server's `/infill`, or Ollama's `/api/generate`
 * with `suffix`. Nothing is sent anywhere else: no cloud provider of chat is ever asked, and with
 * `localAi.offline` (or a workspace that forbids cloud use) only this machine and private addresses are.
 * Cancellation aborts the HTTP request; failures are typed and worded as the chat providers' are.
 */
import { isIP } from 'node:net';
import type { CompletionFinishReason, CompletionResult, CompletionStatus } from '../../common/completion';
import { ErrorCode, LocalAiError } from '../../common/errors';
import type { SidecarSecrets, SidecarSettings } from '../../common/settings';
import type { CompletionCall, CompletionEngine } from '../completionEngine';
import { proxyDispatcher } from '../proxy';
import { guardedFetch, StreamFault, type WireObservation } from '../providers/wireGuard';

export type RemoteCompletionProvider = Exclude<SidecarSettings['completion']['provider'], 'local'>;

/** Answer tokens when the call names none: a suggestion, not an essay. */
export const REMOTE_DEFAULT_MAX_TOKENS = 128;
/** The whole request when the call names no timeout: a suggestion that comes later than this is not wanted. */
export const REMOTE_DEFAULT_TIMEOUT_MS = 10_000;

const NAMES: Record<RemoteCompletionProvider, string> = {
    'openai-compatible': 'The OpenAI-compatible completion server',
    'llama-server': 'llama-server',
    ollama: 'Ollama',
};

export interface RemoteCompletionOptions {
    /** Read on every call: the settings and the keys change at run time. */
    settings: () => SidecarSettings;
    secrets: () => SidecarSecrets;
}

/** A request as each server's API takes it, and how to read its answer. */
interface WireCall {
    path: string;
    body: Record<string, unknown>;
    read: (json: unknown) => { text: string; finish: CompletionFinishReason; promptTokens?: number; completionTokens?: number };
}

export class RemoteCompletionEngine implements CompletionEngine {
    constructor(private readonly options: RemoteCompletionOptions) {}

    status(): CompletionStatus {
        const { provider, baseUrl, remoteModel } = this.options.settings().completion;
        if (provider === 'local') return { state: 'noModel', message: 'Completions come from this machine (localAi.completion.provider is local).' };
        const model = remoteModel ? `${remoteModel} on ` : '';
        return { state: 'remote', message: `Completions from ${model}${baseUrl || 'a server not set yet (localAi.completion.baseUrl)'} (${provider}).` };
    }

    async complete(call: CompletionCall): Promise<CompletionResult> {
        const settings = this.options.settings();
        const { provider, remoteModel } = settings.completion;
        if (provider === 'local') throw new LocalAiError(ErrorCode.InvalidParams, 'Remote completion was asked for, but localAi.completion.provider is local.');
        const base = allowedBase(settings, provider);
        const name = NAMES[provider];
        const maxTokens = call.maxTokens ?? REMOTE_DEFAULT_MAX_TOKENS;
        const wire = wireCall(provider, call, remoteModel, maxTokens);
        const key = provider === 'llama-server' ? undefined : this.options.secrets().providerKeys[provider === 'ollama' ? 'ollama' : 'openai-compatible'];
        const timeout = new AbortController();
        const timer = setTimeout(() => timeout.abort(), call.timeoutMs ?? REMOTE_DEFAULT_TIMEOUT_MS);
        const signal = AbortSignal.any([call.signal, timeout.signal]);
        const seen: WireObservation = {};
        const started = performance.now();
        const endpoint = `${base}${wire.path}`;
        const engine = { kind: 'remote' as const, model: remoteModel || provider, endpoint };
        const empty = (finishReason: CompletionFinishReason): CompletionResult => ({
            text: '',
            finishReason,
            fromCache: false,
            engine,
            usage: { promptTokens: 0, evaluatedTokens: 0, completionTokens: 0 },
            timings: { totalMs: performance.now() - started, timeToFirstTokenMs: performance.now() - started },
        });
        let response: Response;
        let json: unknown;
        try {
            const fetch = guardedFetch({ signal, seen, dispatcher: proxyDispatcher(settings.proxy) });
            response = await fetch(endpoint, {
                method: 'POST',
                headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
                body: JSON.stringify(wire.body),
            });
            const text = await response.text();
            if (!response.ok) throw failure(name, `refused the completion (HTTP ${response.status}): ${text.slice(0, 200)}`, response.status, key);
            json = JSON.parse(text);
        } catch (error) {
            if (call.signal.aborted) return empty('cancelled');
            if (timeout.signal.aborted) return empty('time');
            if (error instanceof LocalAiError) throw error;
            if (seen.fault) throw failure(name, seen.fault.message, seen.last?.status, key);
            if (error instanceof SyntaxError) throw failure(name, 'answered with something that is not JSON', seen.last?.status, key);
            if (!seen.last) throw failure(name, `could not be reached at ${base}: ${describe(error)}`, undefined, key);
            throw failure(name, `answer could not be read: ${describe(error)}`, seen.last.status, key);
        } finally {
            clearTimeout(timer);
        }
        let answer: ReturnType<WireCall['read']>;
        try {
            answer = wire.read(json);
        } catch (error) {
            throw failure(name, error instanceof StreamFault ? error.message : 'answered in an unknown shape', response.status, key);
        }
        const totalMs = performance.now() - started;
        if (answer.text) call.onText?.(answer.text);
        const promptTokens = answer.promptTokens ?? 0;
        return {
            text: answer.text,
            finishReason: answer.finish,
            fromCache: false,
            engine,
            // The server's own cache is invisible from here: every prompt token counts as evaluated.
            usage: { promptTokens, evaluatedTokens: promptTokens, completionTokens: answer.completionTokens ?? 0 },
            timings: { totalMs, timeToFirstTokenMs: totalMs },
        };
    }
}

/** The request body each API takes, as its own client sends it. */
function wireCall(provider: RemoteCompletionProvider, call: CompletionCall, model: string, maxTokens: number): WireCall {
    const extra = call.extra ?? [];
    switch (provider) {
        case 'openai-compatible':
            return {
                path: '/completions',
                body: {
                    model,
                    prompt: extra.map((chunk) => `// ${chunk.fileName}\n${chunk.text}\n`).join('') + call.prefix,
                    suffix: call.suffix,
                    max_tokens: maxTokens,
                    temperature: call.temperature ?? 0,
                    stream: false,
                    ...(call.stop?.length ? { stop: call.stop.slice(0, 4) } : {}),
                    ...(call.seed !== undefined ? { seed: call.seed } : {}),
                },
                read: (json) => {
                    const choices = field(json, 'choices', Array.isArray) as unknown[] | undefined;
                    const choice = choices?.[0] as { text?: unknown; finish_reason?: unknown } | undefined;
                    if (typeof choice?.text !== 'string') throw new StreamFault('answered without choices[0].text');
                    const usage = field(json, 'usage', isObject) as { prompt_tokens?: unknown; completion_tokens?: unknown } | undefined;
                    return {
                        text: choice.text,
                        finish: choice.finish_reason === 'length' ? 'length' : 'stop',
                        promptTokens: count(usage?.prompt_tokens),
                        completionTokens: count(usage?.completion_tokens),
                    };
                },
            };
        case 'llama-server':
            return {
                path: '/infill',
                body: {
                    input_prefix: call.prefix,
                    input_suffix: call.suffix,
                    input_extra: extra.map((chunk) => ({ filename: chunk.fileName, text: chunk.text })),
                    n_predict: maxTokens,
                    cache_prompt: true,
                    temperature: call.temperature ?? 0,
                    stream: false,
                    ...(call.stop?.length ? { stop: call.stop } : {}),
                    ...(call.seed !== undefined ? { seed: call.seed } : {}),
                },
                read: (json) => {
                    const content = field(json, 'content', (value) => typeof value === 'string');
                    if (typeof content !== 'string') throw new StreamFault('answered without content');
                    return {
                        text: content,
                        finish: field(json, 'stopped_limit') === true ? 'length' : 'stop',
                        promptTokens: count(field(json, 'tokens_evaluated')),
                        completionTokens: count(field(json, 'tokens_predicted')),
                    };
                },
            };
        case 'ollama':
            return {
                path: '/api/generate',
                body: {
                    model,
                    prompt: extra.map((chunk) => `// ${chunk.fileName}\n${chunk.text}\n`).join('') + call.prefix,
                    suffix: call.suffix,
                    raw: false,
                    stream: false,
                    options: {
                        num_predict: maxTokens,
                        temperature: call.temperature ?? 0,
                        ...(call.stop?.length ? { stop: call.stop } : {}),
                        ...(call.seed !== undefined ? { seed: call.seed } : {}),
                    },
                },
                read: (json) => {
                    const text = field(json, 'response', (value) => typeof value === 'string');
                    if (typeof text !== 'string') throw new StreamFault('answered without response');
                    return {
                        text,
                        finish: field(json, 'done_reason') === 'length' ? 'length' : 'stop',
                        promptTokens: count(field(json, 'prompt_eval_count')),
                        completionTokens: count(field(json, 'eval_count')),
                    };
                },
            };
    }
}

/**
 * The configured base URL without a trailing slash, once it may be asked: an http(s) URL, and with
 * `localAi.offline` or a workspace that forbids cloud use, a loopback or private address only.
 */
export function allowedBase(settings: SidecarSettings, provider: RemoteCompletionProvider): string {
    const raw = settings.completion.baseUrl.trim();
    let url: URL;
    try {
        url = new URL(raw);
    } catch {
        throw new LocalAiError(
            ErrorCode.InvalidParams,
            `localAi.completion.baseUrl "${raw.slice(0, 200)}" is not a URL; ${NAMES[provider]} needs http://host:port.`,
            {
                hint: 'Set localAi.completion.baseUrl to the server’s address, e.g. http://127.0.0.1:8012.',
            },
        );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new LocalAiError(ErrorCode.InvalidParams, `localAi.completion.baseUrl must be http or https, not ${url.protocol}`);
    }
    const why = settings.offline ? 'Offline mode is on (localAi.offline)' : settings.fallback.forbidden ? 'This workspace forbids cloud use' : undefined;
    if (why && !isLocalHost(url.hostname)) {
        throw new LocalAiError(ErrorCode.NetworkError, `${why}: completions go only to this machine or a private address, and ${url.hostname} is neither.`, {
            hint: 'Point localAi.completion.baseUrl at a server on this machine or your local network, or set localAi.completion.provider to local.',
        });
    }
    return url.href.replace(/\/+$/, '');
}

/** Loopback, private (RFC 1918, unique-local IPv6) or link-local: an address that does not leave the local network. */
export function isLocalHost(hostname: string): boolean {
    const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (host === 'localhost' || host.endsWith('.localhost')) return true;
    const version = isIP(host);
    if (version === 4) {
        const [a, b] = host.split('.').map(Number);
        return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
    }
    if (version === 6) {
        if (host === '::1') return true;
        const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
        if (mapped) return isLocalHost(mapped[1]);
        return /^f[cd][0-9a-f]{0,2}:/.test(host) || /^fe[89ab][0-9a-f]?:/.test(host);
    }
    // A name may resolve anywhere: only the names above are known to stay here.
    return false;
}

function failure(name: string, message: string, status: number | undefined, key: string | undefined): LocalAiError {
    const text = key ? message.split(key).join('***') : message;
    if (status === 401 || status === 403) {
        return new LocalAiError(ErrorCode.Unauthorized, `${name} refused the key (HTTP ${status}).`, {
            hint: 'Set the key of the completion server with "Local AI: Set Cloud API Key…".',
        });
    }
    return new LocalAiError(ErrorCode.ProviderError, `${name} ${text}`);
}

function describe(error: unknown): string {
    if (!(error instanceof Error)) return String(error).slice(0, 200);
    const cause = error.cause instanceof Error && error.cause.message !== error.message ? ` (${error.cause.message})` : '';
    return `${error.message}${cause}`.slice(0, 200);
}

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === 'object' && value !== null;
}

function field(json: unknown, name: string, check?: (value: unknown) => boolean): unknown {
    if (!isObject(json)) return undefined;
    const value = json[name];
    return check && !check(value) ? undefined : value;
}

function count(value: unknown): number | undefined {
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}
