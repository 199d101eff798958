/**
 * Builds the sidecar's services once, in dependency order, for the language server and the CLI alike:
 * hardware → model registry and downloads → engine → chat router (local first, then the fallback policy).
 */
import { SidecarContext } from './context';
import { LlamaRuntime } from './engine/llama';
import { HardwareService } from './hardware';
import { createModelServices, type ModelServices } from './models';

export interface Services {
    context: SidecarContext;
    /** The process's one node-llama-cpp `Llama`, shared by hardware detection and the engine. */
    llama: LlamaRuntime;
    hardware: HardwareService;
    /** Catalog, store, downloads and the registry that merges them (src/sidecar/models). */
    models: ModelServices;
}

export function createServices(context: SidecarContext): Services {
    const llama = new LlamaRuntime({ log: context.log, gpu: context.settings.gpu });
    const hardware = new HardwareService({ context, llama: () => llama.get() });
    const models = createModelServices(context, { hardware: () => hardware });
    // Fit badges and the recommendation appear once hardware detection (started by the first list) ends.
    hardware.on('changed', () => models.registry.emit('changed'));
    return { context, llama, hardware, models };
}

/** Frees what the services hold (models in memory, running downloads); idempotent. */
export async function disposeServices(services: Services): Promise<void> {
    await services.models.dispose();
    services.hardware.dispose();
    // Last: every model created from the Llama must be freed before it.
    await services.llama.dispose();
}
