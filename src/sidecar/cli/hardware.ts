/**
 * `local-ai hardware [--json]`: what this machine has and what llama.cpp can use of it.
 * `local-ai fit <model|path|hf:uri> [--quant Q] [--context N] [--json]`: how each file of a model fits here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FitResult } from '../../common/protocol';
import type { HardwareReport } from '../../common/hardware';
import { autoThreads } from '../hardware/autoConfig';
import { formatSpeed } from '../hardware/fit';
import { estimateModel } from '../hardware/handlers';
import { formatBytes } from '../../common/format';
import { gpuName } from '../hardware/report';
import { disposeServices, type Services } from '../services';
import { defineCommand } from './commandLine';
import { createCliServices } from './context';

async function withServices<T>(verbose: boolean, work: (services: Services) => Promise<T>): Promise<T> {
    const services = createCliServices({ verbose });
    try {
        return await work(services);
    } finally {
        await disposeServices(services);
    }
}

/** The report as aligned lines for a terminal. */
export function formatReportTable(report: HardwareReport): string {
    const { os, cpu, memory, gpus, backend } = report;
    const simd =
        [cpu.simd.avx512 ? 'AVX-512' : '', cpu.simd.avx2 ? 'AVX2' : cpu.simd.avx ? 'AVX' : '', cpu.simd.neon ? 'NEON' : ''].filter(Boolean).join(', ') ||
        'none of AVX/AVX2/AVX-512/NEON';
    const rows: [string, string][] = [
        ['OS', `${os.distro ?? os.platform} ${os.release} (${os.platform}, ${os.arch})`],
        ['CPU', `${cpu.model}: ${cpu.physicalCores} physical / ${cpu.logicalCores} logical cores, SIMD ${simd}`],
        ['Threads', `${autoThreads(report)} (auto: one per physical${cpu.mathCores < cpu.physicalCores ? ' performance' : ''} core)`],
        ['Memory', `${formatBytes(memory.totalBytes)} total, ${formatBytes(memory.freeBytes)} free${memory.unified ? ', unified with the GPU' : ''}`],
        ['Swap', memory.swapTotalBytes > 0 ? `${formatBytes(memory.swapTotalBytes)} total, ${formatBytes(memory.swapFreeBytes)} free` : 'none'],
        ['Bandwidth', `about ${Math.round(memory.bandwidthBytesPerSecond / 1e9)} GB/s (estimated)`],
    ];
    if (gpus.length === 0) rows.push(['GPU', 'none detected']);
    for (const gpu of gpus) {
        const vram = `${formatBytes(gpu.vramTotalBytes)}${gpu.vramFreeBytes !== undefined ? ` (${formatBytes(gpu.vramFreeBytes)} free)` : ''}`;
        const state = gpu.usable ? `usable with ${gpu.backend?.toUpperCase()}` : `not usable: ${gpu.unusableReason}`;
        rows.push(['GPU', `${gpuName(gpu)}, ${vram}, driver ${gpu.driver ?? 'unknown'}; ${state}`]);
    }
    rows.push(['llama.cpp', `runs on ${backend.active.toUpperCase()} (available: ${backend.available.join(', ')})`]);
    if (backend.cpuReason) rows.push(['Why CPU', backend.cpuReason]);
    const width = Math.max(...rows.map(([label]) => label.length));
    return `${rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n')}\n`;
}

/** One row per file: quantization, fit, layers, memory, speed, and the one-line reason. */
export function formatFitTable(result: FitResult): string {
    if (result.estimates.length === 0) return 'No files to estimate.\n';
    const header = ['QUANT', 'FIT', 'GPU LAYERS', 'RAM', 'VRAM', 'TOKENS/S', 'CONTEXT'];
    const rows = result.estimates.map(({ quant, estimate }) => [
        quant,
        estimate.fit,
        `${estimate.gpuLayers}/${estimate.totalLayers}`,
        formatBytes(estimate.ramBytes),
        formatBytes(estimate.vramBytes),
        `${formatSpeed(estimate.tokensPerSecond)}${estimate.measured ? ' (measured)' : ''}`,
        String(estimate.contextSize),
    ]);
    const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
    const line = (cells: string[]) =>
        cells
            .map((cell, i) => cell.padEnd(widths[i]))
            .join('  ')
            .trimEnd();
    const reasons = result.estimates.map(({ quant, estimate }) => `  ${quant}: ${estimate.reason}`);
    return `${[line(header), ...rows.map(line), '', ...reasons].join('\n')}\n`;
}

export const hardwareCommand = defineCommand(
    {
        name: 'hardware',
        summary: "Show this machine's CPU, memory and GPUs, and what llama.cpp can use",
        options: {
            json: { type: 'boolean', description: 'print the report as JSON' },
            verbose: { type: 'boolean', description: 'engine logs on stderr' },
        },
        description: `Shows the CPU, memory and GPUs of this machine, what llama.cpp can use of them, and why it runs on
the CPU when a GPU is present but unusable. --json prints the report as JSON.
Set LOCAL_AI_HARDWARE_PROFILE=<file.json> to use a hardware profile instead of detection.`,
    },
    async ({ values }) => {
        const report = await withServices(values.verbose, (services) => services.hardware.report());
        process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReportTable(report));
        return 0;
    },
);

export const fitCommand = defineCommand(
    {
        name: 'fit',
        summary: 'Show how each quantization of a model fits this machine (reads GGUF headers only)',
        positionals: [{ name: 'model', required: 'name a model.' }],
        options: {
            quant: { type: 'string', value: 'Q', description: 'only this quantization' },
            // llama.cpp needs a few blocks of context; past 2^20 tokens no GGUF was trained, and the estimate only overflows.
            context: { type: 'integer', value: 'N', min: 128, max: 1_048_576, description: 'the context size in tokens' },
            json: { type: 'boolean', description: 'print the estimates as JSON' },
            verbose: { type: 'boolean', description: 'engine logs on stderr' },
        },
        description: `<model> is a catalog id, a hf: URI (hf:owner/repo/file.gguf or hf:owner/repo:Q4_K_M) or the path of a
.gguf file. Only GGUF headers are read, over HTTP range requests for hub files.
Prints, for each quantization, whether it fits on the GPU, partly, on the CPU only or not at all.
--context N is the context size to estimate for, in tokens: 128 to 1048576.`,
    },
    async ({ values, positionals }) => {
        // A relative path to a file on disk is what users type in a terminal.
        const model = /\.gguf$/i.test(positionals.model) && fs.existsSync(positionals.model) ? path.resolve(positionals.model) : positionals.model;
        const result = await withServices(values.verbose, (services) => estimateModel(services, { model, quant: values.quant, contextSize: values.context }));
        process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : formatFitTable(result));
        return result.estimates.some((entry) => entry.estimate.fit !== 'none') ? 0 : 1;
    },
);
