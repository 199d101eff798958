/**
 * The backends folder on disk: `<root>/<node-llama-cpp version>/<target>-<backend>/node_modules/@node-llama-cpp/<pkg>/`,
 * each backend folder holding a marker (resolver.ts BACKEND_MARKER). A backend is unpacked into a staging folder
 * inside the root and appears under its final name by one rename, after its marker is written, so a half-unpacked
 * backend is never seen. Folders of other node-llama-cpp versions are removed: their binaries cannot load in this one.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { FetchableGpuBackend, InstalledGpuBackend } from '../../common/hardware';
import type { Logger } from '../context';
import { BACKEND_MARKER } from '../llama/backendResolver';

export interface BackendMarker {
    backend: FetchableGpuBackend;
    target: string;
    nodeLlamaCppVersion: string;
    packages: string[];
    installedAt: string;
}

export interface GpuBackendFolderOptions {
    root: string;
    /** The bundled node-llama-cpp version. */
    version: string;
    /** `linux-x64`. */
    target: string;
    log: Logger;
}

/** Downloads in progress (partial tarballs, kept across a cancel for a resume). */
const DOWNLOADS = '.downloads';
const STAGING_PREFIX = '.staging-';

export class GpuBackendFolder {
    constructor(private readonly options: GpuBackendFolderOptions) {}

    get root(): string {
        return this.options.root;
    }

    get versionFolder(): string {
        return path.join(this.options.root, this.options.version);
    }

    folderOf(backend: FetchableGpuBackend): string {
        return path.join(this.versionFolder, `${this.options.target}-${backend}`);
    }

    /** The partial tarball of a package (`@node-llama-cpp/linux-x64-cuda` → `.downloads/node-llama-cpp-linux-x64-cuda-3.21.1.tgz`). */
    partialOf(name: string): string {
        return path.join(this.options.root, DOWNLOADS, `${name.replace(/^@/, '').replace(/\//g, '-')}-${this.options.version}.tgz`);
    }

    /** The backends installed for this version and target; a folder without a valid marker is not one. */
    async installed(): Promise<InstalledGpuBackend[]> {
        const found: InstalledGpuBackend[] = [];
        for (const backend of ['cuda', 'vulkan'] as const) {
            const folder = this.folderOf(backend);
            const marker = await readMarker(folder);
            if (!marker || marker.backend !== backend || marker.nodeLlamaCppVersion !== this.options.version) continue;
            found.push({
                backend,
                target: marker.target,
                nodeLlamaCppVersion: marker.nodeLlamaCppVersion,
                folder,
                sizeBytes: await folderSize(folder),
                packages: marker.packages,
            });
        }
        return found;
    }

    /** A fresh staging folder inside the root (same file system as the final folder, so the rename is atomic). */
    async stage(): Promise<string> {
        await fs.mkdir(path.join(this.options.root, DOWNLOADS), { recursive: true });
        return await fs.mkdtemp(path.join(this.options.root, STAGING_PREFIX));
    }

    /** Marks the staged backend complete and moves it to its final name in one rename. */
    async commit(staging: string, marker: BackendMarker): Promise<string> {
        await fs.writeFile(path.join(staging, BACKEND_MARKER), JSON.stringify(marker, null, 2));
        const folder = this.folderOf(marker.backend);
        await fs.mkdir(this.versionFolder, { recursive: true });
        // A folder there without a valid marker is a leftover (a crash in an older build): it is never used, so it goes.
        await fs.rm(folder, { recursive: true, force: true });
        await fs.rename(staging, folder);
        return folder;
    }

    /** Removes one backend of this version (disable). */
    async remove(backend: FetchableGpuBackend): Promise<boolean> {
        const folder = this.folderOf(backend);
        const existed = await exists(folder);
        await fs.rm(folder, { recursive: true, force: true });
        return existed;
    }

    /** Removes the partial tarballs of every package. */
    async removeDownloads(): Promise<void> {
        await fs.rm(path.join(this.options.root, DOWNLOADS), { recursive: true, force: true });
    }

    /**
     * Removes what can never be used: other node-llama-cpp versions' backends (an extension update brought a new
     * version; the new one is fetched again when enabled) and staging folders a crash left. Call with the lock held.
     */
    async removeStale(): Promise<string[]> {
        let entries: string[];
        try {
            entries = await fs.readdir(this.options.root);
        } catch {
            return [];
        }
        const removed: string[] = [];
        for (const entry of entries) {
            const stale = entry.startsWith(STAGING_PREFIX) || (/^\d+\.\d+\.\d+/.test(entry) && entry !== this.options.version);
            if (!stale) continue;
            const folder = path.join(this.options.root, entry);
            await fs.rm(folder, { recursive: true, force: true });
            removed.push(folder);
            this.options.log.info(`GPU backends: removed ${folder} (not usable with node-llama-cpp ${this.options.version}).`);
        }
        return removed;
    }
}

async function readMarker(folder: string): Promise<BackendMarker | undefined> {
    try {
        const stats = await fs.lstat(folder);
        if (!stats.isDirectory()) return undefined;
        const marker = JSON.parse(await fs.readFile(path.join(folder, BACKEND_MARKER), 'utf8')) as Partial<BackendMarker>;
        if (typeof marker.backend !== 'string' || typeof marker.target !== 'string' || typeof marker.nodeLlamaCppVersion !== 'string') return undefined;
        if (!Array.isArray(marker.packages) || !marker.packages.every((name) => typeof name === 'string')) return undefined;
        return marker as BackendMarker;
    } catch {
        return undefined;
    }
}

/** Bytes of the files below `folder`, links not followed. */
async function folderSize(folder: string): Promise<number> {
    let total = 0;
    for (const entry of await fs.readdir(folder, { withFileTypes: true })) {
        const full = path.join(folder, entry.name);
        if (entry.isDirectory()) total += await folderSize(full);
        else if (entry.isFile()) total += (await fs.lstat(full)).size;
    }
    return total;
}

async function exists(file: string): Promise<boolean> {
    try {
        await fs.lstat(file);
        return true;
    } catch {
        return false;
    }
}
