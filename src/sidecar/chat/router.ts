/**
 * The router every chat request goes through: the local engine first, then — only if the fallback
 * policy allows it — the configured providers in order.
 *
 * Rules, in order of precedence:
 * - `localAi.offline` and `localAi.fallback.forbidInWorkspace` always win: nothing leaves the machine,
 *   not even when the user picked a provider by hand.
 * - A provider picked by hand (ChatCall.provider, the chat header's model picker) is consent: it is
 *   used directly, whatever `localAi.fallback.mode` says, and the local engine is not tried.
 * - Otherwise the local engine answers; when it cannot (no model, downloading, does not fit, failed
 *   to load, failed, no first token in time) and the mode is `ask` or `auto` and that trigger is on,
 *   the providers are tried in order. `ask` asks before each provider. `off` never sends a byte.
 * - 401 tells the extension (to offer to set the key) and moves on; 429 waits for Retry-After once
 *   when it is short, then moves on; 5xx, timeouts and broken streams move on. Once text has
 *   streamed from an engine, its failure is final: a second answer would be spliced onto the first.
 */
import type { ChatChunk, ChatResult, FallbackInfo, FallbackReason, ProviderId } from '../../common/chat';
import { ErrorCode, LocalAiError } from '../../common/errors';
import type { FallbackConfirmParams } from '../../common/protocol';
import type { SidecarContext } from '../context';
import { PROVIDERS } from '../../common/providers';
import { providerApiKey } from '../../common/settings';
import { createProvider, ProviderFailure } from '../providers/index';
import { BLOCK_HINTS, explicitBlock, fallbackBlock, fallbackReasonFor, reasonMessage, usableProviders, type UsableProvider } from './fallbackPolicy';
import type { ChatCall, ChatEngine } from '../chatEngine';

/** How the router reaches the user; the server connects these to the protocol, the CLI leaves them out. */
export interface FallbackClient {
    /** `ask` mode. Default: refuse, since no one can be asked. */
    confirm?(params: FallbackConfirmParams, signal: AbortSignal): Promise<boolean>;
    /** A provider refused its key, or none is set. Default: nothing. */
    keyRejected?(provider: ProviderId): void;
    /** A conversation is about to be sent to a provider because local could not answer. Default: nothing. */
    fallbackUsed?(info: FallbackInfo): void;
}

export interface ChatRouterOptions {
    context: SidecarContext;
    local: ChatEngine;
    /** Whether a download for this model (or any, when undefined) is running. Default: never. */
    isDownloading?: (model: string | undefined) => boolean;
    client?: FallbackClient;
    /** A provider that sends nothing for this long is given up on. Default 60 000 ms. */
    providerIdleTimeoutMs?: number;
    /** The longest Retry-After waited for before retrying the same provider once; longer moves on. Default 10 000 ms. */
    maxRetryAfterMs?: number;
    /** Arms the first-token timeout; returns what cancels it. Default: setTimeout (tests pass a clock they advance). */
    startTimer?: (onTimeout: () => void, ms: number) => () => void;
}

function startRealTimer(onTimeout: () => void, ms: number): () => void {
    const timer = setTimeout(onTimeout, ms);
    return () => clearTimeout(timer);
}

type LocalOutcome = { kind: 'answered'; result: ChatResult } | { kind: 'fallback'; reason: FallbackReason; error?: unknown; consented: boolean };

export class ChatRouter implements ChatEngine {
    private readonly context: SidecarContext;
    private readonly local: ChatEngine;
    private readonly isDownloading: (model: string | undefined) => boolean;
    private client: FallbackClient;
    private readonly idleTimeoutMs: number;
    private readonly maxRetryAfterMs: number;
    private readonly startTimer: (onTimeout: () => void, ms: number) => () => void;

    constructor(options: ChatRouterOptions) {
        this.context = options.context;
        this.local = options.local;
        this.isDownloading = options.isDownloading ?? (() => false);
        this.client = options.client ?? {};
        this.idleTimeoutMs = options.providerIdleTimeoutMs ?? 60_000;
        this.maxRetryAfterMs = options.maxRetryAfterMs ?? 10_000;
        this.startTimer = options.startTimer ?? startRealTimer;
    }

    /** Called by the server once the protocol connection exists. */
    connectClient(client: FallbackClient): void {
        this.client = client;
    }

    async chat(call: ChatCall): Promise<ChatResult> {
        if (call.provider) return this.direct(call, call.provider);
        const settings = this.context.settings;
        // Racing the local model only makes sense when a provider could take over: never abort it for nothing.
        const raceable = !fallbackBlock(settings, 'firstTokenTimeout') && usableProviders(settings, this.context.secrets).usable.length > 0;
        const outcome = await this.tryLocal(call, raceable ? settings.fallback.firstTokenTimeoutSeconds * 1000 : undefined);
        if (outcome.kind === 'answered') return outcome.result;
        const block = fallbackBlock(this.context.settings, outcome.reason);
        if (block) {
            if (block !== 'off') this.context.log.info(`Not falling back to a provider: ${BLOCK_HINTS[block]}`);
            throw outcome.error ?? new LocalAiError(ErrorCode.NoEngineAvailable, reasonMessage(outcome.reason, settings), { hint: BLOCK_HINTS[block] });
        }
        const message = reasonMessage(outcome.reason, this.context.settings, outcome.error);
        return this.runChain(call, this.candidates(), { reason: outcome.reason, message, consentedFirst: outcome.consented });
    }

    countTokens(input: Parameters<NonNullable<ChatEngine['countTokens']>>[0], signal: AbortSignal): Promise<{ tokens: number; contextSize: number }> {
        if (!this.local.countTokens) throw new LocalAiError(ErrorCode.NoEngineAvailable, 'The local engine cannot count tokens.');
        return this.local.countTokens(input, signal);
    }

    embed(input: { model?: string; input: string[] }, signal: AbortSignal): Promise<{ vectors: number[][]; model: string }> {
        if (!this.local.embed) throw new LocalAiError(ErrorCode.NoEngineAvailable, 'The local engine cannot create embeddings.');
        return this.local.embed(input, signal);
    }

    /** The user picked this provider: consent to send, but offline and the workspace forbid still win. */
    private direct(call: ChatCall, provider: ProviderId): Promise<ChatResult> {
        const settings = this.context.settings;
        const block = explicitBlock(settings);
        if (block) {
            const code = block === 'offline' ? ErrorCode.NetworkError : ErrorCode.NoEngineAvailable;
            throw new LocalAiError(code, `${PROVIDERS[provider].name} cannot be used: ${BLOCK_HINTS[block]}`, { provider, hint: BLOCK_HINTS[block] });
        }
        const configured = settings.fallback.providers.find((candidate) => candidate.id === provider);
        const model = call.providerModel ?? configured?.model;
        if (!model) throw new LocalAiError(ErrorCode.InvalidParams, `Which ${PROVIDERS[provider].name} model? None is configured for it.`, { provider });
        const apiKey = providerApiKey(this.context.secrets, provider);
        if (!apiKey && PROVIDERS[provider].keyRequired) {
            this.client.keyRejected?.(provider);
            throw new LocalAiError(ErrorCode.Unauthorized, `${PROVIDERS[provider].name} needs an API key.`, {
                provider,
                hint: 'Set one with "Local AI: Set Cloud API Key…".',
            });
        }
        return this.runChain(call, [{ setting: { id: provider, baseUrl: configured?.baseUrl, model }, apiKey }]);
    }

    private candidates(): UsableProvider[] {
        const { usable, missingKey } = usableProviders(this.context.settings, this.context.secrets);
        for (const provider of missingKey) {
            this.context.log.warn(`${PROVIDERS[provider].name} is configured for fallback but has no API key; skipped.`);
            this.client.keyRejected?.(provider);
        }
        if (usable.length === 0) {
            throw new LocalAiError(ErrorCode.NoEngineAvailable, 'The local model cannot answer and no configured provider has an API key.', {
                provider: missingKey[0],
                hint: 'Set one with "Local AI: Set Cloud API Key…".',
            });
        }
        return usable;
    }

    /**
     * Runs the local engine. When a first-token timeout applies, races it: if no text came in time and
     * the user (or `auto`) agrees, the local answer is aborted and the providers take over.
     */
    private async tryLocal(call: ChatCall, firstTokenTimeoutMs: number | undefined): Promise<LocalOutcome> {
        const controller = new AbortController();
        const forwardAbort = () => controller.abort();
        // A request can start cancelled: vscode-jsonrpc reads a $/cancelRequest that came with the request before
        // dispatching it, and an aborted signal never fires 'abort' again, so the answer would run to its length.
        if (call.signal.aborted) controller.abort();
        else call.signal.addEventListener('abort', forwardAbort, { once: true });
        const held = holdStartUntilText(call.onChunk);
        const local = this.local.chat({ ...call, signal: controller.signal, onChunk: held.onChunk }).then(
            (result) => ({ kind: 'result' as const, result }),
            (error: unknown) => ({ kind: 'error' as const, error }),
        );
        let cancelTimer: () => void = () => undefined;
        const timeout = new Promise<{ kind: 'timeout' }>((resolve) => {
            if (firstTokenTimeoutMs !== undefined) cancelTimer = this.startTimer(() => resolve({ kind: 'timeout' }), firstTokenTimeoutMs);
        });
        const firstText = held.firstText.then(() => ({ kind: 'first' as const }));
        try {
            let next = await Promise.race([local, firstText, timeout]);
            if (next.kind === 'timeout') {
                const asking = new AbortController();
                const decision = this.consent('firstTokenTimeout', reasonMessage('firstTokenTimeout', this.context.settings), asking.signal).then((allow) => ({
                    kind: 'decision' as const,
                    allow,
                }));
                const raced = await Promise.race([local, firstText, decision]);
                if (raced.kind === 'decision') {
                    if (raced.allow) {
                        held.abandon();
                        controller.abort();
                        await local;
                        return { kind: 'fallback', reason: 'firstTokenTimeout', consented: true };
                    }
                    next = await Promise.race([local, firstText]);
                } else {
                    asking.abort();
                    next = raced;
                }
            }
            const settled = next.kind === 'first' ? await local : next;
            if (settled.kind === 'result') {
                held.flush();
                return { kind: 'answered', result: settled.result };
            }
            const reason = held.streamed ? undefined : fallbackReasonFor(settled.error, this.isDownloading(call.model));
            if (!reason || call.signal.aborted) throw settled.error;
            return { kind: 'fallback', reason, error: settled.error, consented: false };
        } finally {
            cancelTimer();
            call.signal.removeEventListener('abort', forwardAbort);
        }
    }

    /** `auto` agrees at once; `ask` asks the user, naming the first provider that would answer. */
    private async consent(reason: FallbackReason, message: string, signal: AbortSignal, provider?: UsableProvider): Promise<boolean> {
        if (this.context.settings.fallback.mode === 'auto') return true;
        const first = provider ?? usableProviders(this.context.settings, this.context.secrets).usable[0];
        if (!first || !this.client.confirm) return false;
        return this.client.confirm({ reason, message, provider: first.setting.id, providerModel: first.setting.model }, signal).catch(() => false);
    }

    private async runChain(
        call: ChatCall,
        candidates: UsableProvider[],
        fallback?: { reason: FallbackReason; message: string; consentedFirst: boolean },
    ): Promise<ChatResult> {
        const failures: ProviderFailure[] = [];
        for (const [index, candidate] of candidates.entries()) {
            if (call.signal.aborted) throw new LocalAiError(ErrorCode.Cancelled, 'The request was cancelled.');
            const { setting } = candidate;
            if (fallback && !(index === 0 && fallback.consentedFirst) && this.context.settings.fallback.mode === 'ask') {
                const allowed = await this.consent(fallback.reason, fallback.message, call.signal, candidate);
                if (!allowed) {
                    throw new LocalAiError(
                        ErrorCode.NoEngineAvailable,
                        `${fallback.message} Sending the conversation to ${PROVIDERS[setting.id].name} was declined.`,
                    );
                }
            }
            const info: FallbackInfo | undefined = fallback && { reason: fallback.reason, message: fallback.message, provider: setting.id };
            if (info) this.client.fallbackUsed?.(info);
            try {
                return await this.attempt(call, candidate, info);
            } catch (error) {
                if (!(error instanceof ProviderFailure) || error.afterText) throw error;
                failures.push(error);
                this.context.log.warn(error.message);
                if (error.kind === 'unauthorized') this.client.keyRejected?.(setting.id);
                if (error.kind !== 'rateLimited' || error.retryAfterMs === undefined || error.retryAfterMs > this.maxRetryAfterMs) continue;
                await delay(error.retryAfterMs, call.signal);
                try {
                    return await this.attempt(call, candidate, info);
                } catch (retryError) {
                    if (!(retryError instanceof ProviderFailure) || retryError.afterText) throw retryError;
                    failures.push(retryError);
                    this.context.log.warn(retryError.message);
                }
            }
        }
        const last = failures[failures.length - 1];
        const summary = failures.map((failure) => failure.message).join(' ');
        throw new LocalAiError(last?.kind === 'unauthorized' && candidates.length === 1 ? ErrorCode.Unauthorized : ErrorCode.ProviderError, summary, {
            provider: last?.provider,
            hint: last?.data.hint ?? 'Check "Local AI: Show Logs" for each provider\'s answer.',
        });
    }

    private async attempt(call: ChatCall, candidate: UsableProvider, info: FallbackInfo | undefined): Promise<ChatResult> {
        const engine = createProvider({
            setting: candidate.setting,
            apiKey: candidate.apiKey,
            idleTimeoutMs: this.idleTimeoutMs,
            proxy: this.context.settings.proxy,
        });
        const held = holdStartUntilText((chunk) => call.onChunk(chunk.kind === 'start' && info ? { ...chunk, fallback: info } : chunk));
        const result = await engine.chat({ ...call, onChunk: held.onChunk });
        held.flush();
        return info ? { ...result, fallback: info } : result;
    }
}

/**
 * Holds an engine's 'start' chunk until its first text, so an engine that fails before answering
 * (and is replaced by the next) never shows the user a badge for an answer it did not give.
 */
function holdStartUntilText(target: (chunk: ChatChunk) => void) {
    let start: ChatChunk | undefined;
    let streamed = false;
    let abandoned = false;
    let markFirst: () => void = () => undefined;
    const firstText = new Promise<void>((resolve) => (markFirst = resolve));
    return {
        firstText,
        get streamed() {
            return streamed;
        },
        onChunk(chunk: ChatChunk) {
            if (abandoned) return;
            if (chunk.kind === 'start' && !streamed) {
                start = chunk;
                return;
            }
            if (!streamed) {
                streamed = true;
                if (start) target(start);
                markFirst();
            }
            target(chunk);
        },
        /** The engine finished without text: its 'start' still tells which engine answered. */
        flush() {
            if (!streamed && start && !abandoned) target(start);
            streamed = true;
        },
        /** Chunks that arrive after the router gave up on this engine are dropped. */
        abandon() {
            abandoned = true;
        },
    };
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            signal.removeEventListener('abort', onAbort);
            resolve();
        }, ms);
        const onAbort = () => {
            clearTimeout(timer);
            reject(new LocalAiError(ErrorCode.Cancelled, 'The request was cancelled.'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
    });
}
