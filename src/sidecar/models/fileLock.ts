/**
 * One writer per file across processes. Every VS Code window runs its own sidecar and the CLI runs beside
 * them, all on one store, so a file being written carries a lock file next to it, created with O_EXCL
 * (only one process can create it) and naming its holder: {pid, host, startedAt}.
 * A lock survives its holder's crash; one whose process is gone (on this host) is stale. A stale lock is
 * removed only under a second O_EXCL lock (`<lock>.break`), after reading it again: renaming or
 * removing it without one lets a slow recoverer remove the fresh lock a faster one took meanwhile,
 * and then two processes both hold it (three claimers racing showed it within a few rounds).
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';

/** Who holds a lock: what the lock file says. */
export interface LockOwner {
    pid: number;
    host: string;
    /** ISO time the lock was taken. */
    startedAt: string;
}

export interface HeldLock {
    readonly path: string;
    /** Removes the lock file if it is still this holder's; idempotent. */
    release(): Promise<void>;
}

/** Either this process now holds the lock, or another live process does. */
export type LockAttempt = { held: HeldLock; heldBy?: undefined } | { held?: undefined; heldBy: LockOwner };

/**
 * Lock files this process holds. A lock naming this process's pid but not in this set was left by an
 * earlier process that had the same pid (pids are reused), so it is stale.
 */
const heldHere = new Set<string>();

/** A lock is empty between its creation and the write of its holder; one still empty after this was left by a crash. */
const UNWRITTEN_GRACE_MS = 10_000;
/** A break lock is held for a read and a remove; one older than this was left by a crash mid-recovery. */
const BREAK_GRACE_MS = 5_000;
/** How long to let another process finish recovering a stale lock before looking again. */
const BREAK_WAIT_MS = 10;

/** Takes the lock at `lockPath` unless a live process holds it; a stale lock is recovered. */
export async function tryLock(lockPath: string): Promise<LockAttempt> {
    for (;;) {
        const text = JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() } satisfies LockOwner);
        if (await createExclusive(lockPath, text)) {
            heldHere.add(lockPath);
            return { held: heldLock(lockPath, text) };
        }
        const found = await readLock(lockPath);
        // Released between our create and our read: try again.
        if (!found) continue;
        if (!(await isStale(lockPath, found))) return { heldBy: found.owner ?? { pid: 0, host: 'unknown', startedAt: '' } };
        await breakStale(lockPath, found.text);
    }
}

/** The live process holding the lock at `lockPath`, if any (a stale lock counts as none). */
export async function lockOwner(lockPath: string): Promise<LockOwner | undefined> {
    const found = await readLock(lockPath);
    if (!found || (await isStale(lockPath, found))) return undefined;
    return found.owner ?? { pid: 0, host: 'unknown', startedAt: '' };
}

/** "process 1234 (since 10:42)", with the host when it is another machine's (a shared network folder). */
export function describeOwner(owner: LockOwner): string {
    const since = owner.startedAt ? ` since ${new Date(owner.startedAt).toLocaleTimeString()}` : '';
    return `process ${owner.pid}${owner.host !== hostname() ? ` on ${owner.host}` : ''}${since}`;
}

async function createExclusive(lockPath: string, text: string): Promise<boolean> {
    let file: FileHandle;
    try {
        file = await fs.open(lockPath, 'wx');
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw error;
    }
    try {
        await file.writeFile(text);
    } catch (error) {
        await file.close().catch(() => undefined);
        await fs.rm(lockPath, { force: true });
        throw error;
    }
    await file.close();
    return true;
}

function heldLock(lockPath: string, text: string): HeldLock {
    let released = false;
    return {
        path: lockPath,
        async release() {
            if (released) return;
            released = true;
            heldHere.delete(lockPath);
            // A lock that is no longer ours (recovered by another process after a long suspend) stays.
            if ((await readLock(lockPath))?.text === text) await fs.rm(lockPath, { force: true });
        },
    };
}

interface FoundLock {
    text: string;
    /** Undefined when the text is not a lock (being written, or damaged). */
    owner?: LockOwner;
    modifiedMs: number;
}

async function readLock(lockPath: string): Promise<FoundLock | undefined> {
    try {
        const [text, stat] = await Promise.all([fs.readFile(lockPath, 'utf8'), fs.lstat(lockPath)]);
        return { text, owner: parseOwner(text), modifiedMs: stat.mtimeMs };
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
    }
}

function parseOwner(text: string): LockOwner | undefined {
    try {
        const value = JSON.parse(text) as Partial<LockOwner>;
        if (typeof value.pid !== 'number' || !Number.isInteger(value.pid) || value.pid <= 0) return undefined;
        // Locks written before the host was recorded came from this machine.
        return { pid: value.pid, host: typeof value.host === 'string' ? value.host : hostname(), startedAt: String(value.startedAt ?? '') };
    } catch {
        return undefined;
    }
}

async function isStale(lockPath: string, found: FoundLock): Promise<boolean> {
    const { owner } = found;
    if (!owner) return Date.now() - found.modifiedMs > UNWRITTEN_GRACE_MS;
    // Another machine's process cannot be asked; its lock holds until it is released or removed by hand.
    if (owner.host !== hostname()) return false;
    if (owner.pid === process.pid) return !heldHere.has(lockPath);
    return !isRunning(owner.pid);
}

/** Removes a stale lock if it still is the one seen (`observed`); returns without doing so while another process does it. */
async function breakStale(lockPath: string, observed: string): Promise<void> {
    const mutex = `${lockPath}.break`;
    if (!(await createExclusive(mutex, String(process.pid)))) {
        const modifiedMs = (await fs.lstat(mutex).catch(() => undefined))?.mtimeMs;
        if (modifiedMs !== undefined && Date.now() - modifiedMs > BREAK_GRACE_MS) await fs.rm(mutex, { force: true });
        else await delay(BREAK_WAIT_MS);
        return;
    }
    try {
        // Only a break lock holder removes a lock it did not take, so the one read here is the one removed.
        if ((await readLock(lockPath))?.text === observed) await fs.rm(lockPath, { force: true });
    } finally {
        await fs.rm(mutex, { force: true });
    }
}

function isRunning(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        // EPERM: it runs, as another user.
        return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
}
