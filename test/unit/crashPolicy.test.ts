/** When a crashed sidecar is started again, on a clock the test sets. */
import { strict as assert } from 'node:assert';
import { CrashPolicy, DEFAULT_CRASH_POLICY } from '../../src/extension/crashPolicy';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

describe('sidecar crash policy', () => {
    it('restarts after 250 ms, doubling with each recent crash', () => {
        const policy = new CrashPolicy();
        const delays = [0, 1, 2, 3].map((i) => policy.crashed(i * SECOND));
        assert.deepEqual(delays, [
            { restart: true, delayMs: 250, recentCrashes: 1 },
            { restart: true, delayMs: 500, recentCrashes: 2 },
            { restart: true, delayMs: 1000, recentCrashes: 3 },
            { restart: true, delayMs: 2000, recentCrashes: 4 },
        ]);
    });

    it('never waits more than 2 s', () => {
        const policy = new CrashPolicy({ ...DEFAULT_CRASH_POLICY, maxCrashes: 100 });
        const delays = Array.from({ length: 10 }, (_, i) => policy.crashed(i * SECOND));
        assert.ok(delays.every((d) => d.restart && d.delayMs <= 2000));
        assert.deepEqual(delays.at(-1), { restart: true, delayMs: 2000, recentCrashes: 10 });
    });

    it('gives up at the 5th crash within 3 minutes', () => {
        const policy = new CrashPolicy();
        for (let i = 0; i < 4; i++) assert.equal(policy.crashed(i * 40 * SECOND).restart, true);
        assert.deepEqual(policy.crashed(2 * MINUTE + 50 * SECOND), { restart: false, recentCrashes: 5 });
        assert.equal(policy.describeLimit(), '5 times in 3 minutes');
    });

    it('forgets crashes older than 3 minutes: 5 crashes spread over more keep it running', () => {
        const policy = new CrashPolicy();
        const decisions = [0, 1, 2, 3, 4, 5, 6].map((i) => policy.crashed(i * 50 * SECOND));
        assert.ok(
            decisions.every((d) => d.restart),
            JSON.stringify(decisions),
        );
        // At 300 s the crashes at 150 s and later count (4 of them), and the delay follows the recent count.
        assert.deepEqual(decisions.at(-1), { restart: true, delayMs: 2000, recentCrashes: 4 });
    });

    it('starts over after the user restarts it by hand', () => {
        const policy = new CrashPolicy();
        for (let i = 0; i < 5; i++) policy.crashed(i);
        policy.reset();
        assert.deepEqual(policy.crashed(10), { restart: true, delayMs: 250, recentCrashes: 1 });
    });
});
