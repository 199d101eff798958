/** The models domain, built once per sidecar or CLI run: store → hub → downloads → registry → maintenance. */
import type { SidecarContext } from '../context';
import type { DiscoveryFolders } from './discovery';
import { DownloadManager, type DownloadManagerOptions } from './download';
import { HubClient } from './hub';
import type { HubLimits } from './hubHttp';
import { ModelMaintenance } from './maintenance';
import { ModelRegistry, type FitAdvisor } from './registry';
import { ModelStore } from './store';
import { UserModelResolver } from './userModels';

export interface ModelServices {
    store: ModelStore;
    hub: HubClient;
    downloads: DownloadManager;
    registry: ModelRegistry;
    maintenance: ModelMaintenance;
    dispose(): Promise<void>;
}

export interface ModelServicesOptions {
    /** The hardware service, read lazily (it may be built after the models). Default: none (no fit badges). */
    hardware?: () => FitAdvisor | undefined;
    /** Where to look for GGUF files already on disk. Default: the HF cache, LM Studio, localAi.extraModelFolders. */
    discoveryFolders?: () => DiscoveryFolders;
    /** Download tuning for tests and benchmarks. Default: the DownloadManager defaults. */
    downloads?: Omit<DownloadManagerOptions, 'context' | 'store' | 'hub'>;
    /** Hub timeouts and caps for tests. Default: DEFAULT_HUB_LIMITS. */
    hub?: Partial<HubLimits>;
}

export function createModelServices(context: SidecarContext, options: ModelServicesOptions = {}): ModelServices {
    const store = new ModelStore(
        () => context.modelsPath,
        (message) => context.log.warn(message),
    );
    const hub = new HubClient(context, options.hub);
    const downloads = new DownloadManager({ context, store, hub, ...options.downloads });
    const userModels = new UserModelResolver(hub, store);
    const registry = new ModelRegistry({ context, store, downloads, userModels, hardware: options.hardware, discoveryFolders: options.discoveryFolders });
    const maintenance = new ModelMaintenance({ store, downloads, registry, hub });
    let disposed = false;
    return {
        store,
        hub,
        downloads,
        registry,
        maintenance,
        async dispose() {
            if (disposed) return;
            disposed = true;
            registry.dispose();
            await downloads.dispose();
        },
    };
}
