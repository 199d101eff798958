/**
 * The hardware report built from each injected profile: unified memory, SIMD, which GPU llama.cpp can
 * use, and the plain-words answer to "why am I on the CPU?".
 */
import * as assert from 'node:assert/strict';
import { readHardwareProfile } from '../../src/sidecar/hardware/profiles';
import { buildReport, type HardwareFacts } from '../../src/sidecar/hardware/report';
import { profilePath, profileReport } from '../fixtures/hardware/profiles';

function facts(name: Parameters<typeof profilePath>[0]): HardwareFacts {
    return readHardwareProfile(profilePath(name)).facts;
}

describe('hardware report', () => {
    it('has nothing to explain on machines without a GPU', () => {
        for (const name of ['laptop-4gb-cpu', 'desktop-8gb-cpu'] as const) {
            const report = profileReport(name);
            assert.equal(report.backend.active, 'cpu');
            assert.deepEqual(report.gpus, []);
            assert.equal(report.backend.cpuReason, undefined);
        }
    });

    it('uses the NVIDIA GPU with CUDA, and not the integrated one', () => {
        const report = profileReport('laptop-16gb-nvidia-6gb');
        assert.equal(report.backend.active, 'cuda');
        assert.deepEqual(report.backend.available, ['cuda', 'vulkan', 'cpu']);
        const nvidia = report.gpus.find((gpu) => gpu.vendor === 'NVIDIA')!;
        assert.equal(nvidia.usable, true);
        assert.equal(nvidia.backend, 'cuda');
        const integrated = report.gpus.find((gpu) => gpu.vendor.startsWith('Intel'))!;
        assert.equal(integrated.usable, false);
        assert.equal(integrated.unusableReason, 'llama.cpp uses the CUDA GPU instead');
        assert.equal(report.backend.cpuReason, undefined);
        assert.equal(report.cpu.mathCores, 6, 'performance cores only');
    });

    it('explains in plain words why a VM with an undriven Tesla T4 runs on the CPU', () => {
        const report = profileReport('vm-gpu-no-driver');
        assert.equal(report.backend.active, 'cpu');
        assert.match(report.backend.cpuReason ?? '', /NVIDIA TU104GL \[Tesla T4\] has no working NVIDIA driver.*install the NVIDIA driver/);
        const adapter = report.gpus.find((gpu) => gpu.vendor === 'VMware')!;
        assert.equal(adapter.usable, false);
        assert.match(adapter.unusableReason ?? '', /virtual display adapter/);
    });

    it('names the setting when the user turned the GPU off', () => {
        const report = profileReport('laptop-16gb-nvidia-6gb', 'off');
        assert.equal(report.backend.active, 'cpu');
        assert.match(report.backend.cpuReason ?? '', /turned off in the settings.*"auto"/);
        assert.ok(report.gpus.every((gpu) => !gpu.usable));
    });

    it('says when this install lacks the GPU build, or the setting asks for a backend that cannot run', () => {
        const noBinaries = facts('laptop-16gb-nvidia-6gb');
        noBinaries.llama = { ...noBinaries.llama, gpu: false, binaries: [], supported: ['cuda'] };
        assert.match(buildReport(noBinaries, 'auto').backend.cpuReason ?? '', /no CUDA or Vulkan build of llama\.cpp for win32-x64/);
        const wrongMode = facts('laptop-16gb-nvidia-6gb');
        wrongMode.llama = { ...wrongMode.llama, gpu: false };
        assert.match(buildReport(wrongMode, 'metal').backend.cpuReason ?? '', /settings ask for Metal.*use CUDA/);
        const driverButNoCuda = facts('laptop-16gb-nvidia-6gb');
        driverButNoCuda.llama = { ...driverButNoCuda.llama, gpu: false, supported: [] };
        assert.match(buildReport(driverButNoCuda, 'auto').backend.cpuReason ?? '', /NVIDIA driver 551\.61 is installed, but neither the CUDA libraries/);
    });

    it('takes the GPU from llama.cpp when the OS does not list it (containers)', () => {
        const container = facts('laptop-16gb-nvidia-6gb');
        container.gpus = [];
        container.llama = { ...container.llama, deviceNames: ['NVIDIA GeForce RTX 3060 Laptop GPU'] };
        const report = buildReport(container, 'auto');
        assert.equal(report.gpus.length, 1);
        assert.deepEqual(
            [report.gpus[0].vendor, report.gpus[0].model, report.gpus[0].usable, report.gpus[0].backend, report.gpus[0].vramTotalBytes],
            ['NVIDIA', 'NVIDIA GeForce RTX 3060 Laptop GPU', true, 'cuda', 6 * 1024 ** 3],
        );
    });

    it('counts Apple unified memory as both RAM and VRAM', () => {
        const report = profileReport('apple-m2-16gb');
        assert.equal(report.memory.unified, true);
        assert.equal(report.backend.active, 'metal');
        assert.equal(report.gpus[0].vramTotalBytes, report.memory.totalBytes);
        assert.equal(report.gpus[0].usable, true);
        assert.equal(report.cpu.simd.neon, true);
        assert.ok(report.memory.bandwidthBytesPerSecond >= 100e9, 'M2 bandwidth');
    });

    it('reports SIMD features from the CPU flags', () => {
        const workstation = profileReport('workstation-24gb-vram');
        assert.deepEqual([workstation.cpu.simd.avx2, workstation.cpu.simd.avx512, workstation.cpu.simd.neon], [true, true, false]);
        assert.equal(profileReport('desktop-8gb-cpu').cpu.simd.avx512, false);
    });
});
