/**
 * Keeping the store honest: verify installed files (size, then sha256 against the hub's LFS hash
 * recorded at download), delete a model completely, and clean up partial downloads nobody is using.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { printable } from '../../common/format';
import type { ModelManifest } from '../../common/models';
import type { CheckResultItem, RepairResultItem } from '../../common/protocol';
import type { DownloadManager } from './download';
import { describeOwner } from './fileLock';
import type { HubClient } from './hub';
import { hubFileId, quantFromFileName } from './hubUri';
import type { ModelRegistry } from './registry';
import { type ModelStore, type StorePaths, storedFileSize } from './store';

export interface MaintenanceOptions {
    store: ModelStore;
    downloads: DownloadManager;
    registry: ModelRegistry;
    hub: HubClient;
}

export class ModelMaintenance {
    constructor(private readonly options: MaintenanceOptions) {}

    /**
     * Verifies every installed file in the store, or only those of `model`; the tree shows what it found damaged.
     * A model file whose manifest cannot be trusted (invalid JSON, wrong fields) is damaged: reported, never skipped in silence.
     */
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
            if (item.ok || !manifest?.repo) {
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
    ): Promise<{ item: CheckResultItem; manifest?: ModelManifest }[]> {
        const { store, registry } = this.options;
        let targets = await store.listManifests();
        let untrusted = (await store.listBadEntries()).flatMap((bad) => (bad.modelPath ? [{ ...bad, modelPath: bad.modelPath }] : []));
        if (model) {
            const { entry } = await registry.resolve(model, quant);
            const files = entry.files.filter((f) => !quant || f.quant.toUpperCase() === quant.toUpperCase());
            const ofEntry = (repo: string | undefined, file: string | undefined) =>
                repo === entry.repo && files.some((f) => f.file === file || f.parts?.some((part) => part.file === file));
            targets = targets.filter(({ manifest }) => ofEntry(manifest.repo, manifest.file));
            untrusted = untrusted.filter((bad) => {
                const at = store.hubFileAt(bad.modelPath);
                return ofEntry(at?.repo, at?.file);
            });
            if (targets.length === 0 && untrusted.length === 0) {
                throw new LocalAiError(ErrorCode.ModelNotInstalled, `${printable(entry.name)} has no downloaded file to check.`);
            }
        }
        // Without a manifest to trust there is no commit to repair from: reported, and left to delete and download.
        const results: { item: CheckResultItem; manifest?: ModelManifest }[] = untrusted.map((bad) => {
            const at = store.hubFileAt(bad.modelPath);
            return {
                item: {
                    modelId: at ? hubFileId(at.repo, at.file) : bad.modelPath,
                    quant: quantFromFileName(bad.modelPath) ?? 'GGUF',
                    path: bad.modelPath,
                    ok: false,
                    verified: false,
                    problem: `its manifest cannot be trusted (${bad.problem}); delete the model and download it again`,
                },
            };
        });
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
            // A split GGUF is every one of its parts.
            for (const part of file.parts?.map((p) => p.file) ?? [file.file]) {
                await downloads.stop(entry.repo, part);
                const removed = await store.remove(entry.repo, part);
                if (removed.heldBy) {
                    throw new LocalAiError(
                        ErrorCode.InvalidParams,
                        `${printable(entry.name)} ${file.quant} is being downloaded by ${describeOwner(removed.heldBy)}: another window or the CLI is downloading it; cancel it there first.`,
                        { file: store.paths(entry.repo, part).partial },
                    );
                }
                deleted.push(...removed.deleted);
            }
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
                const journalBytes = await storedFileSize(journal);
                if (journalBytes !== undefined) await remove(journal, journalBytes);
            } finally {
                await claim.held.release();
            }
            await store.pruneEmptyFolders(path.dirname(partial.path));
        }
        // A split GGUF's parts not started yet have a journal and no partial (see splitDownload.ts).
        for (const journal of await store.listJournals()) {
            // A journal naming an unsafe or no path is not one this store wrote: left alone, never fatal to the cleanup.
            const paths = safePaths(store, journal);
            if (!paths) continue;
            const bytes = await storedFileSize(paths.journal);
            if (bytes !== undefined && (await storedFileSize(paths.partial)) === undefined && !(await inUse(paths.partial))) await remove(paths.journal, bytes);
        }
        for (const { path: file } of await store.listManifests()) {
            if ((await storedFileSize(file)) === undefined && !(await inUse(`${file}.partial`))) {
                await remove(`${file}.manifest.json`, (await storedFileSize(`${file}.manifest.json`)) ?? 0);
            }
        }
        // Bookkeeping that cannot be trusted (bad JSON, a path out of place, a link with a store name) goes;
        // a link is removed itself, never what it points to. A bad manifest beside its model stays for check.
        for (const bad of await store.listBadEntries()) {
            if (bad.modelPath) continue;
            const partial = bad.path.endsWith('.partial.json') ? bad.path.slice(0, -'.json'.length) : undefined;
            if (partial && (await inUse(partial))) continue;
            await remove(bad.path, bad.bytes);
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
        const size = await storedFileSize(file);
        if (size === undefined) return { ok: false, verified: false, problem: 'the file is missing (or is a link, which Local AI never follows)' };
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

function safePaths(store: ModelStore, journal: { repo: string; file: string }): StorePaths | undefined {
    try {
        return store.paths(journal.repo, journal.file);
    } catch {
        return undefined;
    }
}

function isInside(file: string, folder: string): boolean {
    const relative = path.relative(path.resolve(folder), path.resolve(file));
    return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}
