/**
 * Builds the sidecar's services once, in dependency order, for the language server and the CLI alike:
 * hardware → model registry and downloads → engine → chat router (local first, then the fallback policy).
 */
import type { SidecarContext } from './context';
import { createLocalEngine, type LocalEngine } from './local/index';
import { LlamaRuntime } from './llama/runtime';
import { HardwareService } from './hardware';
import { createModelServices, type ModelServices } from './models';
import { ChatRouter } from './chat/router';
import { GpuService } from './gpu';
import { configureGpuResolver } from './llama/backendResolver';
import { createCompletionEngine, type LocalCompletionEngine } from './completion/index';

export interface Services {
    context: SidecarContext;
    /** The process's one node-llama-cpp `Llama`, shared by hardware detection and the engine. */
    llama: LlamaRuntime;
    hardware: HardwareService;
    /** Catalog, store, downloads and the registry that merges them (src/sidecar/models). */
    models: ModelServices;
    /** The local llama.cpp engine (src/sidecar/local): loads models and answers on this machine. */
    local: LocalEngine;
    /** Every chat goes through it: the local engine first, then the fallback policy (src/sidecar/chat/router.ts). */
    chat: ChatRouter;
    /** GPU backends fetched on demand (src/sidecar/gpu): the offer, enable, disable, status. */
    gpu: GpuService;
    /** Code completion (src/sidecar/completion): fill-in-the-middle on the completion model. */
    completion: LocalCompletionEngine;
}

export function createServices(context: SidecarContext): Services {
    // The GPU service needs the runtime's state and the hardware report, which in turn reports the service's part.
    let hardware: HardwareService | undefined;
    const gpu: GpuService = new GpuService({
        context,
        hardware: () => (hardware as HardwareService).report(),
        runtime: { active: () => llama.activeBackend, loadFailure: () => llama.loadFailure },
    });
    // Before anything imports node-llama-cpp: its `@node-llama-cpp/*` imports may come from the backends folder.
    configureGpuResolver({
        versionFolder: gpu.folder.versionFolder,
        target: gpu.target,
        onUnavailable: (reason) => context.log.debug(`GPU backends: ${reason}; only the bundled builds can load.`),
    });
    const llama: LlamaRuntime = new LlamaRuntime({
        log: context.log,
        gpu: context.settings.gpu,
        fetchedBackends: async () => (await gpu.folder.installed()).map((each) => each.backend),
    });
    hardware = new HardwareService({ context, llama: () => llama.get(), gpuBackends: () => gpu.report() });
    const models = createModelServices(context, { hardware: () => hardware });
    // Fit badges and the recommendation appear once hardware detection (started by the first list) ends.
    hardware.on('changed', () => models.registry.invalidate());
    const local = createLocalEngine({ context, llama, hardware, models });
    const chat = new ChatRouter({
        context,
        local,
        isDownloading: (model) => (model ? models.downloads.isDownloading(model) : models.downloads.active().length > 0),
    });
    const completion = createCompletionEngine({ context, llama, hardware, models });
    return { context, llama, hardware, models, local, chat, gpu, completion };
}

/** Frees what the services hold (models in memory, running downloads); idempotent. */
export async function disposeServices(services: Services): Promise<void> {
    await services.completion.dispose();
    await services.local.dispose();
    await services.models.dispose();
    services.hardware.dispose();
    // Last: every model created from the Llama must be freed before it.
    await services.llama.dispose();
}
