/**
 * What every cloud or remote provider shares: one ChatEngine (`CloudEngine`) that drives a provider's
 * SDK through a small adapter, watches the HTTP responses the SDK receives (status, Retry-After) so
 * failures can be sorted into what the fallback chain needs to know, enforces an idle timeout and the
 * bounds on what a provider may send, counts an answer as finished only when the wire said so, and
 * keeps the API key out of every message it produces.
 */
import type { Dispatcher } from 'undici';
import type { ChatMessage, ChatResult, ChatUsage, ProviderId, SamplingOptions } from '../../common/chat';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { PROVIDERS } from '../../common/providers';
import type { ChatCall, ChatEngine } from '../chatEngine';
import { MAX_ERROR_TEXT, maskSecret } from './secrets';
import { StreamFault, WIRE_LIMITS, guardedFetch, type StreamFormat, type WireObservation } from './wireGuard';

/**
 * `maxTokens` on the client's side, for providers that ignore it: the provider's own count when it
 * sends one, else the text's length at 6 characters per token (tokenizers average 3–5 in English and
 * code, so an honest answer is never cut). Past it the request is aborted and the answer ends 'length'.
 */
export const CHARS_PER_TOKEN_BOUND = 6;

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
    /** Set only from the wire's own end marker (finish_reason, message_stop, finishReason, done). */
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

/**
 * The provider-specific part: turn a conversation into the SDK's call and its stream into pieces.
 * A chunk of the wrong shape is thrown as a StreamFault, never read as an empty piece.
 */
export interface ProviderAdapter {
    /** How the streamed answer is framed, checked against the response's content type. */
    streamFormat: StreamFormat;
    stream(request: AdapterRequest): AsyncIterable<StreamPiece>;
    embed?(request: { connection: ProviderConnection; input: string[]; signal: AbortSignal; fetch: typeof fetch }): Promise<number[][]>;
}

/** A token count as the wire gave it, when it is one (a hostile server may send anything). */
export function tokenCount(value: unknown): number | undefined {
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
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
    /** The response started but is not a complete answer: cut before its end marker, malformed, not a stream, or past a bound. */
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

export interface CloudEngineOptions {
    connection: ProviderConnection;
    adapter: ProviderAdapter;
    /** Give up when the provider sends nothing (no headers, no chunk) for this long. Default 60 000 ms. */
    idleTimeoutMs?: number;
    /** Every request goes through it (the proxy setting). */
    dispatcher: Dispatcher;
}

/** One provider behind the ChatEngine interface. */
export class CloudEngine implements ChatEngine {
    readonly connection: ProviderConnection;
    private readonly adapter: ProviderAdapter;
    private readonly idleTimeoutMs: number;
    private readonly dispatcher: Dispatcher;

    constructor(options: CloudEngineOptions) {
        this.connection = options.connection;
        this.adapter = options.adapter;
        this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
        this.dispatcher = options.dispatcher;
    }

    get name(): string {
        return `${PROVIDERS[this.connection.id].name} (${this.connection.model})`;
    }

    async chat(call: ChatCall): Promise<ChatResult> {
        const { id, model } = this.connection;
        const started = performance.now();
        const engine = { kind: 'cloud' as const, model, modelName: model, device: id };
        const idle = new IdleTimer(this.idleTimeoutMs, call.signal);
        const seen: WireObservation = {};
        const maxTokens = call.options?.maxTokens;
        const maxChars = maxTokens === undefined ? WIRE_LIMITS.answerChars : Math.min(WIRE_LIMITS.answerChars, maxTokens * CHARS_PER_TOKEN_BOUND);
        let text = '';
        let firstTokenAt: number | undefined;
        const usage: ChatUsage = { promptTokens: 0, completionTokens: 0 };
        let finishReason: ChatResult['finishReason'] | undefined;
        call.onChunk({ kind: 'start', engine });
        try {
            const stream = this.adapter.stream({
                connection: this.connection,
                messages: call.messages,
                options: call.options ?? {},
                signal: idle.signal,
                fetch: guardedFetch({ signal: idle.signal, seen, dispatcher: this.dispatcher, stream: this.adapter.streamFormat }),
            });
            for await (const piece of stream) {
                idle.touch();
                let cut = false;
                if (piece.text) {
                    const kept = piece.text.slice(0, maxChars - text.length);
                    cut = kept.length < piece.text.length;
                    if (cut && maxTokens === undefined) throw new StreamFault(`sent more than ${WIRE_LIMITS.answerChars / 1024 / 1024} M characters of text`);
                    if (kept) {
                        firstTokenAt ??= performance.now();
                        text += kept;
                        call.onChunk({ kind: 'text', text: kept });
                    }
                }
                if (piece.usage?.promptTokens !== undefined) usage.promptTokens = piece.usage.promptTokens;
                if (piece.usage?.completionTokens !== undefined) usage.completionTokens = piece.usage.completionTokens;
                if (piece.finish) finishReason = piece.finish;
                if (cut || (maxTokens !== undefined && usage.completionTokens > maxTokens)) {
                    // The provider ignored the limit: stop reading and close the connection.
                    finishReason = 'length';
                    break;
                }
            }
            // The SDKs end their iterators quietly when the body ends, or when the idle timer aborts it.
            if (!finishReason && !call.signal.aborted) throw new StreamFault('ended its answer before the end marker');
        } catch (error) {
            if (!call.signal.aborted) throw this.failure(error, seen, idle.timedOut, text.length > 0);
            finishReason = 'cancelled';
        } finally {
            // Whatever ended the loop, nothing more is read: an answer left unread is not left open.
            idle.stop();
            idle.dispose();
        }
        if (call.signal.aborted) finishReason = 'cancelled';
        if (finishReason === 'length' && usage.completionTokens === 0) usage.completionTokens = Math.ceil(text.length / CHARS_PER_TOKEN_BOUND);
        const totalMs = performance.now() - started;
        const generatingMs = firstTokenAt === undefined ? 0 : performance.now() - firstTokenAt;
        return {
            text,
            engine,
            usage,
            finishReason: finishReason ?? 'cancelled',
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
        const seen: WireObservation = {};
        try {
            const vectors = await embed({
                connection,
                input: input.input,
                signal: idle.signal,
                fetch: guardedFetch({ signal: idle.signal, seen, dispatcher: this.dispatcher }),
            });
            return { vectors, model: connection.model };
        } catch (error) {
            if (signal.aborted) throw error;
            throw this.failure(error, seen, idle.timedOut, false);
        } finally {
            idle.dispose();
        }
    }

    /** Sorts an SDK error by what the wire said, in words with no key in them. */
    private failure(error: unknown, seen: WireObservation, timedOut: boolean, afterText: boolean): ProviderFailure {
        const name = this.name;
        const response = seen.last;
        const detail = describe(error);
        const fail = (kind: ProviderFailureKind, message: string) =>
            new ProviderFailure(
                kind,
                this.connection.id,
                maskSecret(message, this.connection.apiKey, MAX_ERROR_TEXT),
                response?.status,
                response?.retryAfterMs,
                afterText,
            );
        if (timedOut) return fail('timeout', `${name} sent nothing for ${Math.round(this.idleTimeoutMs / 1000)} s.`);
        const fault = seen.fault ?? (error instanceof StreamFault ? error : undefined);
        if (fault) return fail('brokenStream', `${name} ${fault.message}.`);
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

/**
 * An SDK error in words, with the network's cause when there is one. A TypeError or SyntaxError from
 * an SDK reading an odd chunk ("Cannot read properties of undefined") says nothing a user can act on.
 */
function describe(error: unknown): string {
    if (!(error instanceof Error)) return String(error).slice(0, MAX_ERROR_TEXT * 4);
    if (error instanceof SyntaxError || (error instanceof TypeError && /^Cannot (read|use)/.test(error.message))) return 'its data is malformed';
    const cause = error.cause instanceof Error && error.cause.message !== error.message ? ` (${error.cause.message})` : '';
    return `${error.message}${cause}`.slice(0, MAX_ERROR_TEXT * 4);
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

    /** Ends the request without counting it as a timeout or a cancel. */
    stop(): void {
        clearTimeout(this.timer);
        this.controller.abort();
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
