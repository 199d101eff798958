/**
 * The one factory of code completion as the sidecar and the CLI wire it: the completion model in a ModelHost
 * of its own, loaded with the same `auto` configuration, memory budget and idle timeout as the chat model, a
 * context sized for a completion window, and its status following downloads and settings.
 */
import type { SidecarContext } from '../context';
import type { HardwareService } from '../hardware';
import { resolveLoadConfig } from '../hardware/autoConfig';
import type { LlamaRuntime } from '../llama/runtime';
import { settingsLoadOverrides } from '../local/index';
import { ModelHost } from '../local/modelHost';
import type { ModelRegistry } from '../models/registry';
import { LocalCompletionEngine } from './localCompletion';
import { CompletionModelChoice } from './modelChoice';

export { LocalCompletionEngine } from './localCompletion';

/** Tokens of context the completion model gets: a window of ~250 lines, extra chunks and the answer. */
export const COMPLETION_CONTEXT_SIZE = 4096;

export function createCompletionEngine(services: {
    context: SidecarContext;
    llama: LlamaRuntime;
    hardware: HardwareService;
    models: { registry: ModelRegistry };
}): LocalCompletionEngine {
    const { context, models } = services;
    const choice = new CompletionModelChoice(models.registry, context);
    const host = new ModelHost({
        runtime: services.llama,
        log: context.log,
        resolveModel: choice.resolve,
        resolveLoadConfig: async (config) => resolveLoadConfig({ ...config, hardware: await services.hardware.report() }),
        memoryBudget: () => services.hardware.memoryBudget(),
        // One request at a time: every keystroke cancels the one before.
        sequences: 1,
        settingsOverrides: () => ({ ...settingsLoadOverrides(context.settings), contextSize: COMPLETION_CONTEXT_SIZE }),
        idleUnloadMs: () => context.settings.idleUnloadMinutes * 60_000,
    });
    return new LocalCompletionEngine({
        host,
        log: context.log,
        describe: async (model) => {
            const source = await choice.resolve(model);
            return { id: source.modelId, name: source.name, quant: source.quant };
        },
        watchChoice: (refresh) => {
            models.registry.on('changed', refresh);
            context.on('settings', refresh);
            return () => {
                models.registry.off('changed', refresh);
                context.off('settings', refresh);
            };
        },
    });
}
