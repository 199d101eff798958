/**
 * When a sidecar that stopped unexpectedly is started again: after a delay that doubles with each
 * recent crash, and not at all once it has crashed too often in a short window (a crash loop would
 * otherwise burn the CPU and flood the log). Pure bookkeeping, so its timing is tested without waiting.
 */
export interface CrashPolicyOptions {
    /** Crashes within `windowMs` after which it is not restarted. Default 5. */
    maxCrashes: number;
    /** How far back crashes count. Default 3 minutes. */
    windowMs: number;
    /** Delay before the first restart; each further recent crash doubles it. Default 250 ms. */
    firstDelayMs: number;
    /** The longest delay. Default 2 s. */
    maxDelayMs: number;
}

export const DEFAULT_CRASH_POLICY: Readonly<CrashPolicyOptions> = { maxCrashes: 5, windowMs: 3 * 60_000, firstDelayMs: 250, maxDelayMs: 2000 };

export type CrashDecision = { restart: true; delayMs: number; recentCrashes: number } | { restart: false; recentCrashes: number };

export class CrashPolicy {
    private crashes: number[] = [];

    constructor(readonly options: Readonly<CrashPolicyOptions> = DEFAULT_CRASH_POLICY) {}

    /** Records a crash at `now` (ms) and says whether to restart, and after how long. */
    crashed(now: number): CrashDecision {
        this.crashes = [...this.crashes.filter((time) => now - time < this.options.windowMs), now];
        const recentCrashes = this.crashes.length;
        if (recentCrashes >= this.options.maxCrashes) return { restart: false, recentCrashes };
        const delayMs = Math.min(this.options.maxDelayMs, this.options.firstDelayMs * 2 ** (recentCrashes - 1));
        return { restart: true, delayMs, recentCrashes };
    }

    /** Forgets past crashes (the user restarted it by hand). */
    reset(): void {
        this.crashes = [];
    }

    /** "5 times in 3 minutes", for messages. */
    describeLimit(): string {
        const minutes = this.options.windowMs / 60_000;
        return `${this.options.maxCrashes} times in ${minutes} minute${minutes === 1 ? '' : 's'}`;
    }
}
