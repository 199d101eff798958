/**
 * The lock that gives a store file one writer across processes (src/sidecar/models/fileLock.ts): who
 * holds it, when a lock is stale (its process gone, on this host), and that racing claimers never both
 * win. Other processes are real child processes, alive or exited; the CLI races are in storeRace.test.ts.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import { describeOwner, lockOwner, tryLock, type LockAttempt } from '../../src/sidecar/models/fileLock';

/** The pid of a process that has exited (not reused in the instant the test runs). */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '']).pid;

const lockText = (owner: object) => JSON.stringify({ host: hostname(), startedAt: new Date().toISOString(), ...owner });

function held(attempt: LockAttempt): NonNullable<LockAttempt['held']> {
    assert.ok(attempt.held, `the lock is held by ${JSON.stringify(attempt.heldBy)}`);
    return attempt.held;
}

describe('fileLock: one writer per file across processes', () => {
    let lock: string;

    beforeEach(() => {
        lock = path.join(mkdtempSync(path.join(tmpdir(), 'local-ai-lock-')), 'model.gguf.partial.lock');
    });

    it('is taken once: a second claim names the holder, and a release frees it', async () => {
        const first = held(await tryLock(lock));
        assert.deepEqual(JSON.parse(readFileSync(lock, 'utf8')).pid, process.pid);
        const second = await tryLock(lock);
        assert.equal(second.held, undefined);
        assert.equal(second.heldBy?.pid, process.pid);
        assert.equal((await lockOwner(lock))?.pid, process.pid);
        await first.release();
        assert.equal(existsSync(lock), false);
        assert.equal(await lockOwner(lock), undefined);
        await held(await tryLock(lock)).release();
    });

    it('respects a live process on this host, and recovers its lock once that process is gone', async () => {
        const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
        try {
            writeFileSync(lock, lockText({ pid: child.pid }));
            assert.equal((await tryLock(lock)).heldBy?.pid, child.pid);
        } finally {
            child.kill('SIGKILL');
            await once(child, 'exit');
        }
        const recovered = held(await tryLock(lock));
        assert.equal(JSON.parse(readFileSync(lock, 'utf8')).pid, process.pid, 'the lock now names this process');
        await recovered.release();
    });

    it('recovers a lock from a process that exited, and one naming this pid that this process never took (a reused pid)', async () => {
        writeFileSync(lock, lockText({ pid: deadPid() }));
        assert.equal(await lockOwner(lock), undefined, 'a dead process counts as no owner');
        await held(await tryLock(lock)).release();

        writeFileSync(lock, lockText({ pid: process.pid }));
        await held(await tryLock(lock)).release();
    });

    it("never takes over another machine's lock (a shared network folder), and names that machine", async () => {
        writeFileSync(lock, lockText({ pid: deadPid(), host: 'other-machine' }));
        const attempt = await tryLock(lock);
        assert.equal(attempt.heldBy?.host, 'other-machine');
        assert.match(describeOwner(attempt.heldBy!), /^process \d+ on other-machine since /);
    });

    it('counts an empty lock as being written by its creator, and as a crash leftover once it is old', async () => {
        writeFileSync(lock, '');
        assert.ok((await tryLock(lock)).heldBy, 'a lock being written was taken over');
        const minuteAgo = new Date(Date.now() - 60_000);
        utimesSync(lock, minuteAgo, minuteAgo);
        await held(await tryLock(lock)).release();
    });

    it('lets exactly one of many claimers racing for one stale lock win, round after round', async () => {
        const pid = deadPid();
        for (let round = 0; round < 40; round++) {
            writeFileSync(lock, lockText({ pid }));
            const attempts = await Promise.all(Array.from({ length: 12 }, () => tryLock(lock)));
            const winners = attempts.filter((a) => a.held);
            assert.equal(winners.length, 1, `round ${round}: ${winners.length} claimers hold the lock`);
            assert.ok(
                attempts.every((a) => a.held || a.heldBy?.pid === process.pid),
                'a loser names the winner',
            );
            await winners[0].held!.release();
        }
    });

    it('a release leaves a lock that is no longer its own', async () => {
        const mine = held(await tryLock(lock));
        const theirs = lockText({ pid: process.ppid });
        writeFileSync(lock, theirs);
        await mine.release();
        assert.equal(readFileSync(lock, 'utf8'), theirs);
    });
});
