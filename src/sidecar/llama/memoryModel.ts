/**
 * The one memory model: how much RAM and VRAM a model needs at a context size with N layers on the
 * GPU and S sequences ({@link memoryNeeds}), what a machine can give it ({@link memoryBudget}), and the
 * most layers that fit ({@link planFit}). The fit badges (fit.ts), the automatic configuration
 * (autoConfig.ts) and the engine's load refusal (ModelHost) all ask these functions with the same
 * numbers, so a badge never promises what a load refuses.
 *
 * With the file at hand, node-llama-cpp's GgufInsights answers: it knows every tensor's size and
 * which device llama.cpp puts it on, sliding-window caches and each architecture's compute buffers.
 * Without it (a catalog model not downloaded yet) only the catalog's facts are at hand, and a
 * formula of the same shape stands in for it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { GgufInsights, Llama } from 'node-llama-cpp';
import type { FitClass, GpuInfo, HardwareReport } from '../../common/hardware';
import type { ModelEntry, ModelFile } from '../../common/models';
import { importNodeLlamaCpp } from './runtime';

const GB = 1024 ** 3;
const MB = 1024 ** 2;

/** Conversations the engine evaluates in parallel; each one holds a KV cache of the full context size. */
export const DEFAULT_SEQUENCES = 2;

/**
 * Sequences an `auto` load creates at most where memory allows them at the chosen context: one each for the
 * chats a user keeps at once (sidebar, editor tab, inline, `@local`), so switching between them finds each
 * one's cache warm. Conversations beyond them are saved to files (local/savedStates.ts).
 */
export const MAX_AUTO_SEQUENCES = 4;

/** The context size a model is judged at when neither its catalog preset nor the caller names one. */
export const DEFAULT_FIT_CONTEXT = 4096;

/** llama.cpp's usual logical batch (node-llama-cpp's default, within the context). */
export const DEFAULT_BATCH_SIZE = 512;

/** Catalog estimate: compute buffers llama.cpp allocates besides the KV cache at the usual batch. */
const CATALOG_COMPUTE_BYTES = 256 * MB;

/**
 * Catalog estimate: RAM the process keeps even when every layer is on the GPU: the token embeddings
 * (llama.cpp keeps the input layer on the CPU), the output buffers, the tokenizer and the runtime.
 */
const CATALOG_HOST_BYTES = 300 * MB;

/** A model as the memory model sees it, from its GGUF header or from the catalog. */
export interface ModelMemory {
    /** Layers llama.cpp can offload: the repeating blocks plus the output layer (node-llama-cpp's `gpuLayers` scale). */
    totalLayers: number;
    /** Bytes of weights. */
    weightsBytes: number;
    /** The context the model was trained on; contexts never exceed it. */
    trainContextSize?: number;
    flashAttentionSupported: boolean;
    /** KV-cache bytes per token of one sequence, all layers together (the speed estimate reads it). */
    kvBytesPerToken: number;
    /** Where the numbers come from. */
    source: { kind: 'gguf'; insights: GgufInsights } | { kind: 'catalog'; catalog: CatalogFacts };
}

/** What the catalog knows of a model's shape, with every gap filled by a cautious guess. */
interface CatalogFacts {
    blocks: number;
    headCount: number;
    /** Bytes of K and V per token per layer, f16. */
    kvBytesPerTokenPerLayer: number;
}

/** A question to the memory model. */
export interface MemoryQuery {
    /** Tokens of context of each sequence. */
    contextSize: number;
    /** Layers on the GPU, 0..totalLayers (node-llama-cpp's scale: the output layer goes first, then blocks from the last). */
    gpuLayers: number;
    /** Sequences (parallel conversations), each with its own KV cache. */
    sequences: number;
    /** Default: {@link DEFAULT_BATCH_SIZE}, within the context (as the automatic configuration sets it). */
    batchSize?: number;
    /** Default: false. */
    flashAttention?: boolean;
}

export interface MemoryNeeds {
    ramBytes: number;
    vramBytes: number;
}

/** memoryNeeds' answers for a parsed header, by query; a header's answers start over past the cap. */
const headerAnswers = new WeakMap<object, Map<string, MemoryNeeds>>();
const MAX_ANSWERS_PER_HEADER = 256;

/** The one answer to "how much memory does this take?". */
export function memoryNeeds(model: ModelMemory, query: MemoryQuery): MemoryNeeds {
    const gpuLayers = Math.max(0, Math.min(model.totalLayers, Math.floor(query.gpuLayers)));
    const sequences = Math.max(1, query.sequences);
    const contextSize = Math.max(1, query.contextSize);
    const batchSize = query.batchSize ?? Math.min(DEFAULT_BATCH_SIZE, contextSize);
    const flashAttention = query.flashAttention === true && model.flashAttentionSupported;
    if (model.source.kind === 'gguf') {
        const { insights } = model.source;
        // GgufInsights walks every tensor of the header on each call, and the model list asks again for each
        // installed file on every list: the answers are kept per header and query (a pure function of both).
        let known = headerAnswers.get(insights);
        if (!known || known.size >= MAX_ANSWERS_PER_HEADER) {
            known = new Map();
            headerAnswers.set(insights, known);
        }
        const key = `${gpuLayers}/${sequences}/${contextSize}/${batchSize}/${flashAttention}`;
        let needs = known.get(key);
        if (!needs) {
            const weights = insights.estimateModelResourceRequirements({ gpuLayers });
            const context = insights.estimateContextResourceRequirements({ contextSize, modelGpuLayers: gpuLayers, batchSize, sequences, flashAttention });
            needs = { ramBytes: weights.cpuRam + context.cpuRam, vramBytes: weights.gpuVram + context.gpuVram };
            known.set(key, needs);
        }
        return { ...needs };
    }

    // Only the catalog's facts are at hand (the file is not downloaded): the same terms as GgufInsights,
    // from the shape alone. Weights are spread evenly over the layers (per-tensor sizes need the file),
    // sliding-window caches are counted at full size (so Gemma 2 beyond 4k tokens is over-, never
    // under-estimated), and the compute buffer is a typical size plus the attention scores.
    const { blocks, headCount, kvBytesPerTokenPerLayer } = model.source.catalog;
    const gpuBlocks = Math.max(0, gpuLayers - 1);
    const cells = sequences * padContext(contextSize);
    const kvPerLayer = kvBytesPerTokenPerLayer * cells;
    // Without flash attention llama.cpp reserves the f32 attention scores of one batch against the whole cache.
    const scores = flashAttention ? 0 : 4 * Math.min(batchSize, cells) * cells * headCount;
    const compute = CATALOG_COMPUTE_BYTES + scores;
    const gpuShare = gpuLayers === 0 ? 0 : gpuBlocks / blocks;
    const weightsOnGpu = (model.weightsBytes * gpuLayers) / model.totalLayers;
    return {
        ramBytes: CATALOG_HOST_BYTES + (model.weightsBytes - weightsOnGpu) + kvPerLayer * (blocks - gpuBlocks) + compute * (1 - gpuShare),
        vramBytes: gpuLayers === 0 ? 0 : weightsOnGpu + kvPerLayer * gpuBlocks + compute * gpuShare,
    };
}

/** llama.cpp pads the context to a multiple of 256 cells. */
function padContext(contextSize: number): number {
    return Math.ceil(contextSize / 256) * 256;
}

/**
 * A catalog file's memory from the catalog's facts, with no I/O. Without architecture facts, a
 * 32-layer model whose cache takes 1/16 of its weights per 4k tokens is a cautious guess.
 */
export function memoryFromCatalog(entry: ModelEntry, file: ModelFile): ModelMemory {
    const arch = entry.architecture;
    const blocks = arch?.layers ?? 32;
    const kvBytesPerTokenPerLayer = arch
        ? 2 * arch.headCountKv * arch.headDim * 2 // K and V, f16
        : file.sizeBytes / 16 / 4096 / blocks;
    return {
        totalLayers: blocks + 1,
        weightsBytes: file.sizeBytes,
        trainContextSize: entry.contextLength,
        // node-llama-cpp turns flash attention off for Gemma 2 (and Grok); the catalog keeps K and V heads the same size.
        flashAttentionSupported: arch ? !['gemma2', 'grok'].includes(arch.name) : false,
        kvBytesPerToken: kvBytesPerTokenPerLayer * blocks,
        source: { kind: 'catalog', catalog: { blocks, headCount: arch?.headCount ?? 32, kvBytesPerTokenPerLayer } },
    };
}

/** A file's memory from its GGUF header, through node-llama-cpp's GgufInsights. */
export function memoryFromInsights(insights: GgufInsights): ModelMemory {
    // The cache's growth per token, from GgufInsights' own estimate at two sizes (without compute buffers).
    const at = (contextSize: number) =>
        insights.estimateContextResourceRequirements({
            contextSize,
            modelGpuLayers: 0,
            batchSize: DEFAULT_BATCH_SIZE,
            sequences: 1,
            includeGraphOverhead: false,
        }).cpuRam;
    return {
        totalLayers: insights.totalLayers,
        weightsBytes: insights.modelSize,
        trainContextSize: insights.trainContextSize,
        flashAttentionSupported: insights.flashAttentionSupported,
        kvBytesPerToken: Math.max(0, (at(5120) - at(1024)) / 4096),
        source: { kind: 'gguf', insights },
    };
}

/**
 * Where a GGUF header can be read from: a local file, or a URL read with HTTP range requests only, through
 * `fetch` when given (the hub client's: its proxy and User-Agent), else the global fetch.
 */
export type GgufSource = { path: string } | { url: string; headers?: Record<string, string>; fetch?: typeof fetch };

/** Reads only the header (over range requests for URLs); the weights are never read. */
export async function memoryFromGguf(source: GgufSource, options: { llama?: Llama; signal?: AbortSignal } = {}): Promise<ModelMemory> {
    const { readGgufFileInfo, GgufInsights } = await importNodeLlamaCpp();
    let info: Awaited<ReturnType<typeof readGgufFileInfo>>;
    if ('path' in source) info = await readGgufFileInfo(source.path, { logWarnings: false, signal: options.signal });
    else {
        const release = source.fetch ? routeFetch(source.url, source.fetch) : () => undefined;
        try {
            info = await readGgufFileInfo(source.url, { logWarnings: false, sourceType: 'network', fetchHeaders: source.headers, signal: options.signal });
        } finally {
            release();
        }
    }
    return memoryFromInsights(await GgufInsights.from(info, options.llama));
}

/** URLs whose reads go to their own fetch, with how many reads use each. */
const routedFetches = new Map<string, { fetch: typeof fetch; reads: number }>();

/**
 * node-llama-cpp reads a remote header with the global `fetch` and takes no fetch of its own, so the global one is
 * wrapped once: a URL being read with its own fetch goes there, every other request to the global fetch unchanged.
 */
function routeFetch(url: string, own: typeof fetch): () => void {
    if (!('localAiRouted' in globalThis.fetch)) {
        const global = globalThis.fetch;
        const routed: typeof fetch = (input, init) => {
            const key = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
            return (routedFetches.get(key)?.fetch ?? global)(input, init);
        };
        globalThis.fetch = Object.assign(routed, { localAiRouted: true });
    }
    const entry = routedFetches.get(url) ?? { fetch: own, reads: 0 };
    entry.reads++;
    routedFetches.set(url, entry);
    return () => {
        if (--entry.reads === 0) routedFetches.delete(url);
    };
}

/** What a machine can give a model. */
export interface MemoryBudget {
    /** RAM a model may use. */
    ramBytes: number;
    /** VRAM a model may use on the GPU llama.cpp would use; 0 when there is none. */
    vramBytes: number;
    /** Apple Silicon: the GPU's memory is the RAM, so a model's RAM and VRAM come from one pool. */
    unified: boolean;
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

export function memoryBudget(hardware: HardwareReport): MemoryBudget {
    const gpu = usableGpu(hardware);
    return { ramBytes: ramBudget(hardware), vramBytes: gpu ? vramBudget(hardware, gpu) : 0, unified: hardware.memory.unified };
}

/** The report with free RAM and VRAM read now (they change between detections; totals and devices do not). */
export function withFreeMemory(hardware: HardwareReport, free: { ramBytes: number; vramBytes?: number }): HardwareReport {
    const gpu = usableGpu(hardware);
    return {
        ...hardware,
        memory: { ...hardware.memory, freeBytes: free.ramBytes },
        gpus: hardware.gpus.map((g) => (g === gpu && free.vramBytes !== undefined ? { ...g, vramFreeBytes: free.vramBytes } : g)),
    };
}

/** MemAvailable on Linux (free + reclaimable cache); os.freemem elsewhere. */
export function availableRamBytes(): number {
    try {
        const match = /MemAvailable:\s+(\d+) kB/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
        if (match) return Number(match[1]) * 1024;
    } catch {
        // not Linux
    }
    return os.freemem();
}

export function fitsBudget(needs: MemoryNeeds, budget: MemoryBudget): boolean {
    if (needs.vramBytes > budget.vramBytes) return false;
    return budget.unified ? needs.ramBytes + needs.vramBytes <= budget.ramBytes : needs.ramBytes <= budget.ramBytes;
}

export interface PlanOptions {
    contextSize: number;
    sequences: number;
    /** Default: {@link DEFAULT_BATCH_SIZE}, within the context. */
    batchSize?: number;
    /** 'auto' (the default): on when supported and any layer is on the GPU, as the automatic configuration does. */
    flashAttention?: boolean | 'auto';
}

/** Where a model runs on a machine, with the memory it needs there. */
export interface FitPlan {
    fit: FitClass;
    /** Layers on the GPU; 0 for 'cpu' and 'none'. */
    gpuLayers: number;
    flashAttention: boolean;
    /** What it needs with those layers ('none': on the CPU alone). */
    needs: MemoryNeeds;
}

/**
 * Every layer on the GPU when they fit; else as many as the VRAM holds when the rest fits the RAM
 * (not on unified memory, where a split gains nothing); else the CPU; else nothing.
 */
export function planFit(model: ModelMemory, budget: MemoryBudget, options: PlanOptions): FitPlan {
    const flashAttentionFor = (gpuLayers: number) =>
        model.flashAttentionSupported && (options.flashAttention === 'auto' || options.flashAttention === undefined ? gpuLayers > 0 : options.flashAttention);
    const at = (gpuLayers: number): FitPlan => {
        const flashAttention = flashAttentionFor(gpuLayers);
        const needs = memoryNeeds(model, { ...options, gpuLayers, flashAttention });
        return { fit: gpuLayers === 0 ? 'cpu' : gpuLayers === model.totalLayers ? 'gpu' : 'partial', gpuLayers, flashAttention, needs };
    };
    if (budget.vramBytes > 0) {
        const all = at(model.totalLayers);
        if (fitsBudget(all.needs, budget)) return all;
        if (!budget.unified) {
            // VRAM grows with each layer offloaded and RAM shrinks, so the most layers the VRAM holds is the best split.
            let low = 0;
            let high = model.totalLayers - 1;
            while (low < high) {
                const mid = Math.ceil((low + high) / 2);
                if (at(mid).needs.vramBytes <= budget.vramBytes) low = mid;
                else high = mid - 1;
            }
            const partial = at(low);
            if (low >= 1 && fitsBudget(partial.needs, budget)) return partial;
        }
    }
    const cpu = at(0);
    return fitsBudget(cpu.needs, budget) ? cpu : { ...cpu, fit: 'none' };
}

/** Below this a chat with a system prompt and some code does not fit; contexts shrink no further to make a model fit. */
export const MIN_USEFUL_CONTEXT = 2048;

/** A plan with the context it is for. */
export interface LoadPlan extends FitPlan {
    contextSize: number;
}

/**
 * Where a model runs when loaded with `contextSize` as the automatic configuration does: at that context
 * when it fits anywhere; else at a smaller one, down to {@link MIN_USEFUL_CONTEXT}: the largest that
 * holds every layer on the GPU (speed over context), or else the largest that fits at all; else nowhere
 * ('none', at the context asked). The fit badge shows this plan, and `auto` loads with its layers and at
 * least its context.
 */
export function planLoad(model: ModelMemory, budget: MemoryBudget, options: PlanOptions): LoadPlan {
    const at = (contextSize: number): LoadPlan => ({ ...planFit(model, budget, { ...options, contextSize }), contextSize });
    const asked = at(options.contextSize);
    if (asked.fit !== 'none') return asked;
    const smallest = Math.min(MIN_USEFUL_CONTEXT, options.contextSize);
    const smaller =
        largestContext(smallest, options.contextSize, (contextSize) => at(contextSize).fit === 'gpu') ??
        largestContext(smallest, options.contextSize, (contextSize) => at(contextSize).fit !== 'none');
    return smaller === undefined ? asked : at(smaller);
}

/**
 * The largest context from `low` to `high` that fits, in llama.cpp's steps of 256 tokens (memory grows
 * with the context), or undefined when not even `low` fits.
 */
export function largestContext(low: number, high: number, fits: (contextSize: number) => boolean): number | undefined {
    if (!fits(low)) return undefined;
    if (high <= low || fits(high)) return Math.max(low, high);
    let steps = 0;
    let tooMany = Math.ceil((high - low) / 256);
    while (tooMany - steps > 1) {
        const mid = Math.floor((steps + tooMany) / 2);
        if (fits(low + mid * 256)) steps = mid;
        else tooMany = mid;
    }
    return low + steps * 256;
}

/** The context a catalog model is judged and loaded at when it fits: its preset, else the usual chat size, within what it was trained on. */
export function fitContextSize(entry: Pick<ModelEntry, 'presets' | 'contextLength'> | undefined): number {
    const wanted = entry?.presets?.contextSize ?? entry?.presets?.load?.contextSize;
    const size = typeof wanted === 'number' ? wanted : DEFAULT_FIT_CONTEXT;
    return Math.min(size, entry?.contextLength ?? size);
}
