/**
 * The memory model's agreement through the real engine: a generated GGUF, a HardwareService on an
 * injected profile whose free RAM is set at the model's exact need, and an LocalEngine wired as
 * createLocalEngine wires it (the service's budget, autoConfig with its report). One byte short, the
 * file's badge says "won't fit" and ModelHost refuses the load; with that byte, both say it fits.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode, LocalAiError } from '../../src/common/errors';
import { defaultSettings } from '../../src/common/settings';
import { SidecarContext } from '../../src/sidecar/context';
import { LocalEngine } from '../../src/sidecar/local/localEngine';
import { LlamaRuntime } from '../../src/sidecar/llama/runtime';
import { resolveLoadConfig } from '../../src/sidecar/hardware/autoConfig';
import { HardwareService } from '../../src/sidecar/hardware/index';
import { DEFAULT_SEQUENCES, MIN_USEFUL_CONTEXT, memoryFromGguf, memoryNeeds } from '../../src/sidecar/llama/memoryModel';
import { readHardwareProfile } from '../../src/sidecar/hardware/profiles';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { profilePath } from '../fixtures/hardware/profiles';

const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

/** The Llama stays: its native binding is process-wide and other test files in this mocha run use it. */
const runtime = new LlamaRuntime({ log: silent, gpu: 'off' });

describe('memory model agreement in the engine (generated GGUF, real ModelHost)', function () {
    this.timeout(120_000);
    const modelPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    const cleanups: (() => Promise<void> | void)[] = [];

    afterEach(async () => {
        for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    /** A CPU machine with exactly `freeBytes` of free RAM, its hardware service and an engine wired as the sidecar wires it. */
    function machine(freeBytes: number): { hardware: HardwareService; engine: LocalEngine } {
        const statePath = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-agreement-'));
        const profile = readHardwareProfile(profilePath('desktop-8gb-cpu'));
        profile.facts.memory.freeBytes = freeBytes;
        const context = new SidecarContext({ log: silent, settings: defaultSettings(), secrets: { providerKeys: {} }, defaultModelsPath: '', statePath });
        const hardware = new HardwareService({ context, llama: () => runtime.get(), profile });
        const engine = new LocalEngine({
            runtime,
            log: silent,
            // One thread: on this 2-core machine more only contend; threads do not change memory.
            settingsOverrides: () => ({ threads: 1 }),
            resolveLoadConfig: async (request) => resolveLoadConfig({ ...request, hardware: await hardware.report() }),
            memoryBudget: () => hardware.memoryBudget(),
        });
        cleanups.push(
            () => fs.rmSync(statePath, { recursive: true, force: true }),
            () => hardware.dispose(),
            () => engine.dispose(),
        );
        return { hardware, engine };
    }

    it('refuses the load the badge says will not fit, and loads at the badge’s context when it fits', async () => {
        // An automatic load shrinks the context down to 2048 tokens before giving up: the need there is the threshold.
        const memory = await memoryFromGguf({ path: modelPath }, { llama: await runtime.get() });
        const needed = memoryNeeds(memory, { contextSize: MIN_USEFUL_CONTEXT, gpuLayers: 0, sequences: DEFAULT_SEQUENCES }).ramBytes;

        const short = machine(needed - 1);
        const refusedBadge = await short.hardware.estimateFile({ path: modelPath });
        assert.equal(refusedBadge.fit, 'none', refusedBadge.reason);
        let refusal: unknown;
        await short.engine.load({ model: modelPath }).catch((error: unknown) => {
            refusal = error;
        });
        assert.ok(refusal instanceof LocalAiError && refusal.code === ErrorCode.ModelDoesNotFit, `the load was not refused: ${String(refusal)}`);
        assert.equal(refusal.data.available, needed - 1);
        assert.deepEqual(short.engine.listLoaded(), []);

        const enough = machine(needed);
        const badge = await enough.hardware.estimateFile({ path: modelPath });
        assert.equal(badge.fit, 'cpu', badge.reason);
        assert.equal(badge.contextSize, MIN_USEFUL_CONTEXT);
        const loaded = await enough.engine.load({ model: modelPath });
        assert.equal(loaded.config.gpuLayers, 0);
        assert.equal(loaded.config.contextSize, badge.contextSize);
    });
});
