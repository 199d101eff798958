/**
 * What a load is given and checked against before ModelHost loads: where a model id leads on disk, the
 * configuration resolver's request, the safe fallback configuration, and the fit refusal.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Llama } from 'node-llama-cpp';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { formatBytes } from '../../common/format';
import type { LoadConfig, ResolvedLoadConfig } from '../../common/hardware';
import { memoryNeeds, planFit, type MemoryBudget, type ModelMemory } from '../llama/memoryModel';
import { safeThreadCount } from '../llama/runtime';
/** A model the registry knows how to find on disk. */
export interface ModelSource {
    modelId: string;
    name: string;
    path: string;
    quant?: string;
    /** LoRA adapters applied when the context is created. */
    loras?: { path: string; scale?: number }[];
    /** The context its fit badge is judged at (the catalog preset); an `auto` load takes the context the badge shows, or more. */
    fitContextSize?: number;
}

/** Turns a model id/URI/path (or undefined: the active model) into a file; throws ModelNotFound/ModelNotInstalled. */
export type ModelResolver = (model: string | undefined) => Promise<ModelSource>;

/** What a configuration resolver is given for one load. */
export interface LoadConfigRequest {
    modelPath: string;
    /** The file's memory model (the same one the refusal asks). */
    memory: ModelMemory;
    overrides: Partial<LoadConfig>;
    llama: Llama;
    /** What this load may use (the same budget the refusal checks). */
    budget: MemoryBudget;
    /** Sequences the context is created with at least. */
    sequences: number;
    /** More sequences, up to this many, where memory allows (the resolver's `sequences` says how many). */
    maxSequences?: number;
    /** See {@link ModelSource.fitContextSize}. */
    fitContextSize?: number;
}

/** hardware/autoConfig's `resolveLoadConfig` with the hardware report already bound. */
export type LoadConfigResolver = (request: LoadConfigRequest) => Promise<ResolvedLoadConfig>;

/** Accepts a path to a .gguf file when no registry is wired. */
export const pathOnlyResolver: ModelResolver = async (model) => {
    if (!model) throw new LocalAiError(ErrorCode.ModelNotFound, 'No model was named and none is active.', { hint: 'Choose a model first.' });
    const filePath = path.resolve(model);
    if (!fs.existsSync(filePath)) throw new LocalAiError(ErrorCode.ModelNotFound, `No model named ${model} was found.`, { file: filePath });
    return { modelId: filePath, name: path.basename(filePath, '.gguf'), path: filePath };
};

/** A safe configuration when hardware/autoConfig is not wired: explicit threads, modest context. */
export const fallbackLoadConfig: LoadConfigResolver = async ({ memory, overrides, llama, budget, sequences }) => {
    const notes: string[] = [];
    const threads = typeof overrides.threads === 'number' ? overrides.threads : safeThreadCount(llama);
    const contextSize = typeof overrides.contextSize === 'number' ? overrides.contextSize : Math.min(memory.trainContextSize ?? 4096, 4096);
    const gpuLayers =
        typeof overrides.gpuLayers === 'number'
            ? overrides.gpuLayers
            : llama.gpu === false
              ? 0
              : overrides.gpuLayers === 'max'
                ? memory.totalLayers
                : planFit(memory, budget, { contextSize, sequences, flashAttention: overrides.flashAttention === true }).gpuLayers;
    notes.push(`threads ${threads}${typeof overrides.threads === 'number' ? ' (set)' : ' (math cores, one left for the event loop on small machines)'}`);
    notes.push(`context ${contextSize}, GPU layers ${gpuLayers}`);
    return {
        threads,
        gpuLayers,
        contextSize,
        batchSize: typeof overrides.batchSize === 'number' ? overrides.batchSize : 512,
        flashAttention: overrides.flashAttention === true,
        notes,
    };
};

/** The fields of a resolved configuration that decide its memory. */
export type LoadShape = Pick<ResolvedLoadConfig, 'gpuLayers' | 'contextSize' | 'batchSize' | 'flashAttention'>;

/**
 * The load refusal: throws ModelDoesNotFit, with the numbers, when the memory model says this
 * configuration needs more than the budget. ModelHost calls it before every load that is not forced.
 */
export function checkLoadFits(options: { name: string; file: string; memory: ModelMemory; config: LoadShape; budget: MemoryBudget; sequences: number }): void {
    const { name, file, memory, config, budget, sequences } = options;
    const needs = memoryNeeds(memory, { ...config, sequences });
    // On unified memory the GPU's share comes out of the same RAM.
    const ramNeeded = budget.unified ? needs.ramBytes + needs.vramBytes : needs.ramBytes;
    if (ramNeeded > budget.ramBytes) {
        throw new LocalAiError(
            ErrorCode.ModelDoesNotFit,
            `${name} needs ${formatBytes(ramNeeded)} of memory with a ${config.contextSize}-token context, and ${formatBytes(budget.ramBytes)} is free.`,
            {
                file,
                needed: ramNeeded,
                available: budget.ramBytes,
                unit: 'bytes',
                hint: 'Choose a smaller quantization or context, close other apps, or load anyway.',
            },
        );
    }
    if (needs.vramBytes > budget.vramBytes) {
        throw new LocalAiError(
            ErrorCode.ModelDoesNotFit,
            `${name} needs ${formatBytes(needs.vramBytes)} of GPU memory with ${config.gpuLayers} layers offloaded, and ${formatBytes(budget.vramBytes)} is free.`,
            { file, needed: needs.vramBytes, available: budget.vramBytes, unit: 'bytes', hint: 'Offload fewer layers, or load anyway.' },
        );
    }
}
