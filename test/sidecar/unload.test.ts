/**
 * An unload gives back everything node-llama-cpp allocated for the model: the context and both of its
 * sequences, the embedding context and the model itself, and no listener or handle stays behind
 * over many load → chat → embed → unload cycles. Real ModelHost, real node-llama-cpp, generated GGUF.
 * (How much memory comes back is bench/memory.bench.ts's to measure: RSS is too noisy for a test.)
 */
import * as assert from 'node:assert/strict';
import type { Llama } from 'node-llama-cpp';
import { embed, generateChat } from '../../src/sidecar/local/generate';
import { type LoadConfigResolver, type LoadedState, ModelHost } from '../../src/sidecar/local/modelHost';
import { LlamaRuntime } from '../../src/sidecar/llama/runtime';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';

const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

/** One thread: on this 2-core machine more threads only contend. */
const testConfig: LoadConfigResolver = async () => ({ threads: 1, gpuLayers: 0, contextSize: 512, batchSize: 512, flashAttention: false, notes: [] });

/** The Llama stays: its native binding is process-wide and other test files in this mocha run use it. */
const runtime = new LlamaRuntime({ log: silent, gpu: 'off' });

/** What one cycle touched: the loaded state, the sequences its chats ran on, and its embedding context. */
interface Cycle {
    state: LoadedState;
    sequences: Set<{ readonly disposed: boolean }>;
    embedding: { readonly disposed: boolean };
}

/** Loads, runs two chats at once (so both sequences are created) and an embedding; returns what it used, still loaded. */
async function useOnce(host: ModelHost, modelPath: string, round: number): Promise<Cycle> {
    return host.use(modelPath, async (state) => {
        const sequences = new Set<{ readonly disposed: boolean }>();
        const acquire = state.pool.acquire.bind(state.pool);
        state.pool.acquire = async (signal) => {
            const sequence = await acquire(signal);
            sequences.add(sequence);
            return sequence;
        };
        const ask = (text: string) => generateChat(state, { messages: [{ role: 'user', content: text }], options: { maxTokens: 4, temperature: 0 } });
        await Promise.all([ask(`Round ${round}, first.`), ask(`Round ${round}, second.`)]);
        await embed(state, [`Round ${round}.`]);
        return { state, sequences, embedding: (await state.embeddingContext()).context };
    });
}

/** Listeners node-llama-cpp keeps on the process's one Llama: each loaded model adds one. */
function llamaListeners(llama: Llama): number {
    return llama.onDispose.listenerCount;
}

/**
 * Active handles and requests by kind (sockets, file handles, workers…), as a sorted list. Timers are left
 * out: the sidecar suite runs every file in this one process, and other files' servers and backoffs start
 * and end timers of their own while this test runs (a full run once saw one more 'Timeout' than before);
 * the host's own idle timer is unref'd, so it is not counted here anyway.
 */
function activeResources(): string[] {
    return process
        .getActiveResourcesInfo()
        .filter((kind) => kind !== 'Timeout' && kind !== 'Immediate')
        .sort();
}

describe('unload (real ModelHost, real node-llama-cpp)', function () {
    this.timeout(300_000);
    const modelPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    let host: ModelHost | undefined;

    afterEach(async () => {
        await host?.dispose();
        host = undefined;
    });

    it('disposes the context, both sequences, the embedding context and the model', async () => {
        host = new ModelHost({ runtime, log: silent, resolveLoadConfig: testConfig, idleUnloadMs: 0 });
        const { state, sequences, embedding } = await useOnce(host, modelPath, 0);
        assert.equal(sequences.size, 2, 'the two chats did not run on two sequences');
        assert.ok(!state.model.disposed && !state.context.disposed && !embedding.disposed, 'something was disposed while still loaded');

        assert.deepEqual(await host.unload(), [state.info.modelId]);
        assert.deepEqual(host.listLoaded(), []);
        assert.deepEqual(
            {
                context: state.context.disposed,
                sequences: [...sequences].map((sequence) => sequence.disposed),
                embeddingContext: embedding.disposed,
                model: state.model.disposed,
                unloading: state.unloading.aborted,
            },
            { context: true, sequences: [true, true], embeddingContext: true, model: true, unloading: true },
        );
    });

    it('leaves no listener or handle behind over 10 cycles', async () => {
        const llama = await runtime.get();
        host = new ModelHost({ runtime, log: silent, resolveLoadConfig: testConfig, idleUnloadMs: 60_000 });
        // The first cycle imports and warms what stays for the process's life; the ones after it must add nothing.
        await useOnce(host, modelPath, 0);
        await host.unload();
        const listeners = llamaListeners(llama);
        const resources = activeResources();
        for (let round = 1; round <= 10; round++) {
            const { state } = await useOnce(host, modelPath, round);
            assert.equal(llamaListeners(llama), listeners + 1, `round ${round}: the loaded model is not the only one listening`);
            await host.unload();
            assert.ok(state.model.disposed, `round ${round}: the model was not disposed`);
        }
        assert.equal(llamaListeners(llama), listeners, 'a model left its listener on the Llama after its unload');
        assert.deepEqual(activeResources(), resources, 'handles were left behind');
    });
});
