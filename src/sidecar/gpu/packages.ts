/**
 * Which npm packages hold a GPU build of llama.cpp for a platform, at the node-llama-cpp version this build
 * bundles. node-llama-cpp imports them by name (dist/bindings/utils/compileLLamaCpp.js,
 * getPrebuiltBinariesPackageDirectoryForBuildOptions): `@node-llama-cpp/<platform>-<arch>-<backend>`, and for
 * CUDA also `…-cuda-ext`, the companion with the CUDA runtime libraries that a machine with only the driver lacks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FetchableGpuBackend } from '../../common/hardware';

/** node-llama-cpp's platform names (its getPlatform()): `linux`, `mac`, `win`. */
export function nodeLlamaCppPlatform(platform: string): string {
    if (platform === 'darwin') return 'mac';
    if (platform === 'win32') return 'win';
    return platform;
}

/** `linux-x64`, `win-x64`, `mac-arm64`: the prefix of node-llama-cpp's package names for a Node platform and arch. */
export function targetOf(platform: string, arch: string): string {
    return `${nodeLlamaCppPlatform(platform)}-${arch}`;
}

/**
 * The GPU packages node-llama-cpp 3.21 publishes per target (linux-arm64 has no GPU build; macOS carries Metal in
 * its own build, so nothing is fetched there).
 */
const FETCHABLE: Record<string, Record<FetchableGpuBackend, string[]> | undefined> = {
    'linux-x64': { cuda: ['linux-x64-cuda', 'linux-x64-cuda-ext'], vulkan: ['linux-x64-vulkan'] },
    'win-x64': { cuda: ['win-x64-cuda', 'win-x64-cuda-ext'], vulkan: ['win-x64-vulkan'] },
};

/** The backends that can be fetched for a target, best first. */
export function fetchableBackends(target: string): FetchableGpuBackend[] {
    const table = FETCHABLE[target];
    return table ? (['cuda', 'vulkan'] as const).filter((backend) => table[backend].length > 0) : [];
}

/** The package names (`@node-llama-cpp/…`) a backend needs on a target; empty when it cannot be fetched there. */
export function packagesFor(target: string, backend: FetchableGpuBackend): string[] {
    return (FETCHABLE[target]?.[backend] ?? []).map((name) => `@node-llama-cpp/${name}`);
}

/** Why nothing can be fetched for a target, in plain words; undefined when something can. */
export function nothingToFetchReason(target: string): string | undefined {
    if (fetchableBackends(target).length > 0) return undefined;
    if (target === 'mac-arm64') return 'Metal is built into the macOS build of llama.cpp that ships with Local AI; there is nothing to fetch.';
    if (target.startsWith('mac-')) return 'Intel Macs run llama.cpp on the CPU (node-llama-cpp has no GPU build for them); there is nothing to fetch.';
    return `node-llama-cpp publishes no GPU build of llama.cpp for ${target}; llama.cpp runs on the CPU.`;
}

let bundledVersion: string | undefined;

/** The version of the node-llama-cpp this process runs, read from its own package.json (the binaries must match it exactly). */
export function nodeLlamaCppVersion(): string {
    if (bundledVersion) return bundledVersion;
    let folder = path.dirname(fileURLToPath(import.meta.resolve('node-llama-cpp')));
    for (;;) {
        const file = path.join(folder, 'package.json');
        if (fs.existsSync(file)) {
            const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
            if (manifest.name === 'node-llama-cpp' && typeof manifest.version === 'string') {
                bundledVersion = manifest.version;
                return manifest.version;
            }
        }
        const parent = path.dirname(folder);
        if (parent === folder) throw new Error('node-llama-cpp has no package.json with its version.');
        folder = parent;
    }
}
