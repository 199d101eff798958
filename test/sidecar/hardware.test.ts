/**
 * The hardware report and fit estimates through the REAL sidecar process over JSON-RPC, and through
 * the CLI, on this machine and with an injected profile.
 */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCode } from '../../src/common/errors';
import type { HardwareReport } from '../../src/common/hardware';
import { FitRequest, HardwareRequest, type FitResult } from '../../src/common/protocol';
import { startFakeHub } from '../fixtures/fakeHub/server';
import { benchModel, defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { profilePath } from '../fixtures/hardware/profiles';
import { repoRoot, startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';

const run = promisify(execFile);

/** What Linux itself says, independent of systeminformation. */
function cpuModelFromProc(): string | undefined {
    try {
        return /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1].trim();
    } catch {
        return undefined;
    }
}

function assertDescribesThisMachine(report: HardwareReport): void {
    assert.equal(report.os.arch, process.arch);
    assert.equal(report.os.platform, process.platform);
    const procModel = cpuModelFromProc();
    if (procModel) assert.equal(report.cpu.model.replace(/\s+/g, ' '), procModel.replace(/\s+/g, ' '));
    assert.ok(report.cpu.logicalCores === os.cpus().length, `${report.cpu.logicalCores} logical vs ${os.cpus().length}`);
    assert.ok(report.cpu.physicalCores >= 1 && report.cpu.physicalCores <= report.cpu.logicalCores);
    assert.ok(report.cpu.mathCores >= 1 && report.cpu.mathCores <= report.cpu.physicalCores);
    assert.ok(Math.abs(report.memory.totalBytes - os.totalmem()) < os.totalmem() * 0.02, 'RAM total matches the OS');
    assert.ok(report.memory.freeBytes > 0 && report.memory.freeBytes <= report.memory.totalBytes);
    assert.ok(report.backend.available.includes('cpu'));
    // Without an NVIDIA device node there is no CUDA here, so llama.cpp must say it runs on the CPU.
    if (process.platform === 'linux' && !fs.existsSync('/dev/nvidia0') && !fs.existsSync('/dev/dri')) assert.equal(report.backend.active, 'cpu');
    assert.ok(!Number.isNaN(Date.parse(report.detectedAt)));
}

describe('hardware through the real sidecar', function () {
    this.timeout(120_000);
    let sidecar: SidecarProcess | undefined;
    const tinyPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);

    afterEach(async () => {
        await sidecar?.stop();
        sidecar = undefined;
    });

    it('reports this machine', async () => {
        sidecar = await startSidecar();
        const report = await sidecar.connection.sendRequest(HardwareRequest.type, {});
        assertDescribesThisMachine(report);
        const refreshed = await sidecar.connection.sendRequest(HardwareRequest.type, { refresh: true });
        assert.ok(Date.parse(refreshed.detectedAt) >= Date.parse(report.detectedAt));
    });

    it('estimates a GGUF file from its header', async () => {
        sidecar = await startSidecar();
        const result: FitResult = await sidecar.connection.sendRequest(FitRequest.type, { model: tinyPath, contextSize: 1024 });
        assert.equal(result.estimates.length, 1);
        const [{ estimate }] = result.estimates;
        assert.equal(estimate.contextSize, 1024);
        assert.notEqual(estimate.fit, 'none');
        assert.ok(estimate.ramBytes > 0 && estimate.tokensPerSecond > 0);
    });

    it('pretends to be the injected 16 GB + 6 GB NVIDIA laptop, and estimates each quantization of a catalog model', async () => {
        sidecar = await startSidecar({ env: { LOCAL_AI_HARDWARE_PROFILE: profilePath('laptop-16gb-nvidia-6gb') } });
        const report = await sidecar.connection.sendRequest(HardwareRequest.type, {});
        assert.equal(report.backend.active, 'cuda');
        assert.ok(report.gpus.some((gpu) => gpu.model === 'NVIDIA GeForce RTX 3060 Laptop GPU' && gpu.usable));
        const result = await sidecar.connection.sendRequest(FitRequest.type, { model: 'qwen2.5-coder-7b-instruct', contextSize: 4096 });
        const byQuant = Object.fromEntries(result.estimates.map((e) => [e.quant, e.estimate.fit]));
        assert.equal(byQuant.Q4_K_M, 'gpu');
        assert.equal(byQuant.Q8_0, 'partial');
    });

    it('estimates a file on the hub from its header only, without downloading the weights', async () => {
        const benchPath = ensureFixtureModel(defaultFixtureDir(), benchModel);
        const size = fs.statSync(benchPath).size;
        const hub = await startFakeHub({ files: [{ repo: 'test/bench-GGUF', path: 'bench-F16.gguf', filePath: benchPath }] });
        try {
            sidecar = await startSidecar({ settings: { hubEndpoint: hub.url }, env: { LOCAL_AI_HARDWARE_PROFILE: profilePath('desktop-8gb-cpu') } });
            const result = await sidecar.connection.sendRequest(FitRequest.type, { model: 'hf:test/bench-GGUF/bench-F16.gguf', contextSize: 2048 });
            assert.equal(result.estimates.length, 1);
            assert.equal(result.estimates[0].estimate.fit, 'cpu');
            assert.equal(result.estimates[0].estimate.contextSize, 2048);
            assert.ok(hub.bytesServed() > 0 && hub.bytesServed() < size / 4, `the hub served ${hub.bytesServed()} of ${size} bytes`);
        } finally {
            await hub.stop();
        }
    });

    it('answers a fit request without a model with InvalidParams', async () => {
        sidecar = await startSidecar();
        await assert.rejects(sidecar.connection.sendRequest(FitRequest.type, { model: '' }), (error: unknown) => {
            assert.ok(error instanceof ResponseError);
            assert.equal(error.code, ErrorCode.InvalidParams);
            return true;
        });
    });
});

describe('hardware through the CLI', function () {
    this.timeout(120_000);
    const cli = path.join(repoRoot(), 'dist', 'cli.mjs');
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-cli-home-'));
    const env = { ...process.env, HOME: home, LOCAL_AI_OFFLINE: '1' };

    it('prints this machine as JSON and as a table', async () => {
        const json = await run(process.execPath, [cli, 'hardware', '--json'], { env });
        const report = JSON.parse(json.stdout) as HardwareReport;
        assertDescribesThisMachine(report);
        const table = await run(process.execPath, [cli, 'hardware'], { env });
        assert.match(table.stdout, new RegExp(`^CPU\\s+${report.cpu.model.replace(/[()[\]]/g, '\\$&')}:`, 'm'));
        assert.match(table.stdout, /^llama\.cpp\s+runs on /m);
    });

    it('explains the CPU fallback of the injected VM profile', async () => {
        const { stdout } = await run(process.execPath, [cli, 'hardware'], { env: { ...env, LOCAL_AI_HARDWARE_PROFILE: profilePath('vm-gpu-no-driver') } });
        assert.match(stdout, /^Why CPU\s+The NVIDIA TU104GL \[Tesla T4\] has no working NVIDIA driver/m);
    });

    it('estimates a GGUF file, as JSON and as a table', async () => {
        const tinyPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
        const json = await run(process.execPath, [cli, 'fit', tinyPath, '--context', '2048', '--json'], { env });
        const result = JSON.parse(json.stdout) as FitResult;
        assert.equal(result.estimates[0].estimate.contextSize, 2048);
        const table = await run(process.execPath, [cli, 'fit', tinyPath], { env });
        assert.match(table.stdout, /^QUANT\s+FIT\s+GPU LAYERS/m);
    });

    it('refuses a bad context size with a usage error', async () => {
        await assert.rejects(run(process.execPath, [cli, 'fit', 'x.gguf', '--context', 'lots'], { env }), (error: { code?: number; stderr?: string }) => {
            assert.equal(error.code, 2);
            assert.match(error.stderr ?? '', /--context needs a whole number/);
            return true;
        });
    });
});
