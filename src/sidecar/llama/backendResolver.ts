/**
 * Registers the GPU backends' resolve hook (gpu/resolveHook.ts, emitted as dist/gpuResolveHook.mjs) once per
 * process, before node-llama-cpp is first imported (importNodeLlamaCpp in runtime.ts calls it), and remembers
 * which `@node-llama-cpp/*` imports it answered from the backends folder, for gpu/status and the hardware report.
 * It lives here, beside the one import of node-llama-cpp, so that llama/ needs nothing from gpu/.
 */
import * as fs from 'node:fs';
import { register } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';

/** The file an installed backend folder holds; written before the folder's atomic rename, so its presence means complete. */
export const BACKEND_MARKER = 'local-ai-backend.json';

/** What the hook is initialized with. */
export interface GpuResolveHookData {
    /** `<backendsPath>/<node-llama-cpp version>`. */
    versionFolder: string;
    /** `linux-x64`: only this target's packages are redirected. */
    target: string;
    /** The marker file an installed backend folder holds. */
    marker: string;
    /** Told `{ specifier, folder }` for each redirect, so the sidecar can report where its backend came from. */
    port: MessagePort;
}

export interface GpuResolverOptions {
    /** `<backendsPath>/<node-llama-cpp version>`. */
    versionFolder: string;
    /** `linux-x64`. */
    target: string;
    /** Told when the hook cannot be registered (a build without the hook file). */
    onUnavailable?: (reason: string) => void;
}

let configured: GpuResolverOptions | undefined;
let registered = false;
const resolutions: { specifier: string; folder: string }[] = [];

/** Where the hook will look; called once when the services are built, before anything imports node-llama-cpp. */
export function configureGpuResolver(options: GpuResolverOptions): void {
    configured = options;
}

/** Registers the hook if it is configured and not yet registered. Idempotent; never throws. */
export function registerGpuResolver(): void {
    if (registered || !configured) return;
    registered = true;
    // esbuild emits the hook next to sidecar.mjs and cli.mjs; test bundles elsewhere have none and run without it.
    const hook = new URL('./gpuResolveHook.mjs', import.meta.url);
    if (!fs.existsSync(fileURLToPath(hook))) {
        configured.onUnavailable?.(`the GPU backend resolver ${path.basename(fileURLToPath(hook))} is not part of this build`);
        return;
    }
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (message: { specifier: string; folder: string }) => resolutions.push(message));
    port1.unref();
    const data: GpuResolveHookData = { versionFolder: configured.versionFolder, target: configured.target, marker: BACKEND_MARKER, port: port2 };
    register(hook, { data, transferList: [port2] });
}

/** The `@node-llama-cpp/*` imports answered from the backends folder in this process, in order. */
export function gpuResolutions(): { specifier: string; folder: string }[] {
    return [...resolutions];
}
