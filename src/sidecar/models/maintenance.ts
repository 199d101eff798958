/**
 * Keeping the store honest: verify installed files (size, then sha256 against the hub's LFS hash
 * recorded at download), delete a model completely, and clean up partial downloads nobody is using.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, LocalAiError } from '../../common/errors';
import type { CheckResultItem } from '../../common/protocol';
import type { DownloadManager } from './download';
import { describeOwner } from './fileLock';
import type { HubClient } from './hub';
import type { ModelRegistry } from './registry';
import { fileSize, type ModelStore } from './store';

export interface MaintenanceOptions {
    store: ModelStore;
    downloads: DownloadManager;
    registry: ModelRegistry;
    hub: HubClient;
}

export class ModelMaintenance {
    constructor(private readonly options: MaintenanceOptions) {}

    /** Verifies every installed file in the store, or only those of `model`. */
    async check(model?: string, signal?: AbortSignal): Promise<CheckResultItem[]> {
        const { store, registry } = this.options;
        let targets = await store.listManifests();
        if (model) {
            const { entry } = await registry.resolve(model);
            targets = targets.filter(({ manifest }) => manifest.repo === entry.repo && entry.files.some((f) => f.file === manifest.file));
            if (targets.length === 0) throw new LocalAiError(ErrorCode.ModelNotInstalled, `${entry.name} has no downloaded file to check.`);
        }
        const results: CheckResultItem[] = [];
        for (const { path: file, manifest } of targets) {
            signal?.throwIfAborted();
            const item = { modelId: manifest.modelId, quant: manifest.quant, path: file };
            results.push({
                ...item,
                ...(await this.verify(
                    file,
                    manifest.sizeBytes,
                    manifest.sha256 ?? (await this.hubSha(manifest.repo, manifest.file, manifest.revision)),
                    signal,
                )),
            });
        }
        return results;
    }

    /** Deletes the model's files in the store (all quantizations unless `quant`), stopping a running download first. */
    async delete(model: string, quant?: string): Promise<string[]> {
        const { store, downloads, registry } = this.options;
        const { entry } = await registry.resolve(model, quant);
        const files = entry.files.filter((file) => !quant || file.quant.toUpperCase() === quant.toUpperCase());
        if (!entry.repo) {
            throw new LocalAiError(ErrorCode.InvalidParams, `${entry.name} is a file Local AI did not download (${files[0]?.path}); it is left where it is.`, {
                file: files[0]?.path,
            });
        }
        const deleted: string[] = [];
        for (const file of files) {
            if (file.path && !isInside(file.path, store.folder)) {
                throw new LocalAiError(ErrorCode.InvalidParams, `${file.path} belongs to another tool (found on disk); Local AI does not delete it.`, {
                    file: file.path,
                });
            }
            await downloads.stop(entry.repo, file.file);
            const removed = await store.remove(entry.repo, file.file);
            if (removed.heldBy) {
                throw new LocalAiError(
                    ErrorCode.InvalidParams,
                    `${entry.name} ${file.quant} is being downloaded by ${describeOwner(removed.heldBy)}: another window or the CLI is downloading it; cancel it there first.`,
                    { file: store.paths(entry.repo, file.file).partial },
                );
            }
            deleted.push(...removed.deleted);
        }
        registry.invalidate();
        return deleted;
    }

    /** Removes partial downloads (and leftovers of interrupted writes) that no running download, in any process, uses. */
    async cleanup(): Promise<{ removedFiles: string[]; freedBytes: number }> {
        const { store, downloads, registry } = this.options;
        const removedFiles: string[] = [];
        let freedBytes = 0;
        const remove = async (file: string, bytes: number) => {
            await fs.rm(file, { force: true });
            removedFiles.push(file);
            freedBytes += bytes;
            await store.pruneEmptyFolders(path.dirname(file));
        };
        const inUse = async (partialPath: string) => downloads.isPartialInUse(partialPath) || (await store.isPartialClaimed(partialPath));
        for (const partial of await store.listPartials()) {
            if (downloads.isPartialInUse(partial.path)) continue;
            // Removed under the partial's lock, so a download starting in another process meanwhile waits for it.
            const claim = await store.claimPartialAt(partial.path);
            if (claim.heldBy) continue;
            try {
                await remove(partial.path, partial.bytes);
                const journal = `${partial.path}.json`;
                const journalBytes = await fileSize(journal);
                if (journalBytes !== undefined) await remove(journal, journalBytes);
            } finally {
                await claim.held.release();
            }
            await store.pruneEmptyFolders(path.dirname(partial.path));
        }
        for (const { path: file } of await store.listManifests()) {
            if ((await fileSize(file)) === undefined && !(await inUse(`${file}.partial`))) {
                await remove(`${file}.manifest.json`, (await fileSize(`${file}.manifest.json`)) ?? 0);
            }
        }
        if (removedFiles.length > 0) registry.invalidate();
        return { removedFiles, freedBytes };
    }

    private async verify(
        file: string,
        sizeBytes: number,
        sha256: string | undefined,
        signal?: AbortSignal,
    ): Promise<{ ok: boolean; verified: boolean; problem?: string }> {
        const size = await fileSize(file);
        if (size === undefined) return { ok: false, verified: false, problem: 'the file is missing' };
        if (size !== sizeBytes) return { ok: false, verified: false, problem: `the file has ${size} bytes, the hub lists ${sizeBytes}` };
        if (!sha256) return { ok: true, verified: false, problem: undefined };
        const hash = createHash('sha256');
        for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, signal })) hash.update(chunk as Buffer);
        const actual = hash.digest('hex');
        return actual === sha256
            ? { ok: true, verified: true }
            : { ok: false, verified: true, problem: `sha256 is ${actual.slice(0, 12)}…, the hub says ${sha256.slice(0, 12)}…; delete and download it again` };
    }

    private async hubSha(repo: string | undefined, file: string, revision?: string): Promise<string | undefined> {
        if (!repo || this.options.hub.isOffline()) return undefined;
        return (await this.options.hub.fileInfo(repo, file, revision).catch(() => undefined))?.sha256;
    }
}

function isInside(file: string, folder: string): boolean {
    const relative = path.relative(path.resolve(folder), path.resolve(file));
    return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}
