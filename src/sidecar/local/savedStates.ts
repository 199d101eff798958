/**
 * Conversations whose sequence was handed to another one: each one's KV cache saved to a file (llama.cpp's
 * own sequence state, with its tokens), so coming back to it loads the state instead of evaluating the
 * whole conversation again. The files live in one temporary folder per loaded model, removed on unload;
 * beyond `maxBytes` the least recently saved go first.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LlamaContextSequence, Token } from 'node-llama-cpp';

/** Which kind of request a sequence serves: lanes never take each other's last sequence (see SequencePool). */
export type SequenceLane = 'chat' | 'completion';

export interface SavedState {
    readonly lane: SequenceLane;
    readonly tokens: readonly Token[];
    readonly file: string;
    readonly bytes: number;
}

export interface SavedStatesOptions {
    /** Bytes of state files kept at most. Default: 1 GiB. */
    maxBytes?: number;
    /** Where the folder of state files is made. Default: the OS's temporary folder. */
    parentDirectory?: string;
}

/** How many leading tokens two token lists share. */
export function sharedPrefix(a: readonly Token[], b: readonly Token[]): number {
    const length = Math.min(a.length, b.length);
    let index = 0;
    while (index < length && a[index] === b[index]) index++;
    return index;
}

export class SavedStates {
    private readonly states: SavedState[] = [];
    private directory: string | undefined;
    private saved = 0;
    private disposed = false;

    constructor(private readonly options: SavedStatesOptions = {}) {}

    /** The saved state that shares the longest prefix with `tokens`, when any shares one. */
    best(tokens: readonly Token[]): { state: SavedState; match: number } | undefined {
        let best: { state: SavedState; match: number } | undefined;
        for (const state of this.states) {
            const match = sharedPrefix(state.tokens, tokens);
            if (match > 0 && (!best || match > best.match)) best = { state, match };
        }
        return best;
    }

    /** Saves what `sequence` holds; the oldest states go when the folder would grow beyond its budget. */
    async save(sequence: LlamaContextSequence, lane: SequenceLane): Promise<void> {
        if (this.disposed) return;
        this.directory ??= fs.mkdtempSync(path.join(this.options.parentDirectory ?? os.tmpdir(), 'local-ai-kv-'));
        const tokens = sequence.contextTokens.slice();
        const file = path.join(this.directory, `${this.saved++}.state`);
        const { fileSize } = await sequence.saveStateToFile(file);
        if (this.disposed) {
            fs.rmSync(file, { force: true });
            return;
        }
        // An older save of the same conversation (a prefix of this one) is worth nothing now.
        for (const stale of this.states.filter((state) => sharedPrefix(state.tokens, tokens) === state.tokens.length)) {
            this.forget(stale);
            fs.rmSync(stale.file, { force: true });
        }
        this.states.push({ lane, tokens, file, bytes: fileSize });
        const maxBytes = this.options.maxBytes ?? 1024 ** 3;
        let total = this.states.reduce((sum, state) => sum + state.bytes, 0);
        while (total > maxBytes && this.states.length > 0) {
            const oldest = this.states.shift()!;
            total -= oldest.bytes;
            fs.rmSync(oldest.file, { force: true });
        }
    }

    /** Loads `state` into `sequence` and forgets it (the sequence holds it now). */
    async restore(state: SavedState, sequence: LlamaContextSequence): Promise<void> {
        this.forget(state);
        try {
            await sequence.loadStateFromFile(state.file, { acceptRisk: true });
        } finally {
            fs.rmSync(state.file, { force: true });
        }
    }

    forget(state: SavedState): void {
        const index = this.states.indexOf(state);
        if (index >= 0) this.states.splice(index, 1);
    }

    /** Idempotent: removes every state file. */
    dispose(): void {
        if (this.disposed) return;
        this.disposed = true;
        this.states.length = 0;
        if (this.directory) fs.rmSync(this.directory, { recursive: true, force: true });
    }
}
