/**
 * GPU acceleration on demand end to end, with the real sidecar process and the real `local-ai` CLI: a pretend
 * Linux machine with an NVIDIA GPU and its driver (test/fixtures/hardware/linux-nvidia-cpu-build.json) is offered
 * CUDA with the registry's sizes; Vulkan is enabled from a loopback registry serving the real
 * @node-llama-cpp/linux-x64-vulkan package; after a restart node-llama-cpp asks for it, the resolve hook answers
 * from the backends folder, and on this machine (no GPU) llama.cpp falls back to the CPU with node-llama-cpp's
 * reason in the report. No GPU is needed: every step up to the load is proven.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { HardwareReport } from '../../src/common/hardware';
import { type GpuEnableResult, type GpuFetchProgress, GpuFetchProgressType, type GpuOfferResult, type GpuStatus } from '../../src/common/protocol';
import { nodeLlamaCppVersion } from '../../src/sidecar/gpu/packages';
import { runCli } from '../fixtures/cliProcess';
import { craftedPackage, type FakeNpmRegistry, packInstalledPackage, startFakeNpmRegistry } from '../fixtures/fakeNpmRegistry/server';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';

const VULKAN = '@node-llama-cpp/linux-x64-vulkan';
const PROFILE = path.resolve('test', 'fixtures', 'hardware', 'linux-nvidia-cpu-build.json');
/** node-llama-cpp's own line when its test of a prebuilt binary fails. */
const BINARY_TEST_FAILED = /with Vulkan support is not compatible with the current system/;

describe('gpu: a fetched backend in the real sidecar and CLI', function () {
    this.timeout(600_000);
    let registry: FakeNpmRegistry;
    let backends: string;
    const running: SidecarProcess[] = [];

    const start = async () => {
        const sidecar = await startSidecar({
            settings: { gpuRegistry: registry.url },
            gpuBackendsPath: backends,
            env: { LOCAL_AI_HARDWARE_PROFILE: PROFILE },
        });
        running.push(sidecar);
        return sidecar;
    };

    before(async () => {
        registry = await startFakeNpmRegistry([packInstalledPackage(VULKAN)]);
        // The CUDA packages are only described (the offer), never fetched here: small stand-ins keep the run short.
        for (const name of ['@node-llama-cpp/linux-x64-cuda', '@node-llama-cpp/linux-x64-cuda-ext']) {
            registry.add(craftedPackage(name, nodeLlamaCppVersion(), [{ name: 'package/package.json', data: Buffer.from(`{"name":"${name}"}`) }]));
        }
    });

    beforeEach(() => {
        backends = mkdtempSync(path.join(tmpdir(), 'local-ai-gpu-backends-'));
    });

    afterEach(async () => {
        await Promise.all(running.splice(0).map((sidecar) => sidecar.stop()));
    });

    after(async () => {
        await registry.close();
    });

    it('offer → enable Vulkan with progress → restart → node-llama-cpp loads it through the hook → CPU fallback with its reason', async () => {
        const first = await start();
        const { offer } = await first.connection.sendRequest<GpuOfferResult>('localAi/gpu/offer', {});
        assert.ok(offer, 'an NVIDIA GPU with a driver and no GPU build installed gets an offer');
        assert.equal(offer.backend, 'cuda');
        assert.equal(offer.gpu, 'NVIDIA GeForce RTX 4070');
        assert.deepEqual(
            offer.packages.map((p) => p.name),
            ['@node-llama-cpp/linux-x64-cuda', '@node-llama-cpp/linux-x64-cuda-ext'],
        );
        assert.equal(offer.registry, registry.url);

        const progress: GpuFetchProgress[] = [];
        const token = 'gpu-enable';
        const listening = first.connection.onProgress(GpuFetchProgressType, token, (value) => progress.push(value));
        const enabled = await first.connection.sendRequest<GpuEnableResult>('localAi/gpu/enable', { backend: 'vulkan', partialResultToken: token });
        listening.dispose();
        const folder = path.join(backends, nodeLlamaCppVersion(), 'linux-x64-vulkan');
        assert.equal(enabled.installed.folder, folder);
        assert.equal(enabled.restartRequired, true);
        assert.ok(progress.some((p) => p.phase === 'download' && p.bytes > 0 && p.totalBytes > 0));
        assert.ok(progress.some((p) => p.phase === 'unpack'));
        await first.stop();

        const second = await start();
        const report = await second.connection.sendRequest<HardwareReport>('localAi/hardware/get', {});
        assert.equal(report.backend.active, 'cpu');
        assert.deepEqual(
            report.gpuBackends?.installed.map((each) => [each.backend, each.folder]),
            [['vulkan', folder]],
        );
        assert.ok((report.gpuBackends?.installed[0].sizeBytes ?? 0) > 50e6, 'the report gives the installed size');
        assert.match(report.gpuBackends?.loadFailure ?? '', /The Vulkan build of llama\.cpp was found but did not load: node-llama-cpp says/);
        assert.match(report.gpuBackends?.loadFailure ?? '', BINARY_TEST_FAILED);
        assert.match(report.backend.cpuReason ?? '', BINARY_TEST_FAILED);
        assert.match(report.backend.cpuReason ?? '', /Vulkan driver/);

        const status = await second.connection.sendRequest<GpuStatus>('localAi/gpu/status');
        assert.deepEqual(status.resolved, [{ specifier: VULKAN, folder }], 'node-llama-cpp imported the backend from the backends folder');
        assert.equal(status.active, 'cpu');

        const disabled = await second.connection.sendRequest<{ removed: string[]; restartRequired: boolean }>('localAi/gpu/disable');
        assert.deepEqual(disabled, { removed: [folder], restartRequired: true });
    });

    it('the CLI: enable, status with the reason, disable; offline and a wrong backend get their exit codes', async () => {
        const env = { npm_config_registry: registry.url, LOCAL_AI_HARDWARE_PROFILE: PROFILE, LOCAL_AI_GPU_DIR: backends };
        const folder = path.join(backends, nodeLlamaCppVersion(), 'linux-x64-vulkan');

        const offline = await runCli(['gpu', 'enable', '--backend', 'vulkan'], { ...env, LOCAL_AI_OFFLINE: '1' }).done;
        assert.equal(offline.code, 5, offline.stderr);
        assert.match(offline.stderr, /offline mode/);

        const wrong = await runCli(['gpu', 'enable', '--backend', 'metal'], env).done;
        assert.equal(wrong.code, 2, wrong.stderr);

        const enable = await runCli(['gpu', 'enable', '--backend', 'vulkan'], env).done;
        assert.equal(enable.code, 0, enable.stderr);
        assert.match(enable.stdout, new RegExp(`Installed Vulkan .* in ${folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

        const status = await runCli(['gpu', 'status', '--json'], env).done;
        assert.equal(status.code, 0, status.stderr);
        const parsed = JSON.parse(status.stdout) as GpuStatus;
        assert.deepEqual(
            parsed.installed.map((each) => each.folder),
            [folder],
        );
        assert.deepEqual(parsed.resolved, [{ specifier: VULKAN, folder }]);
        assert.match(parsed.loadFailure ?? '', BINARY_TEST_FAILED);

        const disable = await runCli(['gpu', 'disable'], env).done;
        assert.equal(disable.code, 0, disable.stderr);
        assert.match(disable.stdout, new RegExp(`removed ${folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    });
});
