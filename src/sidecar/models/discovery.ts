/**
 * GGUF files that are already on this machine: the Hugging Face cache, LM Studio's models folders and
 * the folders in `localAi.extraModelFolders`. They are used where they are, never copied or deleted.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isSplitPart, splitPartFiles } from './hubUri';

export interface DiscoveredFile {
    path: string;
    sizeBytes: number;
    /** Where it was found. */
    origin: 'huggingface-cache' | 'lm-studio' | 'folder';
    /** The hub repository and file it came from, when the folder layout says so. */
    repo?: string;
    file?: string;
}

export interface DiscoveryFolders {
    /** The hub cache (`models--owner--repo/snapshots/<commit>/…`). */
    huggingFaceCache: string;
    /** LM Studio's `<owner>/<repo>/<file>.gguf` trees. */
    lmStudio: string[];
    /** Any folder; files are found at any depth. */
    extra: string[];
}

/** HF_HUB_CACHE, then HF_HOME/hub, then ~/.cache/huggingface/hub; LM Studio's two known homes. */
export function defaultDiscoveryFolders(extraModelFolders: string[]): DiscoveryFolders {
    const home = os.homedir();
    const hfHome = process.env.HF_HOME || path.join(home, '.cache', 'huggingface');
    return {
        huggingFaceCache: process.env.HF_HUB_CACHE || path.join(hfHome, 'hub'),
        lmStudio: [path.join(home, '.lmstudio', 'models'), path.join(home, '.cache', 'lm-studio', 'models')],
        extra: extraModelFolders.filter((folder) => folder.trim() !== ''),
    };
}

export async function discoverModelFiles(folders: DiscoveryFolders): Promise<DiscoveredFile[]> {
    const found = new Map<string, DiscoveredFile>();
    const add = (file: DiscoveredFile) => {
        if (!found.has(file.path)) found.set(file.path, file);
    };
    for (const file of await scanHuggingFaceCache(folders.huggingFaceCache)) add(file);
    for (const root of folders.lmStudio) {
        for (const file of await ggufFilesUnder(root)) {
            const parts = path.relative(root, file.path).split(path.sep);
            const repo = parts.length >= 3 ? `${parts[0]}/${parts[1]}` : undefined;
            add({ ...file, origin: 'lm-studio', repo, file: repo ? parts.slice(2).join('/') : undefined });
        }
    }
    for (const root of folders.extra) for (const file of await ggufFilesUnder(root)) add({ ...file, origin: 'folder' });
    return [...found.values()];
}

async function scanHuggingFaceCache(cache: string): Promise<DiscoveredFile[]> {
    const repos = await fs.readdir(cache).catch(() => [] as string[]);
    const files: DiscoveredFile[] = [];
    for (const folder of repos) {
        const match = /^models--([^-].*?)--(.+)$/.exec(folder);
        if (!match) continue;
        const snapshots = path.join(cache, folder, 'snapshots');
        const commits = await fs.readdir(snapshots).catch(() => [] as string[]);
        for (const commit of commits) {
            const root = path.join(snapshots, commit);
            for (const file of await ggufFilesUnder(root)) {
                const relative = path.relative(root, file.path).split(path.sep).join('/');
                files.push({ ...file, origin: 'huggingface-cache', repo: `${match[1]}/${match[2]}`, file: relative });
            }
        }
    }
    return files;
}

/**
 * Model GGUF files under `root` (following the cache's symlinks to blobs); skips projectors and later split
 * parts. A split GGUF is listed by its first part with the size of all its parts, and only when all are there.
 */
async function ggufFilesUnder(root: string): Promise<{ path: string; sizeBytes: number }[]> {
    const names = await fs.readdir(root, { recursive: true }).catch(() => [] as string[]);
    const files: { path: string; sizeBytes: number }[] = [];
    for (const name of names.map(String)) {
        const base = path.basename(name).toLowerCase();
        if (!base.endsWith('.gguf') || base.includes('mmproj')) continue;
        if (isSplitPart(base) && !/-00001-of-\d{5}\.gguf$/.test(base)) continue;
        const full = path.join(root, name);
        const sizes = await Promise.all((splitPartFiles(full) ?? [full]).map((part) => fs.stat(part).catch(() => undefined)));
        if (sizes.every((stat) => stat?.isFile() && stat.size > 0))
            files.push({ path: full, sizeBytes: sizes.reduce((sum, stat) => sum + (stat?.size ?? 0), 0) });
    }
    return files;
}
