/**
 * What every cloud or remote provider shares: one ChatEngine (`CloudEngine`) that drives a provider's
 * SDK through a small adapter, watches the HTTP responses the SDK receives (status, Retry-After) so
 * failures can be sorted into what the fallback chain needs to know, enforces an idle timeout, and
 * keeps the API key out of every message it produces.
 */
import type { ChatMessage, ChatResult, ChatUsage, ProviderId, SamplingOptions } from '../../common/chat';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { PROVIDERS } from '../../common/providers';
import type { ChatCall, ChatEngine } from '../chatEngine';

/** Everything needed to reach one provider; the key lives only in memory. */
export interface ProviderConnection {
    id: ProviderId;
    /** The endpoint, already defaulted for providers that have a public one. */
    baseUrl: string;
    /** The model name at the provider. */
    model: string;
    apiKey?: string;
}

/** One piece of a streamed answer, whatever the wire format was. */
export interface StreamPiece {
    text?: string;
    usage?: Partial<ChatUsage>;
    finish?: 'stop' | 'length';
}

export interface AdapterRequest {
    connection: ProviderConnection;
    messages: ChatMessage[];
    options: SamplingOptions;
    signal: AbortSignal;
    /** The fetch the SDK must use, so responses are observed and aborts reach the socket. */
    fetch: typeof fetch;
}

/** The provider-specific part: turn a conversation into the SDK's call and its stream into pieces. */
export interface ProviderAdapter {
    stream(request: AdapterRequest): AsyncIterable<StreamPiece>;
    embed?(request: { connection: ProviderConnection; input: string[]; signal: AbortSignal; fetch: typeof fetch }): Promise<number[][]>;
}

/** How a provider failed, in the terms the fallback chain acts on. */
export type ProviderFailureKind =
    /** 401/403: the key is missing, wrong or revoked. */
    | 'unauthorized'
    /** 429: try again after `retryAfterMs`, or move on. */
    | 'rateLimited'
    /** 5xx. */
    | 'serverError'
    /** Other 4xx: unknown model, request refused. */
    | 'rejected'
    /** No byte for `idleTimeoutMs`. */
    | 'timeout'
    /** No HTTP response at all (refused, DNS, TLS). */
    | 'unreachable'
    /** The response started but its stream could not be read. */
    | 'brokenStream';

/** A provider failure; its message is already free of the API key. */
export class ProviderFailure extends LocalAiError {
    constructor(
        readonly kind: ProviderFailureKind,
        readonly provider: ProviderId,
        message: string,
        readonly status?: number,
        readonly retryAfterMs?: number,
        /** True when some text had already been streamed to the caller before the failure. */
        readonly afterText = false,
    ) {
        super(kind === 'unauthorized' ? ErrorCode.Unauthorized : ErrorCode.ProviderError, message, {
            provider,
            hint: kind === 'unauthorized' ? `Set a valid key with "Local AI: Set Cloud API Key…" (${provider}).` : undefined,
        });
        this.name = 'ProviderFailure';
    }
}

/** Removes the key (and its URL-encoded form) from any text that might echo it. */
export function scrubSecret(text: string, secret: string | undefined): string {
    if (!secret || secret.length < 4) return text;
    return text.split(secret).join('••••').split(encodeURIComponent(secret)).join('••••');
}

/** Retry-After is seconds or an HTTP date; some providers also send retry-after-ms. */
export function parseRetryAfter(headers: Headers, now = Date.now()): number | undefined {
    const ms = Number(headers.get('retry-after-ms'));
    if (headers.has('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return ms;
    const value = headers.get('retry-after');
    if (!value) return undefined;
    const seconds = Number(value);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const date = Date.parse(value);
    return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

interface ObservedResponse {
    status: number;
    retryAfterMs?: number;
}

/** A fetch that records the last response and aborts with `signal`, whatever the SDK passes itself. */
function observingFetch(signal: AbortSignal, seen: { last?: ObservedResponse }): typeof fetch {
    return async (input, init) => {
        const signals = init?.signal ? [init.signal, signal] : [signal];
        const response = await fetch(input, { ...init, signal: AbortSignal.any(signals) });
        seen.last = { status: response.status, retryAfterMs: parseRetryAfter(response.headers) };
        return response;
    };
}

export interface CloudEngineOptions {
    connection: ProviderConnection;
    adapter: ProviderAdapter;
    /** Give up when the provider sends nothing (no headers, no chunk) for this long. Default 60 000 ms. */
    idleTimeoutMs?: number;
}

/** One provider behind the ChatEngine interface. */
export class CloudEngine implements ChatEngine {
    readonly connection: ProviderConnection;
    private readonly adapter: ProviderAdapter;
    private readonly idleTimeoutMs: number;

    constructor(options: CloudEngineOptions) {
        this.connection = options.connection;
        this.adapter = options.adapter;
        this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    }

    get name(): string {
        return `${PROVIDERS[this.connection.id].name} (${this.connection.model})`;
    }

    async chat(call: ChatCall): Promise<ChatResult> {
        const { id, model } = this.connection;
        const started = performance.now();
        const engine = { kind: 'cloud' as const, model, modelName: model, device: id };
        const idle = new IdleTimer(this.idleTimeoutMs, call.signal);
        const seen: { last?: ObservedResponse } = {};
        let text = '';
        let firstTokenAt: number | undefined;
        const usage: ChatUsage = { promptTokens: 0, completionTokens: 0 };
        let finishReason: ChatResult['finishReason'] = 'stop';
        call.onChunk({ kind: 'start', engine });
        try {
            const stream = this.adapter.stream({
                connection: this.connection,
                messages: call.messages,
                options: call.options ?? {},
                signal: idle.signal,
                fetch: observingFetch(idle.signal, seen),
            });
            for await (const piece of stream) {
                idle.touch();
                if (piece.text) {
                    firstTokenAt ??= performance.now();
                    text += piece.text;
                    call.onChunk({ kind: 'text', text: piece.text });
                }
                if (piece.usage?.promptTokens !== undefined) usage.promptTokens = piece.usage.promptTokens;
                if (piece.usage?.completionTokens !== undefined) usage.completionTokens = piece.usage.completionTokens;
                if (piece.finish) finishReason = piece.finish;
            }
        } catch (error) {
            if (!call.signal.aborted) throw this.failure(error, seen.last, idle.timedOut, text.length > 0);
            finishReason = 'cancelled';
        } finally {
            idle.dispose();
        }
        if (call.signal.aborted) finishReason = 'cancelled';
        const totalMs = performance.now() - started;
        const generatingMs = firstTokenAt === undefined ? 0 : performance.now() - firstTokenAt;
        return {
            text,
            engine,
            usage,
            finishReason,
            timings: {
                timeToFirstTokenMs: firstTokenAt === undefined ? totalMs : firstTokenAt - started,
                tokensPerSecond: generatingMs > 0 ? (usage.completionTokens / generatingMs) * 1000 : 0,
                totalMs,
            },
        };
    }

    async embed(input: { model?: string; input: string[] }, signal: AbortSignal): Promise<{ vectors: number[][]; model: string }> {
        const embed = this.adapter.embed;
        if (!embed) throw new LocalAiError(ErrorCode.ProviderError, `${PROVIDERS[this.connection.id].name} does not offer embeddings through Local AI.`);
        const connection = { ...this.connection, model: input.model ?? this.connection.model };
        const idle = new IdleTimer(this.idleTimeoutMs, signal);
        const seen: { last?: ObservedResponse } = {};
        try {
            const vectors = await embed({ connection, input: input.input, signal: idle.signal, fetch: observingFetch(idle.signal, seen) });
            return { vectors, model: connection.model };
        } catch (error) {
            if (signal.aborted) throw error;
            throw this.failure(error, seen.last, idle.timedOut, false);
        } finally {
            idle.dispose();
        }
    }

    /** Sorts an SDK error by what the wire said, in words with no key in them. */
    private failure(error: unknown, response: ObservedResponse | undefined, timedOut: boolean, afterText: boolean): ProviderFailure {
        const name = `${PROVIDERS[this.connection.id].name} (${this.connection.model})`;
        const detail = scrubSecret(error instanceof Error ? error.message : String(error), this.connection.apiKey).slice(0, 300);
        const fail = (kind: ProviderFailureKind, message: string) =>
            new ProviderFailure(kind, this.connection.id, message, response?.status, response?.retryAfterMs, afterText);
        if (timedOut) return fail('timeout', `${name} sent nothing for ${Math.round(this.idleTimeoutMs / 1000)} s.`);
        if (!response) return fail('unreachable', `${name} could not be reached at ${this.connection.baseUrl}: ${detail}`);
        const { status } = response;
        // The provider's own 401 text sometimes quotes part of the key, so it is not repeated.
        if (status === 401 || status === 403) return fail('unauthorized', `${name} refused the API key (HTTP ${status}).`);
        if (status === 429) return fail('rateLimited', `${name} is rate-limiting requests (HTTP 429): ${detail}`);
        if (status >= 500) return fail('serverError', `${name} failed (HTTP ${status}): ${detail}`);
        if (status >= 400) return fail('rejected', `${name} refused the request (HTTP ${status}): ${detail}`);
        return fail('brokenStream', `${name}'s answer could not be read: ${detail}`);
    }
}

/** Aborts when the caller aborts, or when nothing arrived for `timeoutMs`. */
class IdleTimer {
    private readonly controller = new AbortController();
    private timer: NodeJS.Timeout | undefined;
    private readonly onAbort = () => this.controller.abort();
    timedOut = false;

    constructor(
        private readonly timeoutMs: number,
        private readonly parent: AbortSignal,
    ) {
        if (parent.aborted) this.controller.abort();
        else parent.addEventListener('abort', this.onAbort, { once: true });
        this.touch();
    }

    get signal(): AbortSignal {
        return this.controller.signal;
    }

    touch(): void {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => {
            this.timedOut = true;
            this.controller.abort();
        }, this.timeoutMs);
    }

    dispose(): void {
        clearTimeout(this.timer);
        this.parent.removeEventListener('abort', this.onAbort);
    }
}
