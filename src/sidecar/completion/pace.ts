/**
 * How fast this machine generates completion tokens, learnt from the answers so far, and whether a
 * multi-line suggestion can come in time: on a slow machine suggestions become single-line rather than late.
 */

/** Weight of the newest answer in the running figure. */
const NEWEST_WEIGHT = 0.3;
/** Shorter answers say little about the speed per token. */
const MIN_TOKENS = 4;

export class CompletionPace {
    private tokensPerSecond: number | undefined;

    /** An answer of `tokens` tokens whose first token came `decodeMs` before its last. */
    record(tokens: number, decodeMs: number): void {
        if (tokens < MIN_TOKENS || decodeMs <= 0) return;
        const rate = ((tokens - 1) / decodeMs) * 1000;
        this.tokensPerSecond = this.tokensPerSecond === undefined ? rate : (1 - NEWEST_WEIGHT) * this.tokensPerSecond + NEWEST_WEIGHT * rate;
    }

    /** Why a multi-line answer of up to `maxTokens` would come too late for `timeoutMs`; undefined when it would not, or before any answer. */
    singleLineReason(maxTokens: number, timeoutMs: number): string | undefined {
        const rate = this.tokensPerSecond;
        if (rate === undefined || (maxTokens / rate) * 1000 <= timeoutMs) return undefined;
        return `Completions come at about ${rate < 10 ? rate.toFixed(1) : Math.round(rate)} tokens/s here, too slow for a ${maxTokens}-token suggestion within ${timeoutMs / 1000} s: suggestions stay on one line.`;
    }
}
