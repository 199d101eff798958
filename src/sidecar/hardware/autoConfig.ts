/**
 * Turns every `auto` knob of a load (threads, GPU layers, context size, batch size, flash attention)
 * into a number for this machine and this model file, so users never have to know what they are.
 * Explicit values (settings, catalog presets) always win; `notes` says why each value was chosen.
 */
import type { Llama } from 'node-llama-cpp';
import type { HardwareReport, LoadConfig, ResolvedLoadConfig } from '../../common/hardware';
import {
    DEFAULT_BATCH_SIZE,
    DEFAULT_FIT_CONTEXT,
    DEFAULT_SEQUENCES,
    fitsBudget,
    largestContext,
    memoryBudget,
    memoryFromGguf,
    memoryNeeds,
    MIN_USEFUL_CONTEXT,
    planLoad,
    type MemoryBudget,
    type ModelMemory,
} from '../llama/memoryModel';
import { threadsForCores } from '../llama/threads';

/**
 * `auto` never asks for more context than this, even when the model was trained on more and memory
 * allows it: a 128k-token cache takes long to allocate and chats rarely fill it. An explicit number
 * in the settings or the catalog preset lifts the cap.
 */
export const AUTO_CONTEXT_CAP = 16384;

/** The trained context assumed when a file does not say. */
const UNKNOWN_TRAIN_CONTEXT = MIN_USEFUL_CONTEXT;

/**
 * Threads for generation: one per physical (math) core, never more. Hyper-threads and node-llama-cpp's
 * own default oversubscribe small machines: on 2 cores its 4 threads made 100 tokens take ~23 s
 * instead of ~0.05 s with 1–2 threads.
 * When those threads would take every hardware thread of the machine, one is left for the sidecar's
 * event loop and the editor: llama.cpp's threads wait for each other at every step, so one of them
 * pre-empted stalls them all. Measured on a 2-core, 2-thread VM (~100 MB model): 1 thread 134 tokens/s,
 * 2 threads 48 tokens/s.
 */
export function autoThreads(hardware: HardwareReport): number {
    return threadsForCores(hardware.cpu);
}

export interface ResolveLoadConfigOptions {
    /** The GGUF file to load; only its header is read, and only when `memory` is not given. */
    modelPath: string;
    /** The file's memory model, when the caller has read it already. */
    memory?: ModelMemory;
    /** The machine, as `HardwareService.report()` describes it. */
    hardware: HardwareReport;
    /** Values that are not `auto` (settings, catalog presets, the request) are used as given. */
    overrides: Partial<LoadConfig>;
    /** The process's one `Llama`; when it runs on the CPU, no layer is offloaded. */
    llama: Llama;
    /** What the load may use. Default: `memoryBudget(hardware)`, as the fit badges judge. */
    budget?: MemoryBudget;
    /** Sequences the context is created with. Default: {@link DEFAULT_SEQUENCES}. */
    sequences?: number;
    /** More sequences, up to this many, where memory allows them at the chosen context. Default: `sequences`. */
    maxSequences?: number;
    /** The context the model's fit badge is judged at (see `planLoad`). Default: {@link DEFAULT_FIT_CONTEXT}. */
    fitContextSize?: number;
}

export async function resolveLoadConfig(options: ResolveLoadConfigOptions): Promise<ResolvedLoadConfig> {
    const { modelPath, hardware, llama } = options;
    return planLoadConfig({
        ...options,
        memory: options.memory ?? (await memoryFromGguf({ path: modelPath }, { llama })),
        budget: options.budget ?? memoryBudget(hardware),
        // An injected profile or a backend that failed to start can describe a GPU this process cannot use.
        gpuOffload: llama.gpu !== false && llama.supportsGpuOffloading,
    });
}

export interface PlanLoadConfigOptions {
    memory: ModelMemory;
    hardware: HardwareReport;
    overrides: Partial<LoadConfig>;
    budget: MemoryBudget;
    /** Default: {@link DEFAULT_SEQUENCES}. */
    sequences?: number;
    /** See {@link ResolveLoadConfigOptions.maxSequences}. */
    maxSequences?: number;
    /** Default: {@link DEFAULT_FIT_CONTEXT}. */
    fitContextSize?: number;
    /** Whether this process's llama.cpp can put layers on a GPU at all. */
    gpuOffload: boolean;
}

/**
 * The configuration from the memory model alone (no I/O): `auto` GPU layers are the fit badge's
 * (`planLoad` at the badge's context); an `auto` context is then the largest the budget allows with those
 * layers, never below the badge's.
 */
export function planLoadConfig(options: PlanLoadConfigOptions): ResolvedLoadConfig {
    const { memory, hardware, overrides, budget, gpuOffload } = options;
    const sequences = options.sequences ?? DEFAULT_SEQUENCES;
    const notes: string[] = [];
    const totalLayers = memory.totalLayers;
    const trainContext = memory.trainContextSize ?? UNKNOWN_TRAIN_CONTEXT;

    const threads = resolveThreads(overrides.threads, hardware, notes);
    const requestedBatch = typeof overrides.batchSize === 'number' ? Math.max(1, Math.floor(overrides.batchSize)) : undefined;
    const batchFor = (contextSize: number) => requestedBatch ?? Math.min(DEFAULT_BATCH_SIZE, contextSize);
    const explicitContext = typeof overrides.contextSize === 'number' ? Math.max(1, Math.min(Math.floor(overrides.contextSize), trainContext)) : undefined;
    const target = explicitContext ?? Math.min(options.fitContextSize ?? DEFAULT_FIT_CONTEXT, trainContext);

    let gpuLayers: number;
    if (overrides.gpu === 'off' || !gpuOffload) {
        gpuLayers = 0;
        notes.push(`GPU layers 0: ${overrides.gpu === 'off' ? 'the GPU is turned off in the settings' : 'llama.cpp runs on the CPU here'}.`);
    } else if (typeof overrides.gpuLayers === 'number') {
        gpuLayers = Math.max(0, Math.min(totalLayers, Math.floor(overrides.gpuLayers)));
        notes.push(`GPU layers ${gpuLayers} of ${totalLayers}: set in the settings.`);
    } else if (overrides.gpuLayers === 'max') {
        gpuLayers = totalLayers;
        notes.push(`GPU layers ${gpuLayers}: all of them, as the settings ask.`);
    } else {
        const plan = planLoad(memory, budget, {
            contextSize: target,
            sequences,
            batchSize: requestedBatch,
            flashAttention: overrides.flashAttention ?? 'auto',
        });
        gpuLayers = plan.gpuLayers;
        notes.push(
            plan.fit === 'gpu' || plan.fit === 'partial'
                ? `GPU layers ${gpuLayers} of ${totalLayers}: as many as the free VRAM holds with room for a ${plan.contextSize}-token context.`
                : `GPU layers 0 of ${totalLayers}: ${budget.vramBytes > 0 ? 'not even one fits the free VRAM next to the rest in RAM' : 'no usable GPU'}.`,
        );
    }

    const flashAttention = resolveFlashAttention(overrides.flashAttention, {
        supported: memory.flashAttentionSupported,
        onGpu: gpuLayers > 0,
        notes,
    });

    const fitsWith = (contextSize: number, count: number) =>
        fitsBudget(memoryNeeds(memory, { contextSize, gpuLayers, sequences: count, batchSize: batchFor(contextSize), flashAttention }), budget);
    const fits = (contextSize: number) => fitsWith(contextSize, sequences);
    let contextSize: number;
    if (explicitContext !== undefined) {
        contextSize = explicitContext;
        notes.push(
            explicitContext < (overrides.contextSize as number)
                ? `Context ${contextSize} tokens: the setting asks for ${overrides.contextSize}, but the model was trained on ${trainContext}.`
                : `Context ${contextSize} tokens: set in the settings.`,
        );
    } else {
        // From the badge's context up to the cap when it fits there, else the largest smaller one (as planLoad judges).
        const max = Math.max(target, Math.min(trainContext, AUTO_CONTEXT_CAP));
        const fitting = largestContext(target, max, fits) ?? largestContext(Math.min(MIN_USEFUL_CONTEXT, target), target, fits);
        contextSize = fitting ?? target;
        notes.push(
            fitting === undefined
                ? `Context ${contextSize} tokens: the free memory is short even for ${Math.min(MIN_USEFUL_CONTEXT, target)} tokens; the load is refused unless forced.`
                : `Context ${contextSize} tokens: the largest that fits the free memory, up to ${max} (trained on ${trainContext}).`,
        );
    }

    // The context comes first; more conversations keep their cache only in the memory it leaves.
    let parallel = sequences;
    while (parallel < (options.maxSequences ?? sequences) && fitsWith(contextSize, parallel + 1)) parallel++;
    if (parallel > sequences) notes.push(`${parallel} conversations kept in parallel: the free memory holds a ${contextSize}-token cache for each.`);

    const batchSize = batchFor(contextSize);
    notes.push(requestedBatch ? `Batch ${batchSize}: set in the settings.` : `Batch ${batchSize}: llama.cpp's usual batch, within the context.`);

    return { gpuLayers, contextSize, threads, batchSize, flashAttention, sequences: parallel, notes };
}

function resolveThreads(value: LoadConfig['threads'] | undefined, hardware: HardwareReport, notes: string[]): number {
    if (typeof value === 'number' && value > 0) {
        const threads = Math.floor(value);
        const physical = hardware.cpu.physicalCores || hardware.cpu.logicalCores;
        notes.push(
            threads > physical
                ? `Threads ${threads}: set in the settings, more than the ${physical} physical cores (generation will likely be slower).`
                : `Threads ${threads}: set in the settings.`,
        );
        return threads;
    }
    const threads = autoThreads(hardware);
    notes.push(
        `Threads ${threads}: one per physical core, one left free when that would take every hardware thread (${hardware.cpu.physicalCores} physical, ${hardware.cpu.logicalCores} logical).`,
    );
    return threads;
}

function resolveFlashAttention(value: LoadConfig['flashAttention'] | undefined, facts: { supported: boolean; onGpu: boolean; notes: string[] }): boolean {
    if (typeof value === 'boolean') {
        const enabled = value && facts.supported;
        facts.notes.push(
            value && !facts.supported
                ? 'Flash attention off: the settings ask for it, but this model does not support it.'
                : `Flash attention ${enabled ? 'on' : 'off'}: set in the settings.`,
        );
        return enabled;
    }
    // On the GPU it saves VRAM and time; on the CPU llama.cpp gains little from it.
    const enabled = facts.supported && facts.onGpu;
    facts.notes.push(
        `Flash attention ${enabled ? 'on' : 'off'}: ${facts.supported ? (facts.onGpu ? 'supported and the model runs on the GPU' : 'the model runs on the CPU') : 'the model does not support it'}.`,
    );
    return enabled;
}
