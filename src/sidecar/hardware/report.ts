/**
 * Builds the hardware report from raw facts (what systeminformation and node-llama-cpp said, or an
 * injected profile), so the "why am I on the CPU?" answer is the same logic on a real machine and
 * in tests that pretend to be a 16 GB laptop with a 6 GB NVIDIA GPU.
 */
import type { ComputeBackend, GpuBackend, GpuBackendsReport, GpuInfo, GpuMode, HardwareReport } from '../../common/hardware';

/** A GPU as the operating system sees it (systeminformation), before asking llama.cpp. */
export interface GpuFacts {
    vendor: string;
    model: string;
    vramTotalBytes: number;
    vramFreeBytes?: number;
    driver?: string;
}

/** Everything detection gathers; also the shape of an injected profile's `facts`. */
export interface HardwareFacts {
    os: { platform: string; release: string; arch: string; distro?: string };
    cpu: { model: string; physicalCores: number; logicalCores: number; performanceCores?: number; flags: string[] };
    memory: { totalBytes: number; freeBytes: number; swapTotalBytes: number; swapFreeBytes: number; bandwidthBytesPerSecond?: number };
    gpus: GpuFacts[];
    llama: {
        /** The backend the process's `Llama` runs on (false: CPU). */
        gpu: GpuBackend | false;
        /** GPU backends whose prebuilt llama.cpp binaries are installed for this platform. */
        binaries: GpuBackend[];
        /** GPU backends whose libraries and drivers node-llama-cpp found (`getLlamaGpuTypes('supported')`). */
        supported: GpuBackend[];
        /** node-llama-cpp's count of cores worth computing on. */
        mathCores: number;
        /** VRAM as llama.cpp sees it, when it runs on a GPU. */
        vram?: { total: number; free: number; unifiedSize: number };
        /** The GPUs llama.cpp drives (`getGpuDeviceNames()`), when it runs on one. */
        deviceNames?: string[];
    };
}

/** Display adapters that hypervisors emulate: they draw the screen but cannot compute. */
const VIRTUAL_ADAPTER = /vmware|virtualbox|virtio|qxl|cirrus|bochs|hyper-v|basic (display|render)|llvmpipe|swiftshader|parallels|standard vga/i;

export function isVirtualAdapter(gpu: Pick<GpuFacts, 'vendor' | 'model'>): boolean {
    return VIRTUAL_ADAPTER.test(`${gpu.vendor} ${gpu.model}`);
}

function vendorKind(gpu: Pick<GpuFacts, 'vendor' | 'model'>): 'nvidia' | 'amd' | 'intel' | 'apple' | 'other' {
    const text = `${gpu.vendor} ${gpu.model}`.toLowerCase();
    if (text.includes('nvidia')) return 'nvidia';
    if (text.includes('apple')) return 'apple';
    if (/\bamd\b|advanced micro|radeon|\bati\b/.test(text)) return 'amd';
    if (text.includes('intel')) return 'intel';
    return 'other';
}

/** The llama.cpp backends that can drive a GPU of this vendor, best first. */
function backendsFor(gpu: GpuFacts): GpuBackend[] {
    switch (vendorKind(gpu)) {
        case 'nvidia':
            return ['cuda', 'vulkan'];
        case 'apple':
            return ['metal'];
        default:
            return ['vulkan'];
    }
}

/** "NVIDIA GeForce RTX 4090", not "NVIDIA Corporation NVIDIA GeForce RTX 4090". */
export function gpuName(gpu: Pick<GpuFacts, 'vendor' | 'model'>): string {
    const vendor = gpu.vendor.replace(/,?\s+(corporation|corp\.?|inc\.?|ltd\.?)$/i, '').trim();
    return gpu.model.toLowerCase().startsWith(vendor.toLowerCase().split(' ')[0]) ? gpu.model : `${vendor} ${gpu.model}`;
}

/**
 * Memory bandwidth when nothing measured it: Apple chips by name, PCs by a typical dual-channel
 * DDR4/DDR5 figure. Only a ceiling for tokens/s; real loads correct it through measurements.
 */
export function estimateBandwidth(facts: HardwareFacts): number {
    if (facts.memory.bandwidthBytesPerSecond) return facts.memory.bandwidthBytesPerSecond;
    const cpu = facts.cpu.model;
    if (/apple/i.test(cpu)) {
        if (/ultra/i.test(cpu)) return 800e9;
        if (/max/i.test(cpu)) return 400e9;
        if (/pro/i.test(cpu)) return 200e9;
        return /m1\b/i.test(cpu) ? 68e9 : 100e9;
    }
    return facts.cpu.physicalCores > 8 ? 60e9 : 40e9;
}

/** `gpuBackends`: the backends fetched on demand; a fetched one that did not load is the reason llama.cpp is on the CPU. */
export function buildReport(facts: HardwareFacts, mode: GpuMode, detectedAt = new Date(), gpuBackends?: GpuBackendsReport): HardwareReport {
    const flags = new Set(facts.cpu.flags.map((flag) => flag.toLowerCase()));
    const unified = facts.os.platform === 'darwin' && facts.os.arch === 'arm64';
    const active: ComputeBackend = mode === 'off' ? 'cpu' : facts.llama.gpu || 'cpu';
    const available: ComputeBackend[] = [...facts.llama.supported.filter((backend) => facts.llama.binaries.includes(backend)), 'cpu'];
    const gpus = withLlamaDevices(facts, active).map((gpu) => describeGpu(gpu, { facts, active, mode, unified }));
    const physical = facts.cpu.physicalCores || facts.cpu.logicalCores;
    const mathCores = Math.max(1, Math.min(physical, facts.cpu.performanceCores || facts.llama.mathCores || physical));
    return {
        os: { ...facts.os },
        cpu: {
            model: facts.cpu.model,
            physicalCores: physical,
            logicalCores: facts.cpu.logicalCores,
            mathCores,
            simd: {
                avx: flags.has('avx'),
                avx2: flags.has('avx2'),
                avx512: flags.has('avx512f'),
                neon: flags.has('neon') || flags.has('asimd') || facts.os.arch === 'arm64',
                flags: [...flags].filter((flag) => /^(avx|sse|fma|f16c|neon|asimd|amx|sve|dotprod|i8mm)/.test(flag)).sort(),
            },
        },
        memory: {
            totalBytes: facts.memory.totalBytes,
            freeBytes: facts.memory.freeBytes,
            swapTotalBytes: facts.memory.swapTotalBytes,
            swapFreeBytes: facts.memory.swapFreeBytes,
            unified,
            bandwidthBytesPerSecond: estimateBandwidth(facts),
        },
        gpus,
        backend: {
            active,
            available,
            cpuReason:
                active === 'cpu' && gpuBackends?.loadFailure
                    ? `${gpuBackends.loadFailure} llama.cpp runs on the CPU. ${gpuBackends.advice ?? ''}`.trim()
                    : explainCpu(facts, active, mode),
        },
        ...(gpuBackends ? { gpuBackends } : {}),
        detectedAt: detectedAt.toISOString(),
    };
}

const BACKEND_VENDOR: Record<GpuBackend, string> = { cuda: 'NVIDIA', metal: 'Apple', vulkan: 'Unknown vendor' };

/**
 * Containers and some VMs hide the PCI bus from systeminformation while llama.cpp still drives a GPU:
 * then llama.cpp's own device list and VRAM stand in, so the fit estimates use the GPU it really has.
 */
function withLlamaDevices(facts: HardwareFacts, active: ComputeBackend): GpuFacts[] {
    if (active === 'cpu' || facts.gpus.some((gpu) => backendsFor(gpu).includes(active))) return facts.gpus;
    const names = facts.llama.deviceNames?.length ? facts.llama.deviceNames : ['GPU'];
    const vram = facts.llama.vram;
    const vendor = BACKEND_VENDOR[active];
    return [
        ...facts.gpus,
        ...names.map((model, i) => ({
            vendor: active === 'vulkan' ? (vendorOfName(model) ?? vendor) : vendor,
            model,
            // llama.cpp reports the VRAM of all its devices together.
            vramTotalBytes: vram ? Math.round(vram.total / names.length) : 0,
            vramFreeBytes: vram && i === 0 && names.length === 1 ? vram.free : undefined,
        })),
    ];
}

function vendorOfName(name: string): string | undefined {
    const kind = vendorKind({ vendor: '', model: name });
    return kind === 'other' ? undefined : { nvidia: 'NVIDIA', amd: 'AMD', intel: 'Intel', apple: 'Apple' }[kind];
}

interface GpuContext {
    facts: HardwareFacts;
    active: ComputeBackend;
    mode: GpuMode;
    unified: boolean;
}

function describeGpu(gpu: GpuFacts, { facts, active, unified }: GpuContext): GpuInfo {
    const candidates = backendsFor(gpu);
    const backend = active !== 'cpu' && candidates.includes(active) ? active : candidates.find((b) => facts.llama.binaries.includes(b));
    const usable = !isVirtualAdapter(gpu) && active !== 'cpu' && candidates.includes(active);
    const vram = facts.llama.vram;
    const info: GpuInfo = {
        vendor: gpu.vendor,
        model: gpu.model,
        // Apple Silicon: the GPU shares the machine's memory.
        vramTotalBytes: unified && vendorKind(gpu) === 'apple' ? Math.max(gpu.vramTotalBytes, facts.memory.totalBytes) : gpu.vramTotalBytes,
        vramFreeBytes: usable && vram && vram.total > 0 ? vram.free : gpu.vramFreeBytes,
        driver: gpu.driver,
        backend,
        usable,
    };
    if (!usable) {
        info.unusableReason = isVirtualAdapter(gpu)
            ? 'a virtual display adapter with no compute support'
            : active === 'cpu'
              ? 'llama.cpp runs on the CPU (the report says why)'
              : `llama.cpp uses the ${active === 'metal' ? 'Metal' : active.toUpperCase()} GPU instead`;
    }
    return info;
}

/** The answer to "why am I on the CPU?" when a real GPU is present; undefined when there is nothing to explain. */
function explainCpu(facts: HardwareFacts, active: ComputeBackend, mode: GpuMode): string | undefined {
    if (active !== 'cpu') return undefined;
    const real = facts.gpus.filter((gpu) => !isVirtualAdapter(gpu)).sort((a, b) => b.vramTotalBytes - a.vramTotalBytes);
    if (real.length === 0) return undefined;
    const gpu = real[0];
    const name = gpuName(gpu);
    if (mode === 'off') return `GPU use is turned off in the settings (Local AI › GPU is "off"); set it to "auto" to run on the ${name}.`;
    const candidates = backendsFor(gpu);
    const built = candidates.filter((backend) => facts.llama.binaries.includes(backend));
    if (built.length === 0) {
        return `This install has no ${candidates.map(label).join(' or ')} build of llama.cpp for ${facts.os.platform}-${facts.os.arch}, so it cannot use the ${name}; llama.cpp runs on the CPU.`;
    }
    const working = built.filter((backend) => facts.llama.supported.includes(backend));
    if (mode !== 'auto' && !working.includes(mode)) {
        return `The settings ask for ${label(mode)}, which cannot run here; set Local AI › GPU to "auto"${working.length ? ` to use ${label(working[0])}` : ''}.`;
    }
    if (working.length === 0) {
        if (vendorKind(gpu) === 'nvidia') {
            return gpu.driver
                ? `The NVIDIA driver ${gpu.driver} is installed, but neither the CUDA libraries nor a Vulkan driver could be loaded for the ${name}; reinstall the NVIDIA driver with CUDA support, then restart Local AI.`
                : `The ${name} has no working NVIDIA driver here (neither CUDA nor Vulkan could be found), so llama.cpp runs on the CPU; install the NVIDIA driver, then restart Local AI.`;
        }
        return `No ${candidates.map(label).join(' or ')} driver was found for the ${name}, so llama.cpp runs on the CPU; install the GPU's ${label(candidates[0])} driver, then restart Local AI.`;
    }
    return `The ${label(working[0])} backend did not start for the ${name}, so llama.cpp fell back to the CPU; the Local AI log has the error.`;
}

function label(backend: GpuBackend): string {
    return { cuda: 'CUDA', vulkan: 'Vulkan', metal: 'Metal' }[backend];
}
