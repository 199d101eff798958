/**
 * Extra context for code completion, kept the way llama.vscode keeps it: chunks of lines around recent
 * edits and around the cursor in files the user opened, in a ring of bounded size. A chunk that is nearly
 * the same as one already held replaces it, so one busy region never fills the ring with copies of itself.
 * No `vscode` here: recentContext.ts feeds it from the editor.
 */
import type { CompletionContextChunk } from '../../common/completion';

export interface ContextRingOptions {
    /** Chunks held at most; the oldest goes first. Default 16. */
    maxChunks?: number;
    /** Characters of one chunk at most (a minified line must not fill the window). Default 4096. */
    maxChunkChars?: number;
    /** Share of common lines above which two chunks count as the same. Default 0.9. */
    sameAbove?: number;
}

/** A chunk and where it came from, so one that overlaps the request's own window can be left out. */
export interface RingChunk extends CompletionContextChunk {
    /** The document's key (its URI). */
    document: string;
    /** Zero-based lines the chunk covers, end exclusive. */
    startLine: number;
    endLine: number;
}

/** Lines a chunk needs that are not blank, or it says too little to be worth sending. */
const MIN_LINES = 3;

export class ContextRing {
    private readonly ring: RingChunk[] = [];
    private readonly maxChunks: number;
    private readonly maxChunkChars: number;
    private readonly sameAbove: number;

    constructor(options: ContextRingOptions = {}) {
        this.maxChunks = options.maxChunks ?? 16;
        this.maxChunkChars = options.maxChunkChars ?? 4096;
        this.sameAbove = options.sameAbove ?? 0.9;
    }

    /** Adds a chunk as the newest; returns false when it says too little to keep. */
    add(chunk: RingChunk): boolean {
        const lines = chunk.text.split('\n');
        if (lines.filter((line) => line.trim() !== '').length < MIN_LINES) return false;
        const kept = { ...chunk, text: chunk.text.slice(0, this.maxChunkChars) };
        for (let i = this.ring.length - 1; i >= 0; i--) {
            if (similarity(this.ring[i].text, kept.text) > this.sameAbove) this.ring.splice(i, 1);
        }
        this.ring.push(kept);
        if (this.ring.length > this.maxChunks) this.ring.splice(0, this.ring.length - this.maxChunks);
        return true;
    }

    /**
     * The chunks to send with a request, oldest first, leaving out those of the request's own document
     * that overlap the lines its window already holds.
     */
    chunksFor(document: string, windowStart: number, windowEnd: number): CompletionContextChunk[] {
        return this.ring
            .filter((chunk) => chunk.document !== document || chunk.endLine <= windowStart || chunk.startLine >= windowEnd)
            .map(({ fileName, text }) => ({ fileName, text }));
    }

    get size(): number {
        return this.ring.length;
    }
}

/** Lines two texts share, as a share of both (llama.vscode's chunk similarity): 1 for the same lines. */
export function similarity(a: string, b: string): number {
    const left = a.split('\n');
    const right = new Map<string, number>();
    for (const line of b.split('\n')) right.set(line, (right.get(line) ?? 0) + 1);
    let common = 0;
    for (const line of left) {
        const count = right.get(line) ?? 0;
        if (count === 0) continue;
        common++;
        right.set(line, count - 1);
    }
    return (2 * common) / (left.length + b.split('\n').length);
}
