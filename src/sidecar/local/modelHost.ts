/**
 * Holds the loaded model: validates the file, refuses what will not fit (unless forced; judged by the
 * memory model the fit badges use, llama/memoryModel.ts), loads with the resolved configuration
 * (retrying on the CPU when the GPU fails), hands out context sequences fairly, unloads when idle,
 * and frees the old model before loading another.
 */
import * as path from 'node:path';
import type { ChatWrapper, Llama, LlamaContext, LlamaEmbeddingContext, LlamaModel } from 'node-llama-cpp';
import { ErrorCode, LocalAiError } from '../../common/errors';
import type { LoadConfig } from '../../common/hardware';
import type { LoadedModel } from '../../common/protocol';
import type { Logger } from '../context';
import {
    availableRamBytes,
    DEFAULT_SEQUENCES,
    MAX_AUTO_SEQUENCES,
    memoryFromInsights,
    memoryNeeds,
    type MemoryBudget,
    type MemoryNeeds,
} from '../llama/memoryModel';
import { chatWrapperFor } from '../llama/chatWrapper';
import { validateGgufFile } from '../llama/ggufValidator';
import { importNodeLlamaCpp, type LlamaRuntime } from '../llama/runtime';
import { createSwitchablePredictor } from './inputLookup';
import { SequencePool } from './sequencePool';
import { checkLoadFits, fallbackLoadConfig, pathOnlyResolver, type LoadConfigResolver, type ModelResolver, type ModelSource } from './loadPolicy';

export * from './loadPolicy';

export interface ModelHostOptions {
    runtime: LlamaRuntime;
    log: Logger;
    /** Default: accepts absolute paths to .gguf files only. */
    resolveModel?: ModelResolver;
    /** Default: {@link fallbackLoadConfig}. */
    resolveLoadConfig?: LoadConfigResolver;
    /** Overrides from the settings, read at each load. Default: none. */
    settingsOverrides?: () => Partial<LoadConfig>;
    /** Unload after this long without a request; 0 never. Default: 10 minutes. */
    idleUnloadMs?: number | (() => number);
    /** Conversations evaluated in parallel; more wait in a FIFO queue. Default: 2, or up to {@link MAX_AUTO_SEQUENCES} where memory allows (as the resolver says). */
    sequences?: number;
    /** Called when the loaded model changes (load, unload, idle unload). */
    onDidChange?: (loaded: LoadedModel | undefined) => void;
    /** What a load may use. Default: {@link availableRam} and the free VRAM llama.cpp reports. */
    memoryBudget?: (llama: Llama) => Promise<MemoryBudget>;
    /** RAM a load may use when no `memoryBudget` is given, in bytes. Default: what the OS reports available (MemAvailable on Linux). */
    availableRam?: () => number;
    /** The other model this process keeps loaded beside this one (completion beside chat): its memory comes out of this load's budget. Default: none. */
    neighbour?: ModelNeighbour;
}

/** A model loaded in the same process beside a host's own, judged by the same memory model. */
export interface ModelNeighbour {
    /** What it holds now (undefined when nothing is loaded). */
    held(): MemoryNeeds | undefined;
    /**
     * Frees it, for a load that fits only without it (chat makes the completion model give way to it).
     * Absent: this host gives way instead, and a load that does not fit beside it is refused (ModelDoesNotFit).
     */
    makeRoom?(forModel: string): Promise<void>;
}

export interface LoadOptions {
    model?: string;
    force?: boolean;
    config?: Partial<LoadConfig>;
    signal?: AbortSignal;
    /** 0..1 while the weights are read. */
    onProgress?: (progress: number) => void;
}

/** One loaded model and what generation needs from it. */
export interface LoadedState {
    readonly info: LoadedModel;
    readonly model: LlamaModel;
    readonly context: LlamaContext;
    readonly pool: SequencePool;
    readonly chatWrapper: ChatWrapper;
    /** Aborted when the model is unloaded, so running generations stop before it is freed. */
    readonly unloading: AbortSignal;
    /** Created on first use, at most 2048 tokens. */
    embeddingContext(): Promise<{ context: LlamaEmbeddingContext; contextSize: number }>;
}

export class ModelHost {
    private current: (LoadedState & { needs: MemoryNeeds; dispose(): Promise<void>; leases: number; drained?: () => void }) | undefined;
    private queue: Promise<unknown> = Promise.resolve();
    private idleTimer: NodeJS.Timeout | undefined;
    private disposed = false;
    private readonly options: ModelHostOptions;
    private readonly watchers = new Set<(loaded: LoadedModel | undefined) => void>();

    constructor(options: ModelHostOptions) {
        this.options = options;
    }

    get runtime(): LlamaRuntime {
        return this.options.runtime;
    }

    listLoaded(): LoadedModel[] {
        return this.current ? [this.current.info] : [];
    }

    /** What the loaded model holds by the memory model, or undefined when none is loaded. */
    held(): MemoryNeeds | undefined {
        return this.current?.needs;
    }

    /** Calls `listener` whenever the loaded model changes (load, unload, idle unload); returns the unsubscribe. */
    watch(listener: (loaded: LoadedModel | undefined) => void): () => void {
        this.watchers.add(listener);
        return () => this.watchers.delete(listener);
    }

    /** Loads a model (the active one when none is named); a no-op when it is already loaded with no new config. */
    load(options: LoadOptions = {}): Promise<LoadedModel> {
        return this.serialized(async () => (await this.ensureLoaded(options)).info);
    }

    /**
     * Runs `work` with the model loaded (loading it if needed); the model is not unloaded
     * (idle or switch) until `work` settles, except that a switch aborts `unloading` first.
     */
    async use<T>(model: string | undefined, work: (state: LoadedState) => Promise<T>, signal?: AbortSignal): Promise<T> {
        const state = await this.serialized(async () => {
            const loaded = await this.ensureLoaded({ model, signal, reuseAny: model === undefined });
            loaded.leases++;
            return loaded;
        });
        this.clearIdleTimer();
        try {
            return await work(state);
        } finally {
            state.leases--;
            if (state.leases === 0) state.drained?.();
            if (this.current === state) this.armIdleTimer();
        }
    }

    unload(model?: string): Promise<string[]> {
        return this.serialized(async () => {
            const current = this.current;
            if (!current || (model && model !== current.info.modelId && path.resolve(model) !== current.info.path)) return [];
            await this.unloadCurrent();
            return [current.info.modelId];
        });
    }

    /** Idempotent: unloads the model; the runtime (the Llama) is disposed by its owner. */
    async dispose(): Promise<void> {
        if (this.disposed) return;
        this.disposed = true;
        await this.serialized(() => this.unloadCurrent());
    }

    private serialized<T>(task: () => Promise<T>): Promise<T> {
        const run = this.queue.then(task, task);
        this.queue = run.catch(() => undefined);
        return run;
    }

    private async ensureLoaded(options: LoadOptions & { reuseAny?: boolean }): Promise<NonNullable<ModelHost['current']>> {
        if (this.disposed) throw new LocalAiError(ErrorCode.NoEngineAvailable, 'The local engine is shutting down.');
        if (options.reuseAny && this.current && !options.config) return this.current;
        const source = await (this.options.resolveModel ?? pathOnlyResolver)(options.model);
        if (this.current && this.current.info.modelId === source.modelId && !options.config) return this.current;
        await this.unloadCurrent();
        this.current = await this.loadFresh(source, options);
        this.armIdleTimer();
        this.options.onDidChange?.(this.current.info);
        for (const watcher of this.watchers) watcher(this.current.info);
        return this.current;
    }

    private async loadFresh(source: ModelSource, options: LoadOptions): Promise<NonNullable<ModelHost['current']>> {
        const started = performance.now();
        const ggufInfo = await validateGgufFile(source.path, options.signal);
        const llama = await this.options.runtime.get();
        const lib = await importNodeLlamaCpp();
        const memory = memoryFromInsights(await lib.GgufInsights.from(ggufInfo, llama));
        const machine = await (this.options.memoryBudget ?? ((l) => this.defaultBudget(l)))(llama);
        const overrides = { ...this.options.settingsOverrides?.(), ...options.config };
        const requested = this.options.sequences ?? DEFAULT_SEQUENCES;
        const plan = async (budget: MemoryBudget) => {
            const resolved = await (this.options.resolveLoadConfig ?? fallbackLoadConfig)({
                modelPath: source.path,
                memory,
                overrides,
                llama,
                budget,
                sequences: requested,
                maxSequences: this.options.sequences ?? MAX_AUTO_SEQUENCES,
                fitContextSize: source.fitContextSize,
            });
            const check = () =>
                // A llama.cpp without a GPU backend keeps every layer in RAM, whatever the configuration asks.
                checkLoadFits({
                    name: source.name,
                    file: source.path,
                    memory,
                    config: { ...resolved, gpuLayers: llama.gpu === false ? 0 : resolved.gpuLayers },
                    budget,
                    sequences: resolved.sequences ?? requested,
                });
            return { config: resolved, check };
        };
        const neighbour = this.options.neighbour;
        const beside = neighbour?.held();
        let { config, check } = await plan(beside ? withoutHeld(machine, beside) : machine);
        if (!options.force) {
            try {
                check();
            } catch (error) {
                if (!beside || !neighbour?.makeRoom || !(error instanceof LocalAiError) || error.code !== ErrorCode.ModelDoesNotFit) throw error;
                // It fits only alone: the neighbour gives way, once this load is known to fit without it.
                ({ config, check } = await plan(machine));
                check();
                await neighbour.makeRoom(source.name);
            }
        }
        const sequences = config.sequences ?? requested;

        let cpuFallbackReason: string | undefined;
        let gpuLayers = config.gpuLayers;
        const loadWith = (layers: number) =>
            llama.loadModel({
                modelPath: source.path,
                gpuLayers: layers,
                loadSignal: options.signal,
                onLoadProgress: options.onProgress,
                ignoreMemorySafetyChecks: options.force,
            });
        let model: LlamaModel;
        try {
            model = await loadWith(gpuLayers).catch(async (error: unknown) => {
                if (gpuLayers === 0 || options.signal?.aborted) throw error;
                cpuFallbackReason = `The GPU load failed (${error instanceof Error ? error.message : String(error)}); loaded on the CPU instead.`;
                this.options.log.warn(cpuFallbackReason);
                gpuLayers = 0;
                return loadWith(0);
            });
        } catch (error) {
            if (options.signal?.aborted) throw error;
            throw new LocalAiError(
                ErrorCode.LoadFailed,
                `llama.cpp could not load ${path.basename(source.path)}: ${error instanceof Error ? error.message : String(error)}`,
                { file: source.path },
            );
        }
        let context: LlamaContext;
        try {
            context = await model.createContext({
                contextSize: config.contextSize,
                threads: config.threads,
                batchSize: config.batchSize,
                flashAttention: config.flashAttention,
                sequences,
                ignoreMemorySafetyChecks: options.force,
                lora: source.loras?.length ? { adapters: source.loras.map((l) => ({ filePath: l.path, scale: l.scale })) } : undefined,
            });
        } catch (error) {
            await model.dispose();
            throw new LocalAiError(
                ErrorCode.LoadFailed,
                `Could not create a ${config.contextSize}-token context for ${source.name}: ${error instanceof Error ? error.message : String(error)}`,
                { file: source.path },
            );
        }

        const { wrapper: chatWrapper, template: chatTemplate } = chatWrapperFor(lib, model, this.options.log);
        const unloading = new AbortController();
        let embedding: Promise<LlamaEmbeddingContext> | undefined;
        const embeddingContextSize = Math.min(context.contextSize, 2048);
        const vram = llama.gpu === false ? 0 : (await llama.getVramState()).used;
        const info: LoadedModel = {
            modelId: source.modelId,
            name: source.name,
            path: source.path,
            quant: source.quant,
            device: gpuLayers > 0 && llama.gpu !== false ? 'GPU' : 'CPU',
            config: { ...config, gpuLayers, contextSize: context.contextSize, sequences: context.totalSequences },
            loadMs: Math.round(performance.now() - started),
            ramBytes: process.memoryUsage().rss,
            vramBytes: vram,
            cpuFallbackReason,
            chatTemplate,
        };
        this.options.log.info(`Loaded ${source.name} on the ${info.device} in ${info.loadMs} ms (${config.notes.join('; ')}).`);
        const state: NonNullable<ModelHost['current']> = {
            info,
            needs: memoryNeeds(memory, { ...config, gpuLayers, contextSize: context.contextSize, sequences: context.totalSequences }),
            model,
            context,
            pool: new SequencePool(context, { log: this.options.log, tokenPredictor: () => createSwitchablePredictor(lib) }),
            chatWrapper,
            unloading: unloading.signal,
            leases: 0,
            embeddingContext: async () => {
                embedding ??= model.createEmbeddingContext({ contextSize: embeddingContextSize, threads: config.threads });
                return { context: await embedding, contextSize: embeddingContextSize };
            },
            dispose: async () => {
                unloading.abort();
                if (state.leases > 0)
                    await new Promise<void>((resolve) => {
                        state.drained = resolve;
                    });
                state.pool.dispose();
                if (embedding) await (await embedding.catch(() => undefined))?.dispose();
                await context.dispose();
                await model.dispose();
            },
        };
        return state;
    }

    private async defaultBudget(llama: Llama): Promise<MemoryBudget> {
        const vram = llama.gpu === false ? undefined : await llama.getVramState();
        return {
            ramBytes: (this.options.availableRam ?? availableRamBytes)(),
            vramBytes: vram?.free ?? 0,
            unified: (vram?.unifiedSize ?? 0) > 0,
        };
    }

    private async unloadCurrent(): Promise<void> {
        const current = this.current;
        if (!current) return;
        this.current = undefined;
        this.clearIdleTimer();
        await current.dispose();
        this.options.log.info(`Unloaded ${current.info.name}.`);
        this.options.onDidChange?.(undefined);
        for (const watcher of this.watchers) watcher(undefined);
    }

    private armIdleTimer(): void {
        this.clearIdleTimer();
        const setting = this.options.idleUnloadMs ?? 10 * 60_000;
        const ms = typeof setting === 'function' ? setting() : setting;
        if (ms <= 0 || !this.current || this.current.leases > 0) return;
        this.idleTimer = setTimeout(() => {
            void this.serialized(async () => {
                if (this.current && this.current.leases === 0) await this.unloadCurrent();
            });
        }, ms);
        this.idleTimer.unref();
    }

    private clearIdleTimer(): void {
        if (this.idleTimer) clearTimeout(this.idleTimer);
        this.idleTimer = undefined;
    }
}

/** The machine's budget less what a neighbour holds (on unified memory all of it comes out of the RAM). */
function withoutHeld(budget: MemoryBudget, held: MemoryNeeds): MemoryBudget {
    const ram = budget.unified ? held.ramBytes + held.vramBytes : held.ramBytes;
    return { ...budget, ramBytes: Math.max(0, budget.ramBytes - ram), vramBytes: Math.max(0, budget.vramBytes - held.vramBytes) };
}
