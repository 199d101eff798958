/**
 * How a model file fits a machine: fully on the GPU, split between GPU and CPU, on the CPU only, or
 * not at all, with the RAM/VRAM it needs at a context size and a tokens/s ceiling (memory bandwidth ÷
 * bytes read per token). The shape of a model comes from the catalog (no I/O) or from its GGUF header
 * through node-llama-cpp's GgufInsights; the classification is the same pure function for both.
 */
import type { Llama } from 'node-llama-cpp';
import type { FitEstimate, GpuInfo, HardwareReport } from '../../common/hardware';
import type { ModelEntry, ModelFile } from '../../common/models';
import { importNodeLlamaCpp } from '../engine/llama';
import { formatBytes } from '../../common/format';
import { gpuName } from './report';

const GB = 1024 ** 3;
const MB = 1024 ** 2;

/** The context size fit estimates use when none is asked for: enough for a chat about some code. */
export const DEFAULT_FIT_CONTEXT = 4096;

/** Compute buffers llama.cpp allocates besides the KV cache at the usual batch of 512. */
const CATALOG_COMPUTE_BYTES = 256 * MB;

/** RAM the process keeps on the host even when every layer is on the GPU (buffers, tokenizer, runtime). */
const HOST_OVERHEAD_BYTES = 300 * MB;

/** What a model needs, independent of the machine. */
export interface ModelShape {
    /** Bytes of weights (the file size). */
    weightsBytes: number;
    /** Repeating layers llama.cpp can offload to the GPU. */
    layers: number;
    /** Context memory that does not grow with the context (compute buffers). */
    contextFixedBytes: number;
    /** KV-cache bytes per token of context, all layers together. */
    contextBytesPerToken: number;
    /** The context the model was trained on; estimates never exceed it. */
    trainContextSize?: number;
}

/** A real load's numbers, used in place of the estimate for the same file. */
export interface Measurement {
    ramBytes: number;
    vramBytes: number;
    tokensPerSecond: number;
}

/**
 * Free RAM a model may use: what the OS says is available, minus room for the OS and the editor
 * (15% of the total, between 1 and 4 GB), so a "fits" never means swapping.
 */
export function ramBudget(hardware: HardwareReport): number {
    const reserve = Math.min(4 * GB, Math.max(1 * GB, hardware.memory.totalBytes * 0.15));
    return Math.max(0, Math.min(hardware.memory.totalBytes - reserve, hardware.memory.freeBytes));
}

/** The GPU llama.cpp would use: the usable one with the most memory. */
export function usableGpu(hardware: HardwareReport): GpuInfo | undefined {
    return hardware.gpus.filter((gpu) => gpu.usable).sort((a, b) => b.vramTotalBytes - a.vramTotalBytes)[0];
}

/**
 * VRAM a model may use. Dedicated GPUs keep llama.cpp's padding (6%, at least 300 MB) for the driver;
 * Apple Silicon lets the GPU wire about two thirds of the unified memory.
 */
export function vramBudget(hardware: HardwareReport, gpu: GpuInfo): number {
    if (hardware.memory.unified) return Math.min(hardware.memory.totalBytes * 0.66, ramBudget(hardware));
    const padding = Math.max(300 * MB, gpu.vramTotalBytes * 0.06);
    const free = gpu.vramFreeBytes ?? gpu.vramTotalBytes;
    return Math.max(0, Math.min(free, gpu.vramTotalBytes - padding));
}

/** Bandwidth the CPU can actually pull: few cores cannot saturate the memory bus (~10 GB/s each). */
function cpuBandwidth(hardware: HardwareReport): number {
    return Math.min(hardware.memory.bandwidthBytesPerSecond, hardware.cpu.mathCores * 10e9);
}

/** No driver reports it, so: Apple's unified bandwidth, or a typical figure for a discrete card of that size. */
export function gpuBandwidth(hardware: HardwareReport, gpu: GpuInfo): number {
    if (hardware.memory.unified) return hardware.memory.bandwidthBytesPerSecond;
    if (/intel/i.test(gpu.vendor) && gpu.vramTotalBytes < 4 * GB) return hardware.memory.bandwidthBytesPerSecond;
    if (gpu.vramTotalBytes >= 20 * GB) return 900e9;
    if (gpu.vramTotalBytes >= 10 * GB) return 450e9;
    if (gpu.vramTotalBytes >= 6 * GB) return 300e9;
    return 150e9;
}

export interface FitOptions {
    hardware: HardwareReport;
    shape: ModelShape;
    /** Tokens of context; capped by the trained context. */
    contextSize: number;
    /** A real load's numbers for this file on this machine, if any. */
    measurement?: Measurement;
}

export function estimateFit({ hardware, shape, contextSize: asked, measurement }: FitOptions): FitEstimate {
    const contextSize = Math.max(1, Math.min(asked, shape.trainContextSize ?? asked));
    const kvBytes = shape.contextBytesPerToken * contextSize;
    const contextBytes = shape.contextFixedBytes + kvBytes;
    const totalBytes = shape.weightsBytes + contextBytes;
    // Every weight is read once per token, and on average half of a filling KV cache.
    const bytesPerToken = shape.weightsBytes + kvBytes / 2;
    const ram = ramBudget(hardware);
    const gpu = usableGpu(hardware);
    const layers = Math.max(1, shape.layers);
    const at = `at ${contextSize} tokens of context`;
    const base = { totalLayers: layers, contextSize, measured: false };

    const result = ((): FitEstimate => {
        if (gpu) {
            const vram = vramBudget(hardware, gpu);
            const name = gpuName(gpu);
            const gpuSpeed = gpuBandwidth(hardware, gpu);
            if (hardware.memory.unified) {
                if (totalBytes <= vram) {
                    const tps = gpuSpeed / bytesPerToken;
                    return { ...base, fit: 'gpu', gpuLayers: layers, ramBytes: totalBytes, vramBytes: totalBytes, tokensPerSecond: tps,
                        reason: `Runs on the ${name} in unified memory: needs ${formatBytes(totalBytes)} of ${formatBytes(vram)} it can use ${at}, about ${Math.round(tps)} tokens/s.` };
                }
            } else if (totalBytes <= vram) {
                const tps = gpuSpeed / bytesPerToken;
                return { ...base, fit: 'gpu', gpuLayers: layers, ramBytes: HOST_OVERHEAD_BYTES, vramBytes: totalBytes, tokensPerSecond: tps,
                    reason: `Fits on the ${name}: needs ${formatBytes(totalBytes)} of ${formatBytes(vram)} VRAM ${at}, about ${Math.round(tps)} tokens/s.` };
            } else {
                const perLayer = (shape.weightsBytes + kvBytes) / layers;
                const onGpu = Math.min(layers - 1, Math.floor((vram - shape.contextFixedBytes) / perLayer));
                const ramNeeded = (layers - onGpu) * perLayer + HOST_OVERHEAD_BYTES;
                if (onGpu >= 1 && ramNeeded <= ram) {
                    const vramNeeded = onGpu * perLayer + shape.contextFixedBytes;
                    const share = onGpu / layers;
                    const tps = 1 / ((bytesPerToken * share) / gpuSpeed + (bytesPerToken * (1 - share)) / cpuBandwidth(hardware));
                    return { ...base, fit: 'partial', gpuLayers: onGpu, ramBytes: ramNeeded, vramBytes: vramNeeded, tokensPerSecond: tps,
                        reason: `${onGpu} of ${layers} layers fit on the ${name} (${formatBytes(vramNeeded)} VRAM); the rest runs on the CPU in ${formatBytes(ramNeeded)} RAM ${at}, about ${Math.round(tps)} tokens/s.` };
                }
            }
        }
        if (totalBytes <= ram) {
            const tps = cpuBandwidth(hardware) / bytesPerToken;
            const where = gpu ? `too large for the ${gpuName(gpu)}, runs on the CPU` : hardware.backend.cpuReason ? 'runs on the CPU (the GPU is not usable, see the report)' : 'runs on the CPU';
            return { ...base, fit: 'cpu', gpuLayers: 0, ramBytes: totalBytes, vramBytes: 0, tokensPerSecond: tps,
                reason: `${capitalize(where)}: needs ${formatBytes(totalBytes)} of ${formatBytes(ram)} free RAM ${at}, about ${formatSpeed(tps)} tokens/s.` };
        }
        const gpuPart = gpu && !hardware.memory.unified ? ` + ${formatBytes(vramBudget(hardware, gpu))} VRAM` : '';
        return { ...base, fit: 'none', gpuLayers: 0, ramBytes: totalBytes, vramBytes: 0, tokensPerSecond: 0,
            reason: `Does not fit: needs ${formatBytes(totalBytes)} ${at}, and ${formatBytes(ram)} RAM${gpuPart} is free; choose a smaller quantization or model, or close other apps.` };
    })();
    return measurement ? applyMeasurement(result, measurement) : result;
}

/** A real load beats any formula: use its speed, and never report less memory than it took. */
function applyMeasurement(estimate: FitEstimate, measurement: Measurement): FitEstimate {
    const memory = {
        ramBytes: Math.max(estimate.ramBytes, measurement.ramBytes),
        vramBytes: Math.max(estimate.vramBytes, measurement.vramBytes),
        measured: true,
    };
    // A load without a generation yet measured memory only: keep the estimated speed, and say so.
    if (!(measurement.tokensPerSecond > 0)) return { ...estimate, ...memory, reason: `${estimate.reason} Memory measured here.` };
    const tps = measurement.tokensPerSecond;
    return {
        ...estimate,
        ...memory,
        tokensPerSecond: tps,
        reason: `${estimate.reason.replace(/, about [\d.]+ tokens\/s\.$/, '.')} Measured here: ${formatSpeed(tps)} tokens/s.`,
    };
}

function capitalize(text: string): string {
    return text.charAt(0).toUpperCase() + text.slice(1);
}

export function formatSpeed(tokensPerSecond: number): string {
    return tokensPerSecond >= 10 ? String(Math.round(tokensPerSecond)) : tokensPerSecond.toFixed(1);
}

/**
 * A catalog file's shape from the catalog's architecture facts, with no I/O: f16 KV cache of
 * 2 (K and V) × layers × KV heads × head size per token. Without architecture facts, a 32-layer
 * model whose cache takes 1/16 of its weights per 4k tokens is a cautious guess.
 */
export function shapeFromCatalog(entry: ModelEntry, file: ModelFile): ModelShape {
    const arch = entry.architecture;
    if (!arch) {
        return { weightsBytes: file.sizeBytes, layers: 32, contextFixedBytes: CATALOG_COMPUTE_BYTES, contextBytesPerToken: file.sizeBytes / 16 / 4096, trainContextSize: entry.contextLength };
    }
    const headSize = arch.embeddingLength / Math.max(1, arch.headCount);
    return {
        weightsBytes: file.sizeBytes,
        layers: arch.layers,
        contextFixedBytes: CATALOG_COMPUTE_BYTES,
        contextBytesPerToken: 2 * arch.layers * arch.headCountKv * headSize * 2,
        trainContextSize: entry.contextLength,
    };
}

/** Where a GGUF header can be read from: a local file, or a URL read with HTTP range requests only. */
export type GgufSource = { path: string } | { url: string; headers?: Record<string, string> };

/**
 * A file's shape from its GGUF header (node-llama-cpp reads only the header, over range requests for
 * URLs). The context cost comes from GgufInsights' own llama.cpp-based estimate at two sizes, split into
 * the part that grows with the context and the part that does not.
 */
export async function shapeFromGguf(source: GgufSource, options: { llama?: Llama; signal?: AbortSignal } = {}): Promise<ModelShape> {
    const { readGgufFileInfo, GgufInsights } = await importNodeLlamaCpp();
    const info = 'path' in source
        ? await readGgufFileInfo(source.path, { logWarnings: false, signal: options.signal })
        : await readGgufFileInfo(source.url, { logWarnings: false, sourceType: 'network', fetchHeaders: source.headers, signal: options.signal });
    const insights = await GgufInsights.from(info, options.llama);
    const small = insights.estimateContextResourceRequirements({ contextSize: 1024, modelGpuLayers: 0 }).cpuRam;
    const large = insights.estimateContextResourceRequirements({ contextSize: 5120, modelGpuLayers: 0 }).cpuRam;
    const perToken = Math.max(0, (large - small) / 4096);
    return {
        weightsBytes: insights.modelSize,
        layers: insights.totalLayers,
        contextFixedBytes: Math.max(0, small - perToken * 1024),
        contextBytesPerToken: perToken,
        trainContextSize: insights.trainContextSize,
    };
}
