/**
 * Fit classes for every injected hardware profile against catalog-like models, the numbers behind
 * them, estimates read from real GGUF headers (from disk and over HTTP range requests), and the
 * correction by measurements of real loads.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FitClass } from '../../src/common/hardware';
import { defaultSettings } from '../../src/common/settings';
import { SidecarContext } from '../../src/sidecar/context';
import { importNodeLlamaCpp } from '../../src/sidecar/llama/runtime';
import { estimateFit } from '../../src/sidecar/hardware/fit';
import { memoryFromCatalog, memoryFromGguf } from '../../src/sidecar/llama/memoryModel';
import { HardwareService } from '../../src/sidecar/hardware/index';
import { readHardwareProfile } from '../../src/sidecar/hardware/profiles';
import { benchModel, defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { PROFILE_NAMES, catalogLikeEntries, profilePath, profileReport, type ProfileName } from '../fixtures/hardware/profiles';

const GB = 1024 ** 3;

/** Rows: profile; columns: the catalog-like files in order (tiny-1b Q4/Q8, small-3b Q4/Q8, mid-7b Q4/Q8, big-14b Q4/Q8, huge-32b, giant-70b). */
const EXPECTED: Record<ProfileName, FitClass[]> = {
    'laptop-4gb-cpu': ['cpu', 'cpu', 'cpu', 'none', 'none', 'none', 'none', 'none', 'none', 'none'],
    'desktop-8gb-cpu': ['cpu', 'cpu', 'cpu', 'cpu', 'cpu', 'none', 'none', 'none', 'none', 'none'],
    'laptop-16gb-nvidia-6gb': ['gpu', 'gpu', 'gpu', 'gpu', 'gpu', 'partial', 'partial', 'partial', 'none', 'none'],
    'workstation-24gb-vram': ['gpu', 'gpu', 'gpu', 'gpu', 'gpu', 'gpu', 'gpu', 'gpu', 'gpu', 'partial'],
    'apple-m2-16gb': ['gpu', 'gpu', 'gpu', 'gpu', 'gpu', 'gpu', 'gpu', 'none', 'none', 'none'],
    'vm-gpu-no-driver': ['cpu', 'cpu', 'cpu', 'cpu', 'cpu', 'cpu', 'cpu', 'cpu', 'cpu', 'none'],
};

function files() {
    return catalogLikeEntries().flatMap((entry) => entry.files.map((file) => ({ entry, file })));
}

describe('fit estimation', () => {
    for (const name of PROFILE_NAMES) {
        it(`classifies every file for the ${name} profile, with numbers and a one-line reason`, () => {
            const hardware = profileReport(name);
            const classes = files().map(({ entry, file }) => {
                const fit = estimateFit({ hardware, model: memoryFromCatalog(entry, file), contextSize: 4096 });
                const label = `${entry.id} ${file.quant} on ${name}`;
                assert.ok(fit.reason.length > 20 && !fit.reason.includes('\n'), `${label}: reason "${fit.reason}"`);
                // A model that does not fit at 4096 tokens is judged at the smaller context an automatic load would take
                // (no less than 2048), and the reason names it.
                assert.ok(
                    fit.contextSize === 4096 || (fit.fit !== 'none' && fit.contextSize >= 2048 && fit.contextSize < 4096),
                    `${label}: context ${fit.contextSize}`,
                );
                assert.ok(fit.reason.includes(`at ${fit.contextSize} tokens of context`), `${label}: reason "${fit.reason}"`);
                // The memory a model needs never shrinks below its weights.
                assert.ok(fit.ramBytes + (hardware.memory.unified ? 0 : fit.vramBytes) >= file.sizeBytes, `${label}: memory below the weights`);
                switch (fit.fit) {
                    case 'gpu':
                        assert.equal(fit.gpuLayers, fit.totalLayers, label);
                        assert.ok(fit.vramBytes > file.sizeBytes && fit.tokensPerSecond > 0, label);
                        break;
                    case 'partial':
                        assert.ok(fit.gpuLayers > 0 && fit.gpuLayers < fit.totalLayers, `${label}: ${fit.gpuLayers}/${fit.totalLayers}`);
                        assert.ok(fit.vramBytes > 0 && fit.ramBytes > 0, label);
                        assert.match(fit.reason, new RegExp(`^${fit.gpuLayers} of ${fit.totalLayers} layers`));
                        break;
                    case 'cpu':
                        assert.equal(fit.gpuLayers, 0, label);
                        assert.equal(fit.vramBytes, 0, label);
                        assert.ok(fit.tokensPerSecond > 0, label);
                        break;
                    case 'none':
                        assert.equal(fit.tokensPerSecond, 0, label);
                        assert.match(fit.reason, /^Does not fit/);
                        break;
                }
                return fit.fit;
            });
            assert.deepEqual(classes, EXPECTED[name]);
        });
    }

    it('explains a CPU fit on the VM by the unusable GPU', () => {
        const [{ entry, file }] = files();
        const fit = estimateFit({ hardware: profileReport('vm-gpu-no-driver'), model: memoryFromCatalog(entry, file), contextSize: 4096 });
        assert.match(fit.reason, /GPU is not usable/);
    });

    it('falls back to the CPU for every file when the GPU is turned off in the settings', () => {
        const hardware = profileReport('laptop-16gb-nvidia-6gb', 'off');
        const classes = files().map(({ entry, file }) => estimateFit({ hardware, model: memoryFromCatalog(entry, file), contextSize: 4096 }).fit);
        assert.ok(
            classes.every((fit) => fit === 'cpu' || fit === 'none'),
            classes.join(),
        );
    });

    it('needs more memory for a longer context, and never more context than the model was trained on', () => {
        const hardware = profileReport('workstation-24gb-vram');
        const entry = catalogLikeEntries().find((e) => e.id === 'mid-7b')!;
        const model = memoryFromCatalog(entry, entry.files[0]);
        const short = estimateFit({ hardware, model, contextSize: 2048 });
        const long = estimateFit({ hardware, model, contextSize: 32768 });
        assert.ok(long.vramBytes > short.vramBytes + (1 * GB) / 2, `${long.vramBytes} vs ${short.vramBytes}`);
        assert.ok(long.tokensPerSecond < short.tokensPerSecond);
        assert.equal(estimateFit({ hardware, model, contextSize: 1_000_000 }).contextSize, 32768);
    });

    it('uses a real load’s numbers for the same file', () => {
        const hardware = profileReport('desktop-8gb-cpu');
        const entry = catalogLikeEntries().find((e) => e.id === 'small-3b')!;
        const model = memoryFromCatalog(entry, entry.files[0]);
        const estimated = estimateFit({ hardware, model, contextSize: 4096 });
        const measured = estimateFit({ hardware, model, contextSize: 4096, measurement: { ramBytes: 3 * GB, vramBytes: 0, tokensPerSecond: 7.5 } });
        assert.equal(estimated.measured, false);
        assert.equal(measured.measured, true);
        assert.equal(measured.tokensPerSecond, 7.5);
        assert.equal(measured.ramBytes, 3 * GB);
        assert.match(measured.reason, /Measured here: 7\.5 tokens\/s\.$/);
        const memoryOnly = estimateFit({ hardware, model, contextSize: 4096, measurement: { ramBytes: 3 * GB, vramBytes: 0, tokensPerSecond: 0 } });
        assert.equal(memoryOnly.tokensPerSecond, estimated.tokensPerSecond, 'a load without generation keeps the estimated speed');
        assert.match(memoryOnly.reason, /Memory measured here\.$/);
    });

    it('rejects a malformed hardware profile with the reason', () => {
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-profile-')), 'bad.json');
        fs.writeFileSync(file, JSON.stringify({ name: 'bad', facts: { os: {}, cpu: {}, memory: {}, llama: {}, gpus: [] } }));
        assert.throws(() => readHardwareProfile(file), /facts\.memory\.totalBytes must be a number/);
    });
});

describe('HardwareService estimates (injected profile, real GGUF headers)', function () {
    this.timeout(60_000);
    const llama = importNodeLlamaCpp().then(({ getLlama }) => getLlama({ gpu: false, build: 'never' }));
    const tinyPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    const benchPath = ensureFixtureModel(defaultFixtureDir(), benchModel);
    let statePath: string;

    function service(profile: ProfileName = 'desktop-8gb-cpu'): HardwareService {
        const context = new SidecarContext({
            log: { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined },
            settings: defaultSettings(),
            secrets: { providerKeys: {} },
            defaultModelsPath: '',
            statePath,
        });
        return new HardwareService({ context, llama: () => llama, profile: readHardwareProfile(profilePath(profile)) });
    }

    beforeEach(() => {
        statePath = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-state-'));
    });

    after(async () => (await llama).dispose());

    it('reads a local GGUF header: its layers, weights and context cost', async () => {
        const model = await memoryFromGguf({ path: benchPath }, { llama: await llama });
        assert.equal(model.totalLayers, (benchModel.nLayer ?? 0) + 1, 'block count + the output layer');
        const size = fs.statSync(benchPath).size;
        assert.ok(model.weightsBytes > size * 0.9 && model.weightsBytes <= size, `${model.weightsBytes} vs file ${size}`);
        assert.ok(model.kvBytesPerToken > 0);
        const fit = await service().estimateFile({ path: benchPath }, 2048);
        assert.equal(fit.fit, 'cpu');
        assert.equal(fit.contextSize, 2048);
    });

    it('reads a remote GGUF over HTTP range requests without downloading the weights', async () => {
        const size = fs.statSync(benchPath).size;
        let served = 0;
        const server = http.createServer((request, response) => {
            const range = /bytes=(\d+)-(\d*)/.exec(request.headers.range ?? '');
            const start = range ? Number(range[1]) : 0;
            const end = range?.[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
            response.writeHead(range ? 206 : 200, {
                'Content-Length': end - start + 1,
                'Accept-Ranges': 'bytes',
                ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
            });
            if (request.method === 'HEAD') return response.end();
            const stream = fs.createReadStream(benchPath, { start, end });
            stream.on('data', (chunk) => (served += chunk.length));
            stream.pipe(response);
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        try {
            const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bench.gguf`;
            const fit = await service('laptop-16gb-nvidia-6gb').estimateFile({ url }, 4096);
            assert.equal(fit.fit, 'gpu');
            assert.ok(served < size / 4, `served ${served} of ${size} bytes`);
        } finally {
            server.closeAllConnections();
            await new Promise((resolve) => server.close(resolve));
        }
    });

    it('corrects later estimates with recorded measurements, across restarts', async () => {
        const first = service();
        await first.report();
        assert.equal((await first.estimateFile({ path: tinyPath })).measured, false);
        first.recordMeasurement({ modelPath: tinyPath, ramBytes: 64 * 1024 ** 2, vramBytes: 0, tokensPerSecond: 123 });
        // A later load that measured memory but no speed yet keeps the speed measured before.
        first.recordMeasurement({ modelPath: tinyPath, ramBytes: 64 * 1024 ** 2, vramBytes: 0, tokensPerSecond: 0 });
        first.dispose();
        const second = service();
        const fit = await second.estimateFile({ path: tinyPath });
        assert.equal(fit.measured, true);
        assert.equal(fit.tokensPerSecond, 123);
        assert.ok(fit.ramBytes >= 64 * 1024 ** 2);
        // The same file name in the catalog (installed elsewhere) shares the measurement.
        const entry = catalogLikeEntries()[0];
        const file = { ...entry.files[0], file: path.basename(tinyPath) };
        assert.equal(second.estimateCatalogFile(entry, file).measured, true);
        second.dispose();
    });
});
