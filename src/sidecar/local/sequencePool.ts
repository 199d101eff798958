/**
 * Hands out a context's sequences to conversations, first come first served: a request that
 * finds every sequence busy waits in line (and leaves the line if it is cancelled), so no
 * request is lost and none starves. Sequences evaluating together share llama.cpp batches.
 */
import type { LlamaContext, LlamaContextSequence, TokenPredictor } from 'node-llama-cpp';

interface Waiter {
    resolve(sequence: LlamaContextSequence): void;
    reject(error: unknown): void;
}

function abortError(signal: AbortSignal): unknown {
    return signal.reason instanceof Error ? signal.reason : Object.assign(new Error('The request was cancelled.'), { name: 'AbortError' });
}

export class SequencePool {
    private readonly free: LlamaContextSequence[] = [];
    private readonly waiting: Waiter[] = [];
    private created = 0;
    private disposed = false;

    /** `tokenPredictor` makes each sequence's predictor (inputLookup.ts); a sequence takes it when it is created. */
    constructor(
        private readonly context: LlamaContext,
        private readonly options: { tokenPredictor?: () => TokenPredictor } = {},
    ) {}

    /** Requests waiting for a sequence now. */
    get queued(): number {
        return this.waiting.length;
    }

    acquire(signal?: AbortSignal): Promise<LlamaContextSequence> {
        if (signal?.aborted) return Promise.reject(abortError(signal));
        if (this.disposed) return Promise.reject(new Error('The model was unloaded.'));
        const ready = this.free.pop();
        if (ready) return Promise.resolve(ready);
        if (this.created < this.context.totalSequences) {
            this.created++;
            return Promise.resolve(this.context.getSequence({ tokenPredictor: this.options.tokenPredictor?.() }));
        }
        return new Promise((resolve, reject) => {
            const waiter: Waiter = {
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

    release(sequence: LlamaContextSequence): void {
        if (this.disposed) return;
        const next = this.waiting.shift();
        if (next) next.resolve(sequence);
        else this.free.push(sequence);
    }

    /** Idempotent; rejects whoever is still waiting. */
    dispose(): void {
        if (this.disposed) return;
        this.disposed = true;
        for (const waiter of this.waiting.splice(0)) waiter.reject(new Error('The model was unloaded.'));
        this.free.length = 0;
    }
}
