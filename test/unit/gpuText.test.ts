/** What the editor offers about GPU acceleration, and what it says after the sidecar restarted with a fetched build. */
import { strict as assert } from 'node:assert';
import type { GpuInfo, HardwareReport, InstalledGpuBackend } from '../../src/common/hardware';
import type { GpuOffer, GpuStatus } from '../../src/common/protocol';
import { GPU_DOWNLOAD_ID, NVIDIA_DRIVER_URL, confirmDetail, fetchAsDownload, offerView, outcomeOf } from '../../src/extension/gpu/gpuText';

/** Sizes as the editor writes them (binary units). */
const MB = 2 ** 20;

const RTX: GpuInfo = { vendor: 'NVIDIA', model: 'NVIDIA GeForce RTX 3060', vramTotalBytes: 6 * 2 ** 30, driver: '550.54', usable: false };

const CUDA_OFFER: GpuOffer = {
    backend: 'cuda',
    gpu: RTX.model,
    target: 'linux-x64',
    packages: [
        { name: '@node-llama-cpp/linux-x64-cuda', version: '3.21.1', downloadBytes: 180 * MB, unpackedBytes: 400 * MB },
        { name: '@node-llama-cpp/linux-x64-cuda-ext', version: '3.21.1', downloadBytes: 360 * MB, unpackedBytes: 931 * MB },
    ],
    registry: 'https://registry.example.test/',
    downloadBytes: 540 * MB,
    unpackedBytes: 1331 * MB,
    summary: 'Fetches @node-llama-cpp/linux-x64-cuda and @node-llama-cpp/linux-x64-cuda-ext (540 MB) from https://registry.example.test/.',
};

const VULKAN_OFFER: GpuOffer = { ...CUDA_OFFER, backend: 'vulkan', packages: [CUDA_OFFER.packages[0]], summary: 'Fetches the Vulkan build (70 MB).' };

const CUDA_INSTALLED: InstalledGpuBackend = {
    backend: 'cuda',
    target: 'linux-x64',
    nodeLlamaCppVersion: '3.21.1',
    folder: '/store/gpu-backends/3.21.1/linux-x64-cuda',
    sizeBytes: 1300e6,
    packages: ['@node-llama-cpp/linux-x64-cuda', '@node-llama-cpp/linux-x64-cuda-ext'],
};

function status(extra: Partial<GpuStatus> = {}): GpuStatus {
    return {
        nodeLlamaCppVersion: '3.21.1',
        target: 'linux-x64',
        backendsPath: '/store/gpu-backends',
        fetchable: ['cuda', 'vulkan'],
        installed: [],
        resolved: [],
        message: '',
        ...extra,
    };
}

function report(active: HardwareReport['backend']['active'], extra: Partial<HardwareReport> = {}): HardwareReport {
    return {
        os: { platform: 'linux', release: '6.1', arch: 'x64' },
        cpu: { model: 'CPU', physicalCores: 2, logicalCores: 2, mathCores: 2, simd: { avx: true, avx2: true, avx512: false, neon: false, flags: [] } },
        memory: { totalBytes: 16e9, freeBytes: 8e9, swapTotalBytes: 0, swapFreeBytes: 0, unified: false, bandwidthBytesPerSecond: 50e9 },
        gpus: [RTX],
        backend: { active, available: [active] },
        detectedAt: '2026-01-01T00:00:00.000Z',
        ...extra,
    };
}

describe('GPU acceleration offer', () => {
    it('offers the backend for the detected GPU with what it fetches, from where and how large', () => {
        const view = offerView(status(), { offer: CUDA_OFFER }, 'NVIDIA');
        assert.ok(view);
        assert.equal(view.headline, `CUDA can run models on the ${RTX.model}. ${CUDA_OFFER.summary}`);
        assert.deepEqual(
            view.actions.map((action) => [action.title, action.command]),
            [['Enable GPU Acceleration', 'localAi.enableGpu']],
        );
    });

    it('offers nothing where the sidecar has nothing to fetch and no advice', () => {
        assert.equal(offerView(status(), { offer: undefined }, 'NVIDIA'), undefined);
        assert.equal(offerView(undefined, undefined, undefined), undefined);
    });

    it('after a failed load says why and turns into the fixes: the driver for NVIDIA, another backend, or going back', () => {
        const failed = status({ installed: [CUDA_INSTALLED], loadFailure: 'CUDA driver version is insufficient for CUDA runtime version' });
        const view = offerView(failed, { offer: VULKAN_OFFER, advice: 'Install or update the NVIDIA driver (≥ 525), or try Vulkan instead.' }, 'NVIDIA');
        assert.ok(view);
        assert.equal(
            view.headline,
            'CUDA did not load, so llama.cpp runs on the CPU: CUDA driver version is insufficient for CUDA runtime version. Install or update the NVIDIA driver (≥ 525), or try Vulkan instead.',
        );
        assert.deepEqual(
            view.actions.map((action) => [action.title, action.command ?? action.url, action.args]),
            [
                ['Try Vulkan Instead', 'localAi.enableGpu', ['vulkan']],
                ['Install or Update the NVIDIA Driver', NVIDIA_DRIVER_URL, undefined],
                ['Disable GPU Acceleration', 'localAi.disableGpu', []],
            ],
        );
    });

    it('never offers the backend that just failed again, nor an NVIDIA driver for an AMD card', () => {
        const failed = status({ installed: [CUDA_INSTALLED], loadFailure: 'no GPU found' });
        const view = offerView(failed, { offer: CUDA_OFFER }, 'Advanced Micro Devices, Inc.');
        assert.deepEqual(
            view?.actions.map((action) => action.title),
            ['Disable GPU Acceleration'],
        );
    });

    it('the confirmation names every package and version, the registry, both sizes and the folder', () => {
        const detail = confirmDetail(CUDA_OFFER, '/store/gpu-backends');
        for (const expected of [
            '@node-llama-cpp/linux-x64-cuda@3.21.1 (180 MB download)',
            '@node-llama-cpp/linux-x64-cuda-ext@3.21.1 (360 MB download)',
            'From: https://registry.example.test/',
            'Size: 540 MB to download, 1.3 GB on disk once unpacked.',
            'Into: /store/gpu-backends',
            'sha512',
        ]) {
            assert.ok(detail.includes(expected), `missing "${expected}" in:\n${detail}`);
        }
    });
});

describe('GPU acceleration outcome', () => {
    it('names the backend and the GPU when llama.cpp runs on it', () => {
        const running = report('cuda', { gpus: [{ ...RTX, usable: true, backend: 'cuda' }] });
        assert.deepEqual(outcomeOf('cuda', running), { running: true, message: `Running on CUDA (${RTX.model}).` });
    });

    it('states node-llama-cpp’s reason and the advice when it fell back to the CPU', () => {
        const fellBack = report('cpu', {
            backend: { active: 'cpu', available: ['cpu'], cpuReason: 'This install has no CUDA build.' },
            gpuBackends: {
                installed: [CUDA_INSTALLED],
                loadFailure: 'libcuda.so.1: cannot open shared object file',
                advice: 'Install or update the NVIDIA driver.',
            },
        });
        assert.deepEqual(outcomeOf('cuda', fellBack), {
            running: false,
            message:
                'CUDA is installed but did not load, so models run on the CPU: libcuda.so.1: cannot open shared object file. Install or update the NVIDIA driver.',
        });
    });
});

describe('GPU fetch as a download row', () => {
    it('shows bytes and speed while downloading, then the phase', () => {
        const row = fetchAsDownload('vulkan', { package: '@node-llama-cpp/linux-x64-vulkan', phase: 'download', bytes: 35e6, totalBytes: 70e6 }, 7e6);
        assert.equal(row.modelId, GPU_DOWNLOAD_ID);
        assert.equal(row.name, 'Vulkan GPU build');
        assert.equal(row.state, 'downloading');
        assert.equal(row.etaSeconds, 5);
        const unpacking = fetchAsDownload('vulkan', { package: '@node-llama-cpp/linux-x64-vulkan', phase: 'unpack', bytes: 70e6, totalBytes: 70e6 }, 7e6);
        assert.equal(unpacking.state, 'verifying');
        assert.equal(unpacking.message, '@node-llama-cpp/linux-x64-vulkan: unpacking');
    });
});
