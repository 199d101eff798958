/**
 * The module resolve hook (node:module register(), Node ≥ 20.6) that lets node-llama-cpp find a GPU backend
 * fetched on demand. node-llama-cpp imports its prebuilt binaries by bare specifier (`@node-llama-cpp/linux-x64-cuda`),
 * which Node looks up in the node_modules folders above node-llama-cpp, i.e. inside the extension. That folder
 * is read-only for us in spirit (signed, and replaced wholesale on each update), and NODE_PATH does not apply to
 * ES modules, so the fetched packages live in the backends folder and this hook answers those specifiers from there.
 *
 * It runs on Node's loader thread and must stay a file of its own (esbuild emits it as dist/gpuResolveHook.mjs).
 * Only `@node-llama-cpp/<target>-<backend>` is redirected, only to an installed backend (one with its marker file,
 * written before the atomic rename), so the CPU build that ships always resolves as before.
 */
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { GpuResolveHookData } from '../llama/backendResolver';

type ResolveContext = { parentURL?: string; conditions: string[]; importAttributes?: Record<string, string> };
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<{ url: string; format?: string | null; shortCircuit?: boolean }>;

let data: GpuResolveHookData | undefined;

export async function initialize(options: GpuResolveHookData): Promise<void> {
    data = options;
}

/** The installed backend folder that holds the package, if any. Folders are read at each resolve: an install needs no new hook. */
function folderFor(specifier: string): string | undefined {
    if (!data) return undefined;
    const name = specifier.slice('@node-llama-cpp/'.length);
    if (!/^[a-z0-9-]+$/.test(name) || !name.startsWith(`${data.target}-`)) return undefined;
    let entries: string[];
    try {
        entries = readdirSync(data.versionFolder).sort();
    } catch {
        return undefined;
    }
    for (const entry of entries) {
        if (!entry.startsWith(`${data.target}-`)) continue;
        const folder = path.join(data.versionFolder, entry);
        if (existsSync(path.join(folder, data.marker)) && existsSync(path.join(folder, 'node_modules', '@node-llama-cpp', name, 'package.json'))) {
            return folder;
        }
    }
    return undefined;
}

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve) {
    const folder = specifier.startsWith('@node-llama-cpp/') ? folderFor(specifier) : undefined;
    if (!folder || !data) return nextResolve(specifier, context);
    // Resolved as if imported from a file in the backend folder: Node's own lookup, `exports` included.
    const resolved = await nextResolve(specifier, { ...context, parentURL: pathToFileURL(path.join(folder, 'index.js')).href });
    data.port.postMessage({ specifier, folder });
    return resolved;
}
