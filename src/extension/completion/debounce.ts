/**
 * How long an automatic completion waits after a keystroke before it asks. Short, and adapted to recent
 * latencies: when the model answers fast, waiting is most of what the user feels, so the wait shrinks;
 * when it is slow, every request the next keystroke cancels burns CPU the model needs, so the wait grows,
 * never past the cap.
 */

export interface AdaptiveDebounceOptions {
    /** Default 20 ms. */
    minMs?: number;
    /** Default 200 ms. */
    maxMs?: number;
    /** Before any latency is known. Default 75 ms. */
    initialMs?: number;
    /** Latencies remembered. Default 10. */
    samples?: number;
}

export class AdaptiveDebounce {
    private readonly latencies: number[] = [];
    private readonly minMs: number;
    private readonly maxMs: number;
    private readonly initialMs: number;
    private readonly samples: number;

    constructor(options: AdaptiveDebounceOptions = {}) {
        this.minMs = options.minMs ?? 20;
        this.maxMs = options.maxMs ?? 200;
        this.initialMs = options.initialMs ?? 75;
        this.samples = options.samples ?? 10;
    }

    /** Records how long a completion the model answered took (answers from the cache say nothing about it). */
    record(latencyMs: number): void {
        if (!Number.isFinite(latencyMs) || latencyMs < 0) return;
        this.latencies.push(latencyMs);
        if (this.latencies.length > this.samples) this.latencies.shift();
    }

    /** Half the median recent latency, within the bounds. */
    get delayMs(): number {
        if (this.latencies.length === 0) return this.initialMs;
        const sorted = [...this.latencies].sort((a, b) => a - b);
        const middle = sorted.length >> 1;
        const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
        return Math.round(Math.min(this.maxMs, Math.max(this.minMs, median / 2)));
    }
}
