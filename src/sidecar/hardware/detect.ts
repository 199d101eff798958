/**
 * Gathers the machine's facts: what the operating system reports (systeminformation) and what
 * node-llama-cpp can actually use (its backend, prebuilt binaries, drivers it found, VRAM it sees).
 */
import { createRequire } from 'node:module';
import * as os from 'node:os';
import si from 'systeminformation';
import type { Llama } from 'node-llama-cpp';
import type { GpuBackend } from '../../common/hardware';
import { importNodeLlamaCpp } from '../llama/runtime';
import type { GpuFacts, HardwareFacts } from './report';

const MB = 1024 ** 2;

/** node-llama-cpp's names for platforms in its prebuilt binary packages (`@node-llama-cpp/<platform>-<arch>-<gpu>`). */
function binaryPlatform(): string {
    if (process.platform === 'darwin') return 'mac';
    if (process.platform === 'win32') return 'win';
    return process.platform;
}

/** GPU backends whose prebuilt llama.cpp binaries are installed next to node-llama-cpp. */
function installedGpuBinaries(): GpuBackend[] {
    const require = createRequire(import.meta.url);
    const base = `@node-llama-cpp/${binaryPlatform()}-${process.arch}`;
    const found: GpuBackend[] = [];
    for (const backend of ['cuda', 'vulkan', 'metal'] as const) {
        // Apple Silicon's default package is the Metal build.
        const name = backend === 'metal' ? base : `${base}-${backend}`;
        if (backend === 'metal' && !(process.platform === 'darwin' && process.arch === 'arm64')) continue;
        try {
            require.resolve(`${name}/package.json`);
            found.push(backend);
        } catch {
            // Not installed for this platform: that backend is simply not available.
        }
    }
    return found;
}

function gpuFacts(controller: si.Systeminformation.GraphicsControllerData): GpuFacts {
    const totalMb = controller.memoryTotal ?? controller.vram ?? 0;
    return {
        vendor: controller.vendor || 'Unknown vendor',
        model: controller.model || controller.name || 'Unknown GPU',
        vramTotalBytes: Math.max(0, totalMb) * MB,
        vramFreeBytes: controller.memoryFree !== undefined && controller.memoryFree !== null ? controller.memoryFree * MB : undefined,
        driver: controller.driverVersion || undefined,
    };
}

/** Reads the real machine. `llama` is the process's one instance, created with the GPU mode from the settings. */
export async function detectFacts(llama: Llama): Promise<HardwareFacts> {
    const { getLlamaGpuTypes } = await importNodeLlamaCpp();
    const [cpu, flags, mem, graphics, osInfo, supported, vram, deviceNames] = await Promise.all([
        si.cpu(),
        si.cpuFlags(),
        si.mem(),
        si.graphics(),
        si.osInfo(),
        getLlamaGpuTypes('supported'),
        llama.gpu === false ? Promise.resolve(undefined) : llama.getVramState(),
        llama.gpu === false ? Promise.resolve([]) : llama.getGpuDeviceNames(),
    ]);
    // The OS's own name ("Intel(R) Core(TM) i7-12700H", "Apple M2") is what users recognise and search for;
    // systeminformation's brand is a trimmed version of it.
    const siModel =
        cpu.brand && cpu.manufacturer && !cpu.brand.startsWith(cpu.manufacturer) ? `${cpu.manufacturer} ${cpu.brand}` : cpu.brand || cpu.manufacturer;
    const model = os.cpus()[0]?.model.trim() || siModel || 'Unknown CPU';
    return {
        os: {
            platform: osInfo.platform || process.platform,
            release: osInfo.release || '',
            arch: osInfo.arch || process.arch,
            distro: osInfo.distro || undefined,
        },
        cpu: {
            model,
            physicalCores: cpu.physicalCores || cpu.cores,
            logicalCores: cpu.cores,
            performanceCores: cpu.performanceCores || undefined,
            flags: flags.split(/\s+/).filter(Boolean),
        },
        memory: {
            totalBytes: mem.total,
            // `available` counts the page cache the kernel gives back on demand; `free` alone undercounts.
            freeBytes: mem.available || mem.free,
            swapTotalBytes: mem.swaptotal,
            swapFreeBytes: mem.swapfree,
        },
        gpus: graphics.controllers.map(gpuFacts),
        llama: {
            gpu: llama.gpu,
            binaries: installedGpuBinaries(),
            supported: supported.filter((type): type is GpuBackend => type !== false),
            mathCores: llama.cpuMathCores,
            vram: vram ? { total: vram.total, free: vram.free, unifiedSize: vram.unifiedSize } : undefined,
            deviceNames,
        },
    };
}
