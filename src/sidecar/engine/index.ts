/**
 * Builds the local inference engine from the sidecar context, so services.ts (and the CLI)
 * wire it in one call: the GPU mode, load overrides and idle timeout come from the settings,
 * models from the registry, and `auto` values from hardware/autoConfig when given.
 */
import type { LoadConfig } from '../../common/hardware';
import { ErrorCode, LocalAiError } from '../../common/errors';
import type { SidecarSettings } from '../../common/settings';
import type { SidecarContext } from '../context';
import type { HardwareService } from '../hardware';
import { resolveLoadConfig } from '../hardware/autoConfig';
import { fitContextSize, type MemoryBudget } from '../hardware/memoryModel';
import type { ModelRegistry } from '../models/registry';
import { InferenceEngine } from './engine';
import { LlamaRuntime } from './llama';
import { pathOnlyResolver, type LoadConfigResolver, type ModelResolver } from './modelHost';

export { InferenceEngine } from './engine';
export { LlamaRuntime } from './llama';
export type { LoadConfigResolver, ModelResolver, ModelSource } from './modelHost';

export interface CreateInferenceEngineOptions {
    context: SidecarContext;
    /** The process's one Llama when the services already made it. Default: a new one, disposed with the engine. */
    runtime?: LlamaRuntime;
    /** Default: absolute paths to .gguf files only (see {@link registryModelResolver}). */
    resolveModel?: ModelResolver;
    /** Default: the engine's safe fallback; pass hardware/autoConfig's `resolveLoadConfig` with the report bound. */
    resolveLoadConfig?: LoadConfigResolver;
    /** Conversations evaluated in parallel before requests queue. Default: 2. */
    sequences?: number;
    /** What a load may use; pass the hardware service's, so loads are judged as the fit badges are. Default: the engine's own reading. */
    memoryBudget?: () => Promise<MemoryBudget>;
}

export interface LocalEngine {
    engine: InferenceEngine;
    /** The process's one Llama (shared with hardware detection and fit estimates). */
    runtime: LlamaRuntime;
    /** Idempotent: unloads the model, then disposes the Llama if this call created it. */
    dispose(): Promise<void>;
}

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
        if (model && model.endsWith('.gguf') && (model.startsWith('/') || /^[a-zA-Z]:[\\/]/.test(model))) return pathOnlyResolver(model);
        const name = model ?? (await registry.list()).activeModelId;
        if (!name) {
            throw new LocalAiError(ErrorCode.ModelNotFound, 'No model is active yet.', { hint: 'Download a model, or choose one in the Models view.' });
        }
        const installed = await registry.resolveInstalled(name);
        const user = context.settings.userModels.find(u => u.source === name || u.source === installed.path || u.name === installed.entry.name);
        return {
            modelId: installed.entry.id,
            name: installed.entry.name,
            path: installed.path,
            quant: installed.file.quant,
            loras: user?.lora ? [{ path: user.lora, scale: user.loraScale }] : undefined,
            fitContextSize: fitContextSize(installed.entry),
        };
    };
}

export function createInferenceEngine(options: CreateInferenceEngineOptions): LocalEngine {
    const { context } = options;
    const runtime = options.runtime ?? new LlamaRuntime({ log: context.log, gpu: context.settings.gpu });
    const engine = new InferenceEngine({
        runtime,
        log: context.log,
        resolveModel: options.resolveModel,
        resolveLoadConfig: options.resolveLoadConfig,
        sequences: options.sequences,
        memoryBudget: options.memoryBudget,
        settingsOverrides: () => settingsLoadOverrides(context.settings),
        idleUnloadMs: () => context.settings.idleUnloadMinutes * 60_000,
        onDidChange: loaded => context.status.setActiveModel(loaded && {
            modelId: loaded.modelId,
            name: loaded.name,
            quant: loaded.quant,
            device: loaded.device,
            contextSize: loaded.config.contextSize,
        }),
    });
    // A new GPU mode needs a new Llama, and the model must be freed before the old one goes.
    const onSettings = (settings: SidecarSettings) => {
        if (runtime.setGpuMode(settings.gpu)) {
            context.log.info(`GPU mode is now ${settings.gpu}; it applies to the next model load.`);
            void engine.unload().then(() => runtime.dispose());
        }
    };
    context.on('settings', onSettings);
    let disposed: Promise<void> | undefined;
    return {
        engine,
        runtime,
        dispose: () => {
            disposed ??= (async () => {
                context.off('settings', onSettings);
                await engine.dispose();
                if (!options.runtime) await runtime.dispose();
            })();
            return disposed;
        },
    };
}

/**
 * The engine as the sidecar and the CLI wire it: the services' Llama, models from the registry,
 * `auto` values from hardware/autoConfig with the hardware report, and the hardware service's memory
 * budget, so a load is judged by the same numbers as the model's fit badge.
 */
export function createLocalEngine(services: {
    context: SidecarContext;
    llama: LlamaRuntime;
    hardware: HardwareService;
    models: { registry: ModelRegistry };
}, options: { sequences?: number } = {}): LocalEngine {
    return createInferenceEngine({
        context: services.context,
        runtime: services.llama,
        resolveModel: registryModelResolver(services.models.registry, services.context),
        resolveLoadConfig: async config => resolveLoadConfig({ ...config, hardware: await services.hardware.report() }),
        memoryBudget: () => services.hardware.memoryBudget(),
        sequences: options.sequences,
    });
}
