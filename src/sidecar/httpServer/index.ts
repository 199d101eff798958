/**
 * The local server's engines, from the sidecar's services: the same local engine (so the same loaded
 * model and queue as the editor), the registry's resolver (so a request names a model as the editor
 * does, through the same fit check, never forced), and the installed models for /v1/models.
 */
import type { CompletionEngine } from '../completionEngine';
import type { SidecarContext } from '../context';
import { registryModelResolver, type LocalEngine } from '../local/index';
import type { ModelRegistry } from '../models/registry';
import type { ServerEngines } from './openAiRoutes';

export { LocalServer, type LocalServerOptions, type StartOutcome } from './localServer';
export { ServerHost } from './serverHost';
export type { ServerEngines } from './openAiRoutes';

export function createServerEngines(services: {
    context: SidecarContext;
    local: LocalEngine;
    models: { registry: ModelRegistry };
    completion?: CompletionEngine;
}): ServerEngines {
    const { registry } = services.models;
    return {
        local: services.local,
        resolveModel: registryModelResolver(registry, services.context),
        completion: services.completion,
        async listModels() {
            const ids: string[] = [];
            for (const entry of await registry.entries()) {
                const installed = entry.files.filter((file) => file.state === 'installed' && file.path);
                if (installed.length === 0) continue;
                ids.push(entry.id, ...installed.map((file) => file.path as string));
            }
            return ids;
        },
    };
}
