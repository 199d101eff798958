/**
 * A download in parallel range parts, as Ollama and hf_transfer fetch large files: real CDNs cap each
 * connection's speed, so N connections, each writing its own range at its offsets through the partial's one
 * descriptor, reach N times one connection's speed. A large file has more parts than connections (as
 * hf_transfer's chunks), taken in file order, so the bytes hashed so far trail the newest by a few parts. The parts and how much of each is written are kept in
 * the download's journal, so a resume fetches only the bytes each part lacks. A journal is read back as
 * untrusted input: its parts are used only when they tile the file and the partial holds what they claim.
 */

/** One range of the file, [start, end), of which the first `written` bytes are in the partial. */
export interface FilePart {
    start: number;
    end: number;
    written: number;
}

export interface PartPlanOptions {
    /** Parts fetched at once, each on its own connection. Default 16 (as Ollama). */
    connections?: number;
    /** No part is smaller than this; a file under twice this size is one stream. Default 16 MiB. */
    minPartBytes?: number;
}

export const DEFAULT_CONNECTIONS = 16;
export const DEFAULT_MIN_PART_BYTES = 16 << 20;
/** The journal stays small (a few tens of KB) however large the file: its parts grow instead. */
const MAX_PARTS = 1024;

/** Equal parts tiling [0, size): one part (a single stream) when the file is small or one connection is asked for. */
export function planParts(size: number, options: PartPlanOptions = {}): FilePart[] {
    const connections = options.connections ?? DEFAULT_CONNECTIONS;
    const count = connections <= 1 ? 1 : Math.max(1, Math.min(MAX_PARTS, Math.floor(size / (options.minPartBytes ?? DEFAULT_MIN_PART_BYTES))));
    // Boundaries at i·size/count: every part at least size/count long, so none falls under the minimum.
    return Array.from({ length: count }, (_, i) => ({ start: Math.floor((i * size) / count), end: Math.floor(((i + 1) * size) / count), written: 0 }));
}

/**
 * The parts a journal names, if they can be trusted for a partial of `fileBytes` bytes on disk: integers
 * tiling [0, size) in order, each written within its range, and no byte claimed beyond the partial's end.
 * A journal claims less than was written (it is saved after the writes), never more, unless something else
 * wrote it; then the download starts afresh (and the sha256 would catch what slipped through).
 */
export function trustedParts(value: unknown, size: number, fileBytes: number): FilePart[] | undefined {
    if (!Array.isArray(value) || value.length === 0) return undefined;
    const parts: FilePart[] = [];
    let next = 0;
    for (const item of value as unknown[]) {
        const { start, end, written } = (item ?? {}) as Partial<Record<keyof FilePart, unknown>>;
        if (![start, end, written].every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) return undefined;
        const part = { start, end, written } as FilePart;
        if (part.start !== next || part.end <= part.start || part.written > part.end - part.start) return undefined;
        if (part.written > 0 && part.start + part.written > fileBytes) return undefined;
        parts.push(part);
        next = part.end;
    }
    return next === size ? parts : undefined;
}

/** Bytes written contiguously from byte 0: what can be hashed so far. */
export function contiguousPrefix(parts: readonly FilePart[]): number {
    let prefix = 0;
    for (const part of parts) {
        if (part.start !== prefix) break;
        prefix = part.start + part.written;
        if (part.written < part.end - part.start) break;
    }
    return prefix;
}

/** Bytes written over all parts. */
export function writtenBytes(parts: readonly FilePart[]): number {
    return parts.reduce((sum, part) => sum + part.written, 0);
}

export function isComplete(part: FilePart): boolean {
    return part.written >= part.end - part.start;
}
