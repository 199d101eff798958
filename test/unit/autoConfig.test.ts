/**
 * Automatic configuration: threads from physical (performance) cores for every profile, and
 * resolveLoadConfig on a real GGUF with a real node-llama-cpp, `auto` and overrides alike.
 */
import * as assert from 'node:assert/strict';
import type { Llama } from 'node-llama-cpp';
import { importNodeLlamaCpp } from '../../src/sidecar/llama/runtime';
import { AUTO_CONTEXT_CAP, autoThreads, resolveLoadConfig } from '../../src/sidecar/hardware/autoConfig';
import { memoryFromGguf, memoryNeeds } from '../../src/sidecar/llama/memoryModel';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { PROFILE_NAMES, profileReport, type ProfileName } from '../fixtures/hardware/profiles';

const EXPECTED_THREADS: Record<ProfileName, number> = {
    'laptop-4gb-cpu': 2, // 2 cores with hyper-threading: 4 logical, 2 threads
    'desktop-8gb-cpu': 6,
    'laptop-16gb-nvidia-6gb': 6, // 6 performance + 8 efficiency cores: the slow cores would hold the fast ones back
    'workstation-24gb-vram': 16,
    'apple-m2-16gb': 4,
    'vm-gpu-no-driver': 4,
};

describe('automatic configuration', function () {
    this.timeout(60_000);
    let llama: Llama;
    const modelPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);

    before(async () => {
        const { getLlama } = await importNodeLlamaCpp();
        llama = await getLlama({ gpu: false, build: 'never' });
    });

    after(async () => llama?.dispose());

    for (const name of PROFILE_NAMES) {
        it(`uses ${EXPECTED_THREADS[name]} threads on ${name}, never more than the physical cores`, () => {
            const report = profileReport(name);
            const threads = autoThreads(report);
            assert.equal(threads, EXPECTED_THREADS[name]);
            assert.ok(threads <= report.cpu.physicalCores && threads < report.cpu.logicalCores + 1);
        });
    }

    it('leaves a core free when the threads would take every hardware thread (2 cores, no SMT)', () => {
        const report = profileReport('laptop-4gb-cpu');
        const small = { ...report, cpu: { ...report.cpu, physicalCores: 2, logicalCores: 2, mathCores: 2 } };
        assert.equal(autoThreads(small), 1);
        const single = { ...report, cpu: { ...report.cpu, physicalCores: 1, logicalCores: 1, mathCores: 1 } };
        assert.equal(autoThreads(single), 1);
    });

    it('resolves every auto knob for a real model on the CPU', async () => {
        const hardware = profileReport('vm-gpu-no-driver');
        const config = await resolveLoadConfig({ modelPath, hardware, overrides: {}, llama });
        assert.equal(config.threads, 4, 'threads come from the report, not from node-llama-cpp');
        assert.equal(config.gpuLayers, 0);
        assert.equal(config.flashAttention, false);
        // The generator's default trained context.
        const trained = tinyModel.contextLength ?? 4096;
        assert.ok(config.contextSize >= 512 && config.contextSize <= Math.min(AUTO_CONTEXT_CAP, trained), `context ${config.contextSize}`);
        assert.ok(config.batchSize >= 1 && config.batchSize <= config.contextSize);
        assert.ok(
            config.notes.some((note) => /^Threads 4: one per physical core/.test(note)),
            config.notes.join('\n'),
        );
        assert.ok(config.notes.some((note) => /^Context \d+ tokens/.test(note)));
    });

    it('keeps explicit settings, capping the context at what the model was trained on', async () => {
        const hardware = profileReport('desktop-8gb-cpu');
        const config = await resolveLoadConfig({
            modelPath,
            hardware,
            overrides: { threads: 1, contextSize: 1024, batchSize: 128, gpuLayers: 10, flashAttention: false },
            llama,
        });
        assert.deepEqual(
            {
                threads: config.threads,
                contextSize: config.contextSize,
                batchSize: config.batchSize,
                gpuLayers: config.gpuLayers,
                flashAttention: config.flashAttention,
            },
            // No GPU in this process: layers stay on the CPU whatever the setting says.
            { threads: 1, contextSize: 1024, batchSize: 128, gpuLayers: 0, flashAttention: false },
        );
        const huge = await resolveLoadConfig({ modelPath, hardware, overrides: { contextSize: 10_000_000 }, llama });
        assert.ok(huge.contextSize < 10_000_000);
        assert.ok(
            huge.notes.some((note) => /trained on/.test(note)),
            huge.notes.join('\n'),
        );
    });

    it('warns in the notes when threads are set above the physical cores', async () => {
        const config = await resolveLoadConfig({ modelPath, hardware: profileReport('laptop-4gb-cpu'), overrides: { threads: 8 }, llama });
        assert.equal(config.threads, 8);
        assert.ok(
            config.notes.some((note) => /more than the 2 physical cores/.test(note)),
            config.notes.join('\n'),
        );
    });

    it('keeps more conversations in parallel only where the memory holds their caches at the chosen context', async () => {
        const hardware = profileReport('desktop-8gb-cpu');
        const overrides = { contextSize: 2048 };
        const roomy = await resolveLoadConfig({ modelPath, hardware, overrides, llama, sequences: 2, maxSequences: 4 });
        assert.equal(roomy.sequences, 4);
        assert.ok(
            roomy.notes.some((note) => /^4 conversations kept in parallel/.test(note)),
            roomy.notes.join('\n'),
        );
        // A budget that holds exactly three caches of 2048 tokens gets three, never fewer than asked.
        const memory = await memoryFromGguf({ path: modelPath }, { llama });
        const three = memoryNeeds(memory, { contextSize: 2048, gpuLayers: 0, sequences: 3 }).ramBytes;
        const budget = { ramBytes: three, vramBytes: 0, unified: false };
        assert.equal((await resolveLoadConfig({ modelPath, hardware, overrides, llama, budget, sequences: 2, maxSequences: 4 })).sequences, 3);
        assert.equal(
            (await resolveLoadConfig({ modelPath, hardware, overrides, llama, budget: { ...budget, ramBytes: 1 }, sequences: 2, maxSequences: 4 })).sequences,
            2,
        );
        assert.equal((await resolveLoadConfig({ modelPath, hardware, overrides, llama, sequences: 1 })).sequences, 1);
    });
});
