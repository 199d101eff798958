/**
 * Hands out a context's sequences so that every conversation's KV cache stays warm. A request goes to
 * the free sequence whose cached tokens share the longest prefix with its prompt (prefix affinity), so a
 * follow-up, or a conversation taken up again after another one, evaluates only its new tokens. A
 * sequence never used yet comes before one that holds another conversation; only when none is left is a
 * conversation's sequence handed over, the least recently used, and its state saved (SavedStates) to be
 * loaded again, rather than evaluated again, when the conversation comes back: whichever the measured
 * costs say is faster. Lanes (chat, code completion) never take each other's last sequence.
 * A request that finds no sequence waits in line (and leaves it when cancelled), so none is lost and
 * none starves. Sequences evaluating together share llama.cpp batches.
 */
import type { LlamaContext, LlamaContextSequence, Token, TokenPredictor } from 'node-llama-cpp';
import type { Logger } from '../context';
import { SavedStates, sharedPrefix, type SavedState, type SavedStatesOptions, type SequenceLane } from './savedStates';

export interface AcquireOptions {
    /** The prompt as the model will see it. Default: none (any free sequence, the emptiest first). */
    tokens?: readonly Token[];
    /** Default: 'chat'. */
    lane?: SequenceLane;
    signal?: AbortSignal;
}

/** What evaluating a prompt cost, reported on release: the pool weighs restoring a saved state against it. */
export interface EvaluationCost {
    tokens: number;
    ms: number;
}

export interface SequencePoolOptions {
    log?: Logger;
    /** Makes each sequence's token predictor (inputLookup.ts); a sequence takes it when it is created. */
    tokenPredictor?: () => TokenPredictor;
    savedStates?: SavedStatesOptions;
}

interface Slot {
    readonly sequence: LlamaContextSequence;
    lane: SequenceLane;
    busy: boolean;
    lastUsed: number;
}

/** How a request gets its sequence: a new one or a free slot, saving what the slot held first and/or loading a saved state into it. */
interface Plan {
    slot?: Slot;
    save: boolean;
    restore?: SavedState;
    ms: number;
}

interface Waiter {
    options: AcquireOptions;
    resolve(sequence: Promise<LlamaContextSequence>): void;
    reject(error: unknown): void;
}

/** A state shorter than this is evaluated again rather than saved. */
const MIN_SAVED_TOKENS = 32;
/** Shorter evaluations say little about the speed per token. */
const MIN_MEASURED_TOKENS = 32;

function abortError(signal: AbortSignal): unknown {
    return signal.reason instanceof Error ? signal.reason : Object.assign(new Error('The request was cancelled.'), { name: 'AbortError' });
}

/** Moves a running estimate towards a new measurement. */
function blend(estimate: number, measured: number): number {
    return estimate * 0.7 + measured * 0.3;
}

export class SequencePool {
    private readonly slots: Slot[] = [];
    private readonly waiting: Waiter[] = [];
    private readonly saved: SavedStates;
    private clock = 0;
    /** Milliseconds per prompt token evaluated, and per token of state saved or loaded: measured as requests go, a CPU's and a page-cached file's until then. */
    private evaluateMsPerToken = 1;
    private stateMsPerToken = 0.02;
    private disposed = false;

    constructor(
        private readonly context: LlamaContext,
        private readonly options: SequencePoolOptions = {},
    ) {
        this.saved = new SavedStates(options.savedStates);
    }

    /** Requests waiting for a sequence now. */
    get queued(): number {
        return this.waiting.length;
    }

    acquire(options: AcquireOptions = {}): Promise<LlamaContextSequence> {
        const { signal } = options;
        if (signal?.aborted) return Promise.reject(abortError(signal));
        if (this.disposed) return Promise.reject(new Error('The model was unloaded.'));
        // Requests of a lane are served in order: one that waits already goes first.
        const lane = options.lane ?? 'chat';
        const plan = this.waiting.some((waiter) => (waiter.options.lane ?? 'chat') === lane) ? undefined : this.plan(options);
        if (plan) return this.start(plan, options);
        return new Promise((resolve, reject) => {
            const waiter: Waiter = {
                options,
                resolve: (sequence) => {
                    signal?.removeEventListener('abort', onAbort);
                    resolve(sequence);
                },
                reject,
            };
            const onAbort = () => {
                const index = this.waiting.indexOf(waiter);
                if (index >= 0) this.waiting.splice(index, 1);
                reject(abortError(signal!));
            };
            signal?.addEventListener('abort', onAbort, { once: true });
            this.waiting.push(waiter);
        });
    }

    /** Frees the sequence; `cost` is what evaluating its prompt took, when it evaluated one. */
    release(sequence: LlamaContextSequence, cost?: EvaluationCost): void {
        const slot = this.slots.find((s) => s.sequence === sequence);
        if (this.disposed || !slot) return;
        if (cost && cost.tokens >= MIN_MEASURED_TOKENS && cost.ms > 0) this.evaluateMsPerToken = blend(this.evaluateMsPerToken, cost.ms / cost.tokens);
        slot.busy = false;
        slot.lastUsed = ++this.clock;
        this.serveWaiting();
    }

    private serveWaiting(): void {
        for (const waiter of [...this.waiting]) {
            const plan = this.plan(waiter.options);
            if (!plan) continue;
            this.waiting.splice(this.waiting.indexOf(waiter), 1);
            waiter.resolve(this.start(plan, waiter.options));
        }
    }

    /** Idempotent; rejects whoever is still waiting and removes the saved states. */
    dispose(): void {
        if (this.disposed) return;
        this.disposed = true;
        for (const waiter of this.waiting.splice(0)) waiter.reject(new Error('The model was unloaded.'));
        this.slots.length = 0;
        this.saved.dispose();
    }

    /** Another lane's sequence may be taken only when that lane keeps another one (or there is a single sequence to share). */
    private mayTake(slot: Slot, lane: SequenceLane): boolean {
        return slot.lane === lane || this.context.totalSequences < 2 || this.slots.filter((s) => s.lane === slot.lane).length >= 2;
    }

    /** The fastest way to a sequence holding as much of the prompt as can be had, or undefined when none is free. */
    private plan(options: AcquireOptions): Plan | undefined {
        const tokens = options.tokens ?? [];
        const lane = options.lane ?? 'chat';
        const free = this.slots.filter((slot) => !slot.busy && this.mayTake(slot, lane)).sort((a, b) => a.lastUsed - b.lastUsed);
        const canCreate = this.slots.length < this.context.totalSequences;
        const evaluateMs = (count: number) => count * this.evaluateMsPerToken;
        const stateMs = (count: number) => count * this.stateMsPerToken;
        const matches = new Map(free.map((slot) => [slot, sharedPrefix(slot.sequence.contextTokens, tokens)]));
        // A slot handed to another conversation has its state saved first, unless little would be lost, or another
        // sequence is evaluating: llama.cpp saves under the context's lock, so the save would wait for their answers.
        const othersBusy = this.slots.some((slot) => slot.busy);
        const saves = (slot: Slot, match: number) => !othersBusy && slot.sequence.contextTokens.length - match >= MIN_SAVED_TOKENS;
        // The conversation handed over is the least recently used, unless another shares clearly more of the prompt
        // (a few tokens of a similar opening are not worth evicting a more recent conversation).
        const victim = free.find((slot) => saves(slot, matches.get(slot)!));
        const victimMatch = victim ? matches.get(victim)! : 0;
        let best: Plan | undefined;
        // Ties go to the first considered: a new sequence, then the least recently used.
        const consider = (plan: Plan) => {
            if (!best || plan.ms < best.ms) best = plan;
        };
        // Every save is counted alike (a state about the prompt's size).
        if (canCreate) consider({ save: false, ms: evaluateMs(tokens.length) });
        for (const slot of free) {
            const match = matches.get(slot)!;
            const save = saves(slot, match);
            if (save && slot !== victim && match - victimMatch < MIN_SAVED_TOKENS) continue;
            // While a sequence is still unused no conversation is handed over, unless this is mostly the same one (edited).
            if (save && canCreate && match * 2 < slot.sequence.contextTokens.length) continue;
            consider({ slot, save, ms: evaluateMs(tokens.length - match) + (save ? stateMs(tokens.length) : 0) });
        }
        // Loading a state takes the same lock.
        const saved = othersBusy ? undefined : this.saved.best(tokens);
        if (saved) {
            const restoreMs = stateMs(saved.state.tokens.length) + evaluateMs(tokens.length - saved.match);
            if (canCreate) consider({ save: false, restore: saved.state, ms: restoreMs });
            for (const slot of free) {
                const save = saves(slot, 0);
                if (save && (slot !== victim || canCreate)) continue;
                consider({ slot, save, restore: saved.state, ms: restoreMs + (save ? stateMs(tokens.length) : 0) });
            }
        }
        return best;
    }

    /** Takes the planned slot at once (so no other request plans with it), then saves and loads states as planned. */
    private async start(plan: Plan, options: AcquireOptions): Promise<LlamaContextSequence> {
        const lane = options.lane ?? 'chat';
        const slot = plan.slot ?? { sequence: this.context.getSequence({ tokenPredictor: this.options.tokenPredictor?.() }), lane, busy: true, lastUsed: 0 };
        if (!plan.slot) this.slots.push(slot);
        const previousLane = slot.lane;
        slot.busy = true;
        slot.lane = lane;
        if (plan.restore) this.saved.forget(plan.restore);
        try {
            await this.prepare(slot, plan, previousLane);
        } catch (error) {
            slot.busy = false;
            this.serveWaiting();
            throw error;
        }
        // Cancelled while its state was saved or loaded: node-llama-cpp would not notice a signal aborted before it starts.
        if (options.signal?.aborted) {
            this.release(slot.sequence);
            throw abortError(options.signal);
        }
        return slot.sequence;
    }

    private async prepare(slot: Slot, plan: Plan, previousLane: SequenceLane): Promise<void> {
        try {
            if (plan.save) await this.timed('Saved', slot.sequence.contextTokens.length, () => this.saved.save(slot.sequence, previousLane));
        } catch (error) {
            this.options.log?.warn(`Could not save a conversation's state (it will be evaluated again when it comes back): ${String(error)}`);
        }
        if (plan.restore) {
            const restore = plan.restore;
            try {
                await this.timed('Loaded', restore.tokens.length, () => this.saved.restore(restore, slot.sequence));
            } catch (error) {
                this.options.log?.warn(`Could not load a conversation's saved state (evaluating it again): ${String(error)}`);
                await slot.sequence.clearHistory();
            }
        }
    }

    private async timed(what: string, tokens: number, work: () => Promise<void>): Promise<void> {
        const started = performance.now();
        await work();
        const ms = performance.now() - started;
        if (tokens >= MIN_MEASURED_TOKENS) this.stateMsPerToken = blend(this.stateMsPerToken, ms / tokens);
        this.options.log?.debug(`${what} a conversation's state (${tokens} tokens) in ${ms.toFixed(1)} ms.`);
    }
}
