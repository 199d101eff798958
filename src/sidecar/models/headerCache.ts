/**
 * What each listed file's GGUF header says about its memory, read once per file. A header read costs tens
 * of milliseconds (node-llama-cpp parses every tensor's entry), so when every list read them all, a store of
 * 1,000 files took a minute to list. A file is known by its device, inode, size and times: a file replaced
 * in place (a new download, a copy over it, an edit) is read again.
 */
import { promises as fs } from 'node:fs';
import type { ModelMemory } from '../llama/memoryModel';
import { fileIdentity, mapLimited } from './storeWalk';

/** Header reads at once: parsing runs on the main thread, so more only queue behind each other. */
const PARALLEL_READS = 4;

export class GgufHeaderCache {
    private readonly known = new Map<string, { identity: string; memory: Promise<ModelMemory | undefined> }>();

    /**
     * The memory of each file, undefined for one that cannot be read. A file's `identity` (fileIdentity), when
     * the caller has just read it (the store's walk), saves a stat. Only these files are kept afterwards: the
     * cache never outgrows the list.
     */
    async memoryOf(files: { path: string; identity?: string }[], read: (path: string) => Promise<ModelMemory>): Promise<(ModelMemory | undefined)[]> {
        const memories = await mapLimited(files, PARALLEL_READS, (file) =>
            file.identity === undefined ? this.memoryOfOne(file.path, read) : this.memoryOfIdentified(file.path, file.identity, read),
        );
        const listed = new Set(files.map((file) => file.path));
        for (const file of this.known.keys()) if (!listed.has(file)) this.known.delete(file);
        return memories;
    }

    private async memoryOfOne(file: string, read: (path: string) => Promise<ModelMemory>): Promise<ModelMemory | undefined> {
        // stat, not lstat: a file found in the HF cache is a link to its blob, and the header is read from the blob.
        // The store's own files were checked with lstat before they were listed as installed.
        const stat = await fs.stat(file).catch(() => undefined);
        if (!stat?.isFile()) {
            this.known.delete(file);
            return undefined;
        }
        return this.memoryOfIdentified(file, fileIdentity(stat), read);
    }

    private memoryOfIdentified(file: string, identity: string, read: (path: string) => Promise<ModelMemory>): Promise<ModelMemory | undefined> {
        const cached = this.known.get(file);
        if (cached?.identity === identity) return cached.memory;
        // The promise is kept, so lists that overlap read a header once.
        const memory = read(file).catch(() => undefined);
        this.known.set(file, { identity, memory });
        return memory;
    }
}
