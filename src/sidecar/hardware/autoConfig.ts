/**
 * Turns every `auto` knob of a load (threads, GPU layers, context size, batch size, flash attention)
 * into a number for this machine and this model file, so users never have to know what they are.
 * Explicit values (settings, catalog presets) always win; `notes` says why each value was chosen.
 */
import type { Llama } from 'node-llama-cpp';
import type { HardwareReport, LoadConfig, ResolvedLoadConfig } from '../../common/hardware';
import { importNodeLlamaCpp } from '../engine/llama';
import { threadsForCores } from './threads';

/**
 * `auto` never asks for more context than this, even when the model was trained on more and memory
 * allows it: a 128k-token cache takes long to allocate and chats rarely fill it. An explicit number
 * in the settings or the catalog preset lifts the cap.
 */
export const AUTO_CONTEXT_CAP = 16384;

/** Below this a chat with a system prompt and some code does not fit; used when memory is short. */
export const MIN_USEFUL_CONTEXT = 2048;

/** llama.cpp's usual logical batch; larger batches only speed up long prompts and cost memory. */
const DEFAULT_BATCH_SIZE = 512;

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
    /** The GGUF file to load; only its header is read. */
    modelPath: string;
    /** The machine, as `HardwareService.report()` describes it. */
    hardware: HardwareReport;
    /** Values that are not `auto` (settings, catalog presets, the request) are used as given. */
    overrides: Partial<LoadConfig>;
    /** The process's one `Llama`; its GPU and memory state decide the `auto` values. */
    llama: Llama;
}

export async function resolveLoadConfig(options: ResolveLoadConfigOptions): Promise<ResolvedLoadConfig> {
    const { modelPath, hardware, overrides, llama } = options;
    const { readGgufFileInfo, GgufInsights, InsufficientMemoryError } = await importNodeLlamaCpp();
    const info = await readGgufFileInfo(modelPath, { logWarnings: false });
    const insights = await GgufInsights.from(info, llama);
    const notes: string[] = [];
    const totalLayers = insights.totalLayers;
    const trainContext = insights.trainContextSize ?? MIN_USEFUL_CONTEXT;

    const threads = resolveThreads(overrides.threads, hardware, notes);

    const gpuOff = overrides.gpu === 'off' || llama.gpu === false || !llama.supportsGpuOffloading;
    let gpuLayers: number;
    if (gpuOff) {
        gpuLayers = 0;
        notes.push(`GPU layers 0: ${llama.gpu === false ? 'llama.cpp runs on the CPU here' : 'the GPU is turned off in the settings'}.`);
    } else if (typeof overrides.gpuLayers === 'number') {
        gpuLayers = Math.max(0, Math.min(totalLayers, Math.floor(overrides.gpuLayers)));
        notes.push(`GPU layers ${gpuLayers} of ${totalLayers}: set in the settings.`);
    } else if (overrides.gpuLayers === 'max') {
        gpuLayers = totalLayers;
        notes.push(`GPU layers ${gpuLayers}: all of them, as the settings ask.`);
    } else {
        const resolved = await insights.configurationResolver.resolveModelGpuLayersV2('auto', {
            defaultContextFlashAttention: overrides.flashAttention === true,
        });
        gpuLayers = resolved.gpuLayers;
        notes.push(`GPU layers ${gpuLayers} of ${totalLayers}: as many as the free VRAM holds with room for the context.`);
    }

    const flashAttention = resolveFlashAttention(overrides.flashAttention, {
        supported: insights.flashAttentionSupported,
        onGpu: gpuLayers > 0,
        notes,
    });

    const requestedBatch = typeof overrides.batchSize === 'number' ? Math.max(1, Math.floor(overrides.batchSize)) : undefined;
    let contextSize: number;
    if (typeof overrides.contextSize === 'number') {
        contextSize = Math.max(1, Math.min(Math.floor(overrides.contextSize), trainContext));
        notes.push(
            contextSize < overrides.contextSize
                ? `Context ${contextSize} tokens: the setting asks for ${overrides.contextSize}, but the model was trained on ${trainContext}.`
                : `Context ${contextSize} tokens: set in the settings.`,
        );
    } else {
        const max = Math.min(trainContext, AUTO_CONTEXT_CAP);
        try {
            contextSize = await insights.configurationResolver.resolveContextContextSize(
                { min: Math.min(MIN_USEFUL_CONTEXT, max), max },
                {
                    modelGpuLayers: gpuLayers,
                    modelTrainContextSize: trainContext,
                    flashAttention,
                    batchSize: requestedBatch,
                    sequences: 1,
                },
            );
            notes.push(`Context ${contextSize} tokens: the largest that fits the free memory, up to ${max} (trained on ${trainContext}).`);
        } catch (error) {
            if (!(error instanceof InsufficientMemoryError)) throw error;
            contextSize = Math.min(MIN_USEFUL_CONTEXT, trainContext);
            notes.push(`Context ${contextSize} tokens: the free memory is short even for a small context; expect swapping or a failed load.`);
        }
    }

    const batchSize = requestedBatch ?? Math.min(DEFAULT_BATCH_SIZE, contextSize);
    notes.push(requestedBatch ? `Batch ${batchSize}: set in the settings.` : `Batch ${batchSize}: llama.cpp's usual batch, within the context.`);

    return { gpuLayers, contextSize, threads, batchSize, flashAttention, notes };
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
    notes.push(`Threads ${threads}: one per physical core, one left free when that would take every hardware thread (${hardware.cpu.physicalCores} physical, ${hardware.cpu.logicalCores} logical).`);
    return threads;
}

function resolveFlashAttention(
    value: LoadConfig['flashAttention'] | undefined,
    facts: { supported: boolean; onGpu: boolean; notes: string[] },
): boolean {
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
