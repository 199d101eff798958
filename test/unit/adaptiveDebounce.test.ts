/** How long an automatic completion waits after a keystroke: short, following the model's recent latencies. */
import * as assert from 'node:assert/strict';
import { AdaptiveDebounce } from '../../src/extension/completion/debounce';

describe('adaptive debounce', () => {
    it('starts short before any completion is timed', () => {
        assert.equal(new AdaptiveDebounce({ initialMs: 75 }).delayMs, 75);
    });

    it('waits half the median recent latency: a fast model is asked sooner, a slow one later', () => {
        const fast = new AdaptiveDebounce({ minMs: 10, maxMs: 500 });
        for (const ms of [60, 80, 70, 400]) fast.record(ms);
        assert.equal(fast.delayMs, 38);
        const slow = new AdaptiveDebounce({ minMs: 10, maxMs: 500 });
        for (const ms of [600, 500, 700]) slow.record(ms);
        assert.equal(slow.delayMs, 300);
    });

    it('stays within its bounds, and forgets latencies older than its window', () => {
        const debounce = new AdaptiveDebounce({ minMs: 20, maxMs: 200, samples: 3 });
        for (const ms of [5000, 5000, 5000]) debounce.record(ms);
        assert.equal(debounce.delayMs, 200);
        for (const ms of [1, 2, 3]) debounce.record(ms);
        assert.equal(debounce.delayMs, 20);
        debounce.record(Number.NaN);
        debounce.record(-1);
        assert.equal(debounce.delayMs, 20);
    });
});
