/**
 * How a model file fits a machine: fully on the GPU, split between GPU and CPU, on the CPU only, or
 * not at all, with the RAM/VRAM it needs at a context size and a tokens/s ceiling (memory bandwidth ÷
 * bytes read per token). Where it runs and what it needs come from the one memory model
 * (memoryModel.ts), which the automatic configuration and the load refusal ask too.
 */
import type { FitEstimate, GpuInfo, HardwareReport } from '../../common/hardware';
import { DEFAULT_SEQUENCES, memoryBudget, planLoad, usableGpu, type MemoryBudget, type ModelMemory } from '../llama/memoryModel';
import { formatBytes } from '../../common/format';
import { gpuName } from './report';

const GB = 1024 ** 3;

export { DEFAULT_FIT_CONTEXT } from '../llama/memoryModel';

/** A real load's numbers, used in place of the estimate for the same file. */
export interface Measurement {
    ramBytes: number;
    vramBytes: number;
    tokensPerSecond: number;
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
    model: ModelMemory;
    /**
     * Tokens of context of each sequence, capped by the trained context; when the model does not fit
     * there, the estimate is for the smaller context an `auto` load would take (see `planLoad`).
     */
    contextSize: number;
    /** Parallel conversations, each with its own cache. Default: {@link DEFAULT_SEQUENCES}, as the engine loads. */
    sequences?: number;
    /** A real load's numbers for this file on this machine, if any. */
    measurement?: Measurement;
    /** What the model may use. Default: the machine's ({@link memoryBudget}); less when it must fit beside another model. */
    budget?: MemoryBudget;
}

export function estimateFit({
    hardware,
    model,
    contextSize: asked,
    sequences = DEFAULT_SEQUENCES,
    measurement,
    budget = memoryBudget(hardware),
}: FitOptions): FitEstimate {
    const plan = planLoad(model, budget, { contextSize: Math.max(1, Math.min(asked, model.trainContextSize ?? asked)), sequences });
    const contextSize = plan.contextSize;
    const { ramBytes, vramBytes } = plan.needs;
    // Every weight is read once per token, and on average half of a filling KV cache.
    const bytesPerToken = model.weightsBytes + (model.kvBytesPerToken * contextSize) / 2;
    // A plan with layers on the GPU means the budget had VRAM, which only a usable GPU gives.
    const gpu = usableGpu(hardware);
    const layers = model.totalLayers;
    const at = `at ${contextSize} tokens of context`;
    const base = { totalLayers: layers, gpuLayers: plan.gpuLayers, contextSize, measured: false };

    const result = ((): FitEstimate => {
        switch (plan.fit) {
            case 'gpu': {
                const gpuInfo = gpu!;
                const name = gpuName(gpuInfo);
                const tps = gpuBandwidth(hardware, gpuInfo) / bytesPerToken;
                const vram = budget.vramBytes;
                if (hardware.memory.unified) {
                    // One pool: what the model takes of it is its RAM.
                    const total = ramBytes + vramBytes;
                    return {
                        ...base,
                        fit: 'gpu',
                        ramBytes: total,
                        vramBytes,
                        tokensPerSecond: tps,
                        reason: `Runs on the ${name} in unified memory: needs ${formatBytes(total)} of ${formatBytes(vram)} it can use ${at}, about ${Math.round(tps)} tokens/s.`,
                    };
                }
                return {
                    ...base,
                    fit: 'gpu',
                    ramBytes,
                    vramBytes,
                    tokensPerSecond: tps,
                    reason: `Fits on the ${name}: needs ${formatBytes(vramBytes)} of ${formatBytes(vram)} VRAM ${at}, about ${Math.round(tps)} tokens/s.`,
                };
            }
            case 'partial': {
                const gpuInfo = gpu!;
                const share = plan.gpuLayers / layers;
                const tps = 1 / ((bytesPerToken * share) / gpuBandwidth(hardware, gpuInfo) + (bytesPerToken * (1 - share)) / cpuBandwidth(hardware));
                return {
                    ...base,
                    fit: 'partial',
                    ramBytes,
                    vramBytes,
                    tokensPerSecond: tps,
                    reason: `${plan.gpuLayers} of ${layers} layers fit on the ${gpuName(gpuInfo)} (${formatBytes(vramBytes)} VRAM); the rest runs on the CPU in ${formatBytes(ramBytes)} RAM ${at}, about ${Math.round(tps)} tokens/s.`,
                };
            }
            case 'cpu': {
                const tps = cpuBandwidth(hardware) / bytesPerToken;
                const where = gpu
                    ? `too large for the ${gpuName(gpu)}, runs on the CPU`
                    : hardware.backend.cpuReason
                      ? 'runs on the CPU (the GPU is not usable, see the report)'
                      : 'runs on the CPU';
                return {
                    ...base,
                    fit: 'cpu',
                    ramBytes,
                    vramBytes: 0,
                    tokensPerSecond: tps,
                    reason: `${capitalize(where)}: needs ${formatBytes(ramBytes)} of ${formatBytes(budget.ramBytes)} free RAM ${at}, about ${formatSpeed(tps)} tokens/s.`,
                };
            }
            case 'none': {
                const gpuPart = gpu && !hardware.memory.unified ? ` + ${formatBytes(budget.vramBytes)} VRAM` : '';
                return {
                    ...base,
                    fit: 'none',
                    ramBytes,
                    vramBytes: 0,
                    tokensPerSecond: 0,
                    reason: `Does not fit: needs ${formatBytes(ramBytes)} ${at}, and ${formatBytes(budget.ramBytes)} RAM${gpuPart} is free; choose a smaller quantization or model, or close other apps.`,
                };
            }
        }
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
