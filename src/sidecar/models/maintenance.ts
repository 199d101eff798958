/**
 * Keeping the store honest: verify installed files (size, then sha256 against the hub's LFS hash
 * recorded at download), delete a model completely, and clean up partial downloads nobody is using.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, LocalAiError } from '../../common/errors';
import type { ModelManifest } from '../../common/models';
import type { CheckResultItem, RepairResultItem } from '../../common/protocol';
import type { DownloadManager } from './download';
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

    /** Verifies every installed file in the store, or only those of `model`; the tree shows what it found damaged. */
    async check(model?: string, signal?: AbortSignal): Promise<CheckResultItem[]> {
        return (await this.checkManifests(model, undefined, signal)).map(({ item }) => item);
    }

    /**
     * Checks, then fetches each damaged or missing file again from the commit its manifest recorded. The
     * new bytes go to the partial and replace the damaged copy only once verified, so a repair that fails
     * leaves the damaged file as it was.
     */
    async repair(model?: string, quant?: string, signal?: AbortSignal): Promise<RepairResultItem[]> {
        const { store, downloads, registry } = this.options;
        const results: RepairResultItem[] = [];
        for (const { item, manifest } of await this.checkManifests(model, quant, signal)) {
            if (item.ok || !manifest.repo) {
                results.push({ ...item, repaired: false });
                continue;
            }
            try {
                const resolved = await registry.resolve(manifest.modelId, manifest.quant).catch(() => undefined);
                const entry = resolved?.entry.repo === manifest.repo ? resolved.entry : undefined;
                if (!entry || !resolved || resolved.file.file !== manifest.file) {
                    throw new LocalAiError(ErrorCode.ModelNotFound, `${manifest.modelId} ${manifest.quant} is no longer a model Local AI knows.`);
                }
                const revision = manifest.revision ?? 'main';
                await downloads.download({ entry: { ...entry, revision }, file: resolved.file, signal, repair: { commit: manifest.commit } });
                const after = await this.verify(item.path, manifest.sizeBytes, manifest.sha256, signal);
                store.recordDamage(item.path, after.ok ? undefined : after.problem);
                results.push({ ...item, ...after, repaired: after.ok });
            } catch (error) {
                if (signal?.aborted) throw error;
                const failure = error instanceof LocalAiError ? error : new LocalAiError(ErrorCode.DownloadFailed, String(error));
                results.push({ ...item, repaired: false, error: { code: failure.code, message: failure.message } });
            }
        }
        registry.invalidate();
        return results;
    }

    private async checkManifests(
        model: string | undefined,
        quant: string | undefined,
        signal?: AbortSignal,
    ): Promise<{ item: CheckResultItem; manifest: ModelManifest }[]> {
        const { store, registry } = this.options;
        let targets = await store.listManifests();
        if (model) {
            const { entry } = await registry.resolve(model, quant);
            const files = entry.files.filter((f) => !quant || f.quant.toUpperCase() === quant.toUpperCase());
            targets = targets.filter(({ manifest }) => manifest.repo === entry.repo && files.some((f) => f.file === manifest.file));
            if (targets.length === 0) throw new LocalAiError(ErrorCode.ModelNotInstalled, `${entry.name} has no downloaded file to check.`);
        }
        const results: { item: CheckResultItem; manifest: ModelManifest }[] = [];
        let damageChanged = false;
        for (const { path: file, manifest } of targets) {
            signal?.throwIfAborted();
            const verdict = await this.verify(
                file,
                manifest.sizeBytes,
                manifest.sha256 ?? (await this.hubSha(manifest.repo, manifest.file, manifest.commit ?? manifest.revision)),
                signal,
            );
            const problem = verdict.ok ? undefined : (verdict.problem ?? 'damaged');
            damageChanged ||= store.damageOf(file) !== problem;
            store.recordDamage(file, problem);
            results.push({ item: { modelId: manifest.modelId, quant: manifest.quant, path: file, ...verdict }, manifest });
        }
        if (damageChanged) registry.invalidate();
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
            deleted.push(...(await store.remove(entry.repo, file.file)));
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
            if (await inUse(partial.path)) continue;
            await store.dropStaleClaim(partial.path);
            await remove(partial.path, partial.bytes);
            const journal = `${partial.path}.json`;
            const journalBytes = await fileSize(journal);
            if (journalBytes !== undefined) await remove(journal, journalBytes);
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
            : { ok: false, verified: true, problem: `sha256 is ${actual.slice(0, 12)}…, the hub says ${sha256.slice(0, 12)}…` };
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
