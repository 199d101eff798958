/**
 * The one factory of the local engine, as the sidecar and the CLI wire it: the services' Llama,
 * models from the registry, `auto` values from hardware/autoConfig with the hardware report, the
 * hardware service's memory budget (so a load is judged by the same numbers as the model's fit
 * badge), and the load overrides and idle timeout from the settings.
 */
import type { LoadConfig } from '../../common/hardware';
import { ErrorCode, LocalAiError } from '../../common/errors';
import type { SidecarSettings } from '../../common/settings';
import type { SidecarContext } from '../context';
import type { HardwareService } from '../hardware';
import { resolveLoadConfig } from '../hardware/autoConfig';
import { fitContextSize } from '../llama/memoryModel';
import type { LlamaRuntime } from '../llama/runtime';
import type { InstalledModel, ModelRegistry } from '../models/registry';
import { LocalEngine } from './localEngine';
import { pathOnlyResolver, type ModelResolver, type ModelSource } from './modelHost';

export { LocalEngine } from './localEngine';
export type { LoadConfigResolver, ModelResolver, ModelSource } from './modelHost';

/** The settings that override `auto` load values (the request's own config wins over these). */
export function settingsLoadOverrides(settings: SidecarSettings): Partial<LoadConfig> {
    const overrides: Partial<LoadConfig> = { gpu: settings.gpu };
    if (settings.gpuLayers !== 'auto') overrides.gpuLayers = settings.gpuLayers;
    if (settings.threads !== 'auto') overrides.threads = settings.threads;
    if (settings.contextSize !== 'auto') overrides.contextSize = settings.contextSize;
    return overrides;
}

/** Resolves ids, hub URIs and paths through the model registry; no model means the active one. */
export function registryModelResolver(registry: ModelRegistry, context: SidecarContext): ModelResolver {
    return async (model) => {
        if (model?.endsWith('.gguf') && (model.startsWith('/') || /^[a-zA-Z]:[\\/]/.test(model))) return pathOnlyResolver(model);
        const active = model ? undefined : await registry.list();
        const name = model ?? active?.activeModelId;
        if (!name) {
            throw new LocalAiError(ErrorCode.ModelNotFound, 'No model is active yet.', { hint: 'Download a model, or choose one in the Models view.' });
        }
        // The active model in the quantization the user picked, not its default file.
        return installedSource(await registry.resolveInstalled(name, active?.activeQuant), context, name);
    };
}

/** What the host loads for an installed file: its LoRA from the user's models, the context its fit badge assumes. */
export function installedSource(installed: InstalledModel, context: SidecarContext, name: string): ModelSource {
    const user = context.settings.userModels.find((u) => u.source === name || u.source === installed.path || u.name === installed.entry.name);
    return {
        modelId: installed.entry.id,
        name: installed.entry.name,
        path: installed.path,
        quant: installed.file.quant,
        loras: user?.lora ? [{ path: user.lora, scale: user.loraScale }] : undefined,
        fitContextSize: fitContextSize(installed.entry),
    };
}

export function createLocalEngine(
    services: {
        context: SidecarContext;
        llama: LlamaRuntime;
        hardware: HardwareService;
        models: { registry: ModelRegistry };
    },
    options: { sequences?: number } = {},
): LocalEngine {
    const { context } = services;
    const engine = new LocalEngine({
        runtime: services.llama,
        log: context.log,
        resolveModel: registryModelResolver(services.models.registry, context),
        resolveLoadConfig: async (config) => resolveLoadConfig({ ...config, hardware: await services.hardware.report() }),
        memoryBudget: () => services.hardware.memoryBudget(),
        sequences: options.sequences,
        settingsOverrides: () => settingsLoadOverrides(context.settings),
        idleUnloadMs: () => context.settings.idleUnloadMinutes * 60_000,
        onDidChange: (loaded) =>
            context.status.setActiveModel(
                loaded && {
                    modelId: loaded.modelId,
                    name: loaded.name,
                    quant: loaded.quant,
                    device: loaded.device,
                    contextSize: loaded.config.contextSize,
                    sequences: loaded.config.sequences,
                    chatTemplate: loaded.chatTemplate,
                },
            ),
    });
    engine.followGpuMode(context);
    return engine;
}
