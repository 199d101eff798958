/**
 * The local fill-in-the-middle engine: the completion model in a ModelHost of its own (beside the chat
 * model's), one sequence in the pool's 'completion' lane whose KV cache holds the last prompt, so a request
 * that extends it evaluates only its new tokens (see prompt.ts for the layout that makes typing cheap),
 * generation through node-llama-cpp's LlamaCompletion stopped by the caller's signal, the editor's stop
 * rules (stopRules.ts), and the token and time caps. When it does not fit beside the chat model it gives
 * way ('yielded'): chat's load unloads it, and requests are refused at once until chat unloads.
 */
import type { LlamaContextSequence, Token } from 'node-llama-cpp';
import type { CompletionFinishReason, CompletionResult, CompletionStatus } from '../../common/completion';
import { ErrorCode, isLocalAiError, LocalAiError } from '../../common/errors';
import type { CompletionCall, CompletionEngine } from '../completionEngine';
import type { Logger } from '../context';
import { Emitter } from '../events';
import { importNodeLlamaCpp } from '../llama/runtime';
import type { MemoryNeeds } from '../llama/memoryModel';
import type { LoadedState, ModelHost, ModelNeighbour } from '../local/modelHost';
import { type CachedCompletion, CompletionCache } from './cache';
import { buildFimPrompt, buildPlainPrompt, fimTokensOf } from './prompt';
import { CompletionPace } from './pace';
import { StopRules } from './stopRules';

/** Answer tokens when the request names no cap: a few lines of code. */
export const DEFAULT_MAX_TOKENS = 128;
/** Generation time when the request names no cap: past this a suggestion comes too late to help. */
export const DEFAULT_TIMEOUT_MS = 5_000;
/** Room kept free in the context beside the prompt and the answer. */
const CONTEXT_MARGIN = 8;

export interface LocalCompletionOptions {
    /** Loads the completion model (its own, or the chat model's host when it is the same file). */
    host: ModelHost;
    log: Logger;
    /** Says which model a request would use, for the status; throws ModelNotInstalled when none. */
    describe: (model?: string) => Promise<{ id: string; name: string; quant?: string }>;
    /** Calls `refresh` whenever the model completions would use may have changed (downloads, settings); returns the unsubscribe. */
    watchChoice?: (refresh: () => void) => () => void;
    /** The chat model's host: completions give way to it when both do not fit, and resume when it unloads. Default: none. */
    chat?: ModelHost;
}

/**
 * The completion model as the chat host's neighbour: its memory counts against chat's load, and a chat
 * load that fits only alone makes it give way. `engine` is read at each load (it is built after chat's host).
 */
export function completionBesideChat(engine: () => LocalCompletionEngine | undefined): ModelNeighbour {
    return { held: () => engine()?.held(), makeRoom: async (chatModel) => engine()?.giveWay(chatModel) };
}

function elapsed(since: number): number {
    return Math.round((performance.now() - since) * 10) / 10;
}

/** Emits 'status' whenever status() would answer differently. */
export class LocalCompletionEngine extends Emitter<{ status: [CompletionStatus] }> implements CompletionEngine {
    private current: CompletionStatus = { state: 'ready', message: 'Code completion loads its model on the first request.' };
    private readonly unwatch: (() => void) | undefined;
    private readonly cache = new CompletionCache();
    private readonly pace = new CompletionPace();
    /** Who answered the last request: what an answer from the cache reports. */
    private lastEngine: CompletionResult['engine'] | undefined;
    /** The chat model completions gave way to, until it unloads or the settings change. */
    private yieldedTo: string | undefined;
    private readonly unwatchChat: (() => void) | undefined;
    /** Someone asked for the status or a completion: the status follows downloads and settings from then on. */
    private followed = false;

    constructor(private readonly options: LocalCompletionOptions) {
        super();
        this.unwatch = options.watchChoice?.(() => {
            // Another model may answer now: its suggestions are not the old one's; it may fit beside chat.
            this.cache.clear();
            this.yieldedTo = undefined;
            // Until someone asks (the editor asks at start), finding the model is work nobody reads: the CLI's
            // `models download` would list the store and import node-llama-cpp on each download state.
            if (!this.followed) return;
            void this.followChoice().catch((error: unknown) => options.log.warn(`Code completion status: ${String(error)}`));
        });
        this.unwatchChat = options.chat?.watch((loaded) => {
            if (loaded || !this.yieldedTo) return;
            this.yieldedTo = undefined;
            void this.refreshStatus().catch((error: unknown) => options.log.warn(`Code completion status: ${String(error)}`));
        });
    }

    /** What the completion model holds now (for the chat host's fit check). */
    held(): MemoryNeeds | undefined {
        return this.options.host.held();
    }

    /** Called by the chat host when its model fits only without the completion model: frees it and says why. */
    async giveWay(chatModel: string): Promise<void> {
        this.yieldedTo = chatModel;
        const name = this.options.host.listLoaded()[0]?.name;
        await this.options.host.unload();
        this.options.log.info(`Code completion gave way to ${chatModel}: both do not fit in memory.`);
        await this.enterYield(name);
    }

    private async enterYield(name: string | undefined): Promise<void> {
        const model = await this.options.describe().catch(() => undefined);
        const which = model?.name ?? name ?? 'The completion model';
        this.setStatus({ state: 'yielded', model, message: `${which} does not fit beside ${this.yieldedTo}; completions resume when chat unloads.` });
    }

    /**
     * Unloads a model that is no longer the one completions would use (the setting changed, a better one was
     * installed): ModelHost.use without a name keeps whatever is loaded, so the old model would go on answering.
     */
    private async followChoice(): Promise<void> {
        const status = await this.refreshStatus();
        const loaded = this.options.host.listLoaded()[0];
        if (!status.model || !loaded) return;
        if (loaded.modelId === status.model.id && (status.model.quant === undefined || loaded.quant === status.model.quant)) return;
        this.options.log.info(`Code completion now uses ${status.model.name}; unloading ${loaded.name}.`);
        await this.options.host.unload();
        await this.refreshStatus();
    }

    status(): CompletionStatus {
        return this.current;
    }

    /** Checks again which model completions would use (after a download, a settings change); from now on, on every change. */
    async refreshStatus(): Promise<CompletionStatus> {
        this.followed = true;
        if (this.current.state === 'loading' || this.yieldedTo) return this.current;
        try {
            const model = await this.options.describe();
            const loaded = this.options.host.listLoaded()[0];
            const message =
                loaded?.modelId === model.id
                    ? `Completing with ${model.name} on the ${loaded.device}.`
                    : `Completing with ${model.name} (loads on the first request).`;
            this.setStatus({ state: 'ready', model, message });
        } catch (error) {
            if (!isLocalAiError(error)) throw error;
            const hint = error.data.hint ? ` ${error.data.hint}` : '';
            this.setStatus({ state: 'noModel', message: `${error.message}${hint}` });
        }
        return this.current;
    }

    async complete(asked: CompletionCall): Promise<CompletionResult> {
        this.followed = true;
        if (typeof asked.prefix !== 'string' || typeof asked.suffix !== 'string') {
            throw new LocalAiError(ErrorCode.InvalidParams, 'A completion needs the text before the cursor (prefix) and after it (suffix).');
        }
        // A slow machine answers typing with one line in time rather than several too late; an explicit request waits.
        const singleLineBecause =
            asked.raw || asked.singleLine || asked.trigger === 'explicit'
                ? undefined
                : this.pace.singleLineReason(asked.maxTokens ?? DEFAULT_MAX_TOKENS, asked.timeoutMs ?? DEFAULT_TIMEOUT_MS);
        const call = singleLineBecause ? { ...asked, singleLine: true } : asked;
        const result = await this.answer(call);
        return singleLineBecause ? { ...result, singleLineBecause } : result;
    }

    private async answer(call: CompletionCall): Promise<CompletionResult> {
        const started = performance.now();
        const cacheKey = { model: call.model, singleLine: call.singleLine === true, prefix: call.prefix, suffix: call.suffix };
        const cached = call.raw ? undefined : this.cache.lookup(cacheKey);
        if (cached) return this.fromCache(cached, call, started);
        // Given way to chat: answered at once, with no load that would fail or evict chat.
        if (this.yieldedTo) throw new LocalAiError(ErrorCode.ModelDoesNotFit, this.current.message);
        const host = this.options.host;
        const loadingNow = !host.listLoaded().length;
        if (loadingNow) this.setStatus({ ...this.current, state: 'loading', message: 'Loading the code completion model…' });
        try {
            const result = await host.use(call.model, (state) => this.generate(state, call, started), call.signal);
            if (!call.raw && result.finishReason !== 'cancelled') this.cache.remember({ ...cacheKey, text: result.text, finishReason: result.finishReason });
            this.lastEngine = result.engine;
            return result;
        } catch (error) {
            if (isLocalAiError(error) && error.code === ErrorCode.ModelNotInstalled) {
                this.setStatus({ state: 'noModel', message: `${error.message}${error.data.hint ? ` ${error.data.hint}` : ''}` });
            }
            const chat = this.options.chat?.listLoaded()[0];
            if (isLocalAiError(error) && error.code === ErrorCode.ModelDoesNotFit && chat && !this.yieldedTo) {
                // It does not fit beside the chat model: give way until chat unloads rather than try again on every keystroke.
                this.yieldedTo = chat.name;
                await this.enterYield(undefined);
                throw new LocalAiError(ErrorCode.ModelDoesNotFit, this.current.message);
            }
            throw error;
        } finally {
            if (this.current.state === 'loading') await this.refreshStatus().catch(() => undefined);
        }
    }

    private fromCache(cached: CachedCompletion, call: CompletionCall, started: number): CompletionResult {
        call.onText?.(cached.text);
        const engine = this.lastEngine ?? { kind: 'local' as const, model: call.model ?? '' };
        return {
            text: cached.text,
            finishReason: cached.finishReason,
            fromCache: true,
            engine,
            usage: { promptTokens: 0, evaluatedTokens: 0, completionTokens: 0 },
            timings: { totalMs: elapsed(started), timeToFirstTokenMs: elapsed(started) },
        };
    }

    private async generate(state: LoadedState, call: CompletionCall, started: number): Promise<CompletionResult> {
        if (this.current.state !== 'ready' || this.current.model?.id !== state.info.modelId) {
            const model = { id: state.info.modelId, name: state.info.name, quant: state.info.quant };
            this.setStatus({ state: 'ready', model, message: `Completing with ${state.info.name} on the ${state.info.device}.` });
        }
        // At most half the context, so the window keeps room (a larger cap would leave no prompt at all).
        const maxTokens = Math.max(1, Math.min(call.maxTokens ?? DEFAULT_MAX_TOKENS, Math.floor(state.context.contextSize / 2)));
        const room = state.context.contextSize - maxTokens - CONTEXT_MARGIN;
        const plain = call.raw === true && call.suffix.length === 0;
        const fim = plain ? undefined : fimTokensOf(state.model);
        if (!plain && !fim) {
            throw new LocalAiError(ErrorCode.InvalidParams, `${state.info.name} has no fill-in-the-middle tokens, so it cannot complete code.`, {
                hint: 'Choose a code model that can fill in the middle (Qwen2.5-Coder) for completions.',
            });
        }
        const prompt = fim ? buildFimPrompt(state.model, fim, call, room) : buildPlainPrompt(state.model, call.prefix, room);
        const timeoutMs = call.timeoutMs ?? DEFAULT_TIMEOUT_MS;
        const rules = call.raw ? undefined : new StopRules({ prefix: call.prefix, suffix: call.suffix, singleLine: call.singleLine === true });
        const stop = new AbortController();
        let ruleReason: CompletionFinishReason | undefined;
        const timer = setTimeout(() => {
            ruleReason ??= 'time';
            stop.abort();
        }, timeoutMs);
        const signal = AbortSignal.any([call.signal, stop.signal, state.unloading]);

        const sequence = await state.pool.acquire({ tokens: prompt.tokens, lane: 'completion', signal });
        const acquiredAt = performance.now();
        const meter = () => sequence.tokenMeter.usedInputTokens + sequence.tokenMeter.usedOutputTokens;
        const before = meter();
        let evaluatedTokens: number | undefined;
        let firstTokenAt: number | undefined;
        let completionTokens = 0;
        let generated = '';
        let kept = '';
        let sent = 0;
        const { LlamaCompletion } = await importNodeLlamaCpp();
        const completion = new LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false });
        try {
            const response = await completion.generateCompletionWithMeta(prompt.tokens as Token[], {
                maxTokens,
                temperature: call.temperature ?? 0,
                seed: call.seed,
                customStopTriggers: call.stop?.filter((s) => s.length > 0).length ? call.stop.filter((s) => s.length > 0) : undefined,
                signal,
                stopOnAbortSignal: true,
                // The window was cut to fit beside the answer: node-llama-cpp must not cut it again (its default keeps a tenth free).
                contextShiftSize: maxTokens + CONTEXT_MARGIN,
                onToken: (tokens) => {
                    if (firstTokenAt === undefined) {
                        firstTokenAt = performance.now();
                        evaluatedTokens = meter() - before;
                        this.options.log.debug(
                            `Completion: first token after ${elapsed(started)} ms, ${evaluatedTokens} of ${prompt.tokens.length} prompt tokens evaluated.`,
                        );
                    }
                    completionTokens += tokens.length;
                },
                onTextChunk: (text) => {
                    if (ruleReason) return;
                    generated += text;
                    const decision = rules?.check(generated) ?? { text: generated };
                    kept = decision.text;
                    // Stream only what no rule can take back: text up to the last line break, or all once a rule ended it.
                    const safe = decision.finishReason ? kept.length : rules ? kept.lastIndexOf('\n') + 1 : kept.length;
                    if (safe > sent) {
                        call.onText?.(kept.slice(sent, safe));
                        sent = safe;
                    }
                    if (decision.finishReason) {
                        ruleReason = decision.finishReason;
                        stop.abort();
                    }
                },
            });
            const stopReason = response.metadata.stopReason;
            if (!ruleReason) kept = rules ? rules.check(response.response).text : response.response;
            if (kept.length > sent) call.onText?.(kept.slice(sent));
            let finishReason: CompletionFinishReason;
            if (call.signal.aborted || state.unloading.aborted) finishReason = 'cancelled';
            else if (ruleReason) finishReason = ruleReason;
            else finishReason = stopReason === 'maxTokens' ? 'length' : 'stop';
            if (finishReason === 'length') completionTokens = Math.max(completionTokens, maxTokens);
            if (firstTokenAt !== undefined && finishReason !== 'cancelled') this.pace.record(completionTokens, performance.now() - firstTokenAt);
            return {
                text: kept,
                finishReason,
                fromCache: false,
                engine: { kind: 'local', model: state.info.modelId, device: state.info.device },
                usage: { promptTokens: prompt.tokens.length, evaluatedTokens: evaluatedTokens ?? meter() - before, completionTokens },
                timings: { totalMs: elapsed(started), timeToFirstTokenMs: firstTokenAt === undefined ? 0 : Math.round((firstTokenAt - started) * 10) / 10 },
            };
        } finally {
            clearTimeout(timer);
            completion.dispose({ disposeSequence: false });
            this.release(state, sequence, evaluatedTokens, firstTokenAt, acquiredAt);
        }
    }

    private release(
        state: LoadedState,
        sequence: LlamaContextSequence,
        evaluated: number | undefined,
        firstTokenAt: number | undefined,
        acquiredAt: number,
    ): void {
        state.pool.release(sequence, evaluated === undefined || firstTokenAt === undefined ? undefined : { tokens: evaluated, ms: firstTokenAt - acquiredAt });
    }

    private setStatus(status: CompletionStatus): void {
        const before = this.current;
        this.current = status;
        if (before.state !== status.state || before.message !== status.message || before.model?.id !== status.model?.id) this.emit('status', status);
    }

    /** Idempotent: frees the completion model (the host's owner disposes the host when it is shared). */
    async dispose(): Promise<void> {
        this.unwatch?.();
        this.unwatchChat?.();
        this.removeAllListeners();
        this.cache.clear();
        await this.options.host.dispose();
    }
}
