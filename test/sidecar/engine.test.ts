/**
 * The inference engine driven directly, with real node-llama-cpp on generated GGUF models:
 * streaming, sampling options, cancellation, fairness, context overflow, token counts,
 * embeddings, model switching, idle unload and typed errors for broken files.
 */
import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChatChunk, ChatMessage, SamplingOptions } from '../../src/common/chat';
import { ErrorCode, LocalAiError } from '../../src/common/errors';
import type { LoadedModel } from '../../src/common/protocol';
import { LocalEngine } from '../../src/sidecar/local/localEngine';
import { LlamaRuntime } from '../../src/sidecar/llama/runtime';
import type { LoadConfigResolver, ModelHostOptions } from '../../src/sidecar/local/modelHost';
import { ensureFixtureLora } from '../fixtures/gguf/lora';
import { writeMalformedFixtures } from '../fixtures/gguf/malformed';
import { defaultFixtureDir, ensureFixtureModel, tinyCoderModel, tinyModel } from '../fixtures/gguf/model';
import { expectCode } from '../fixtures/localAiErrors';

const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

/** One thread: on this 2-core machine more threads only contend. */
const testConfig: LoadConfigResolver = async ({ overrides }) => ({
    threads: 1,
    gpuLayers: 0,
    contextSize: typeof overrides.contextSize === 'number' ? overrides.contextSize : 1024,
    batchSize: 512,
    flashAttention: false,
    notes: ['test configuration'],
});

/** One Llama per process, shared by every engine in this file. */
const runtime = new LlamaRuntime({ log: silent, gpu: 'off' });

function createEngine(options: Partial<ModelHostOptions> = {}): LocalEngine {
    return new LocalEngine({ runtime, log: silent, resolveLoadConfig: testConfig, ...options });
}

describe('inference engine', function () {
    this.timeout(120_000);
    const modelPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    let engine: LocalEngine;

    before(() => {
        engine = createEngine();
    });
    // The Llama stays: its native binding is process-wide and other test files in this mocha run use it.
    after(async () => {
        await engine?.dispose();
    });

    function chat(messages: ChatMessage[], options: SamplingOptions, signal = new AbortController().signal, onChunk: (c: ChatChunk) => void = () => undefined) {
        return engine.chat({ model: modelPath, messages, options, signal, onChunk });
    }

    it('streams a start chunk, then text, and reports usage and timings', async () => {
        const chunks: ChatChunk[] = [];
        const result = await chat([{ role: 'user', content: 'Say something.' }], { maxTokens: 20, seed: 3 }, undefined, (c) => chunks.push(c));
        assert.equal(chunks[0].kind, 'start');
        assert.ok(chunks[0].kind === 'start' && chunks[0].engine.device === 'CPU');
        assert.equal(
            chunks
                .slice(1)
                .map((c) => (c.kind === 'text' ? c.text : ''))
                .join(''),
            result.text,
        );
        assert.equal(result.usage.completionTokens, 20);
        assert.equal(result.finishReason, 'length');
        assert.ok(result.usage.promptTokens > 3);
        assert.ok(result.timings.tokensPerSecond > 0 && result.timings.timeToFirstTokenMs > 0);
    });

    it('is reproducible with a seed and follows the temperature', async () => {
        const messages: ChatMessage[] = [{ role: 'user', content: 'Tell me a story.' }];
        const a = await chat(messages, { maxTokens: 24, temperature: 1, seed: 42 });
        const b = await chat(messages, { maxTokens: 24, temperature: 1, seed: 42 });
        const c = await chat(messages, { maxTokens: 24, temperature: 1, seed: 43 });
        assert.equal(a.text, b.text);
        assert.notEqual(a.text, c.text);
        // Temperature 0 is greedy: the seed no longer matters.
        const greedy1 = await chat(messages, { maxTokens: 24, temperature: 0, seed: 42 });
        const greedy2 = await chat(messages, { maxTokens: 24, temperature: 0, seed: 43 });
        assert.equal(greedy1.text, greedy2.text, 'temperature 0 still sampled');
    });

    it('stops at a stop string', async () => {
        const messages: ChatMessage[] = [{ role: 'user', content: 'Count for me.' }];
        const free = await chat(messages, { maxTokens: 40, temperature: 1, seed: 7 });
        const stop = free.text.slice(20, 26);
        const stopped = await chat(messages, { maxTokens: 40, temperature: 1, seed: 7, stop: [stop] });
        assert.equal(stopped.finishReason, 'stop');
        assert.equal(stopped.text, free.text.slice(0, free.text.indexOf(stop)));
    });

    it('stops generating soon after the signal aborts', async () => {
        const controller = new AbortController();
        let chunksAfterAbort = 0;
        let texts = 0;
        const result = await chat([{ role: 'user', content: 'Go on forever.' }], { maxTokens: 2000 }, controller.signal, (chunk) => {
            if (chunk.kind !== 'text') return;
            if (controller.signal.aborted) chunksAfterAbort++;
            else if (++texts === 5) controller.abort();
        });
        assert.equal(result.finishReason, 'cancelled');
        assert.ok(chunksAfterAbort <= 2, `${chunksAfterAbort} chunks after the abort`);
        assert.ok(result.usage.completionTokens < 10, `${result.usage.completionTokens} tokens generated`);
    });

    it('counts the trailing whitespace it trims from an answer cut at maxTokens as generated', async () => {
        // This seed ends the tiny model's answer in whitespace at token 10; node-llama-cpp trims it and never reports it.
        const result = await chat([{ role: 'user', content: 'Q 289' }], { maxTokens: 10, seed: 289 });
        assert.equal(result.finishReason, 'length');
        assert.equal(result.text, result.text.trimEnd());
        assert.equal(result.usage.completionTokens, 10);
    });

    it('completes 4 concurrent chats on 2 sequences', async () => {
        const results = await Promise.all([0, 1, 2, 3].map((i) => chat([{ role: 'user', content: `Request number ${i}` }], { maxTokens: 30, seed: i })));
        for (const result of results) {
            assert.equal(result.usage.completionTokens, 30);
            assert.equal(result.finishReason, 'length');
        }
    });

    it('drops the oldest turns when the conversation overflows, keeping the system prompt', async () => {
        const long = 'This sentence fills the context with many many tokens. '.repeat(12);
        const messages: ChatMessage[] = [{ role: 'system', content: 'You are terse.' }];
        for (let i = 0; i < 8; i++) messages.push({ role: 'user', content: `${i} ${long}` }, { role: 'assistant', content: `ok ${i}` });
        messages.push({ role: 'user', content: 'And finally?' });
        const before = await engine.countTokens({ model: modelPath, messages });
        assert.ok(before.tokens > before.contextSize, `${before.tokens} tokens should exceed ${before.contextSize}`);
        // Seeded: the random-weight model may sample an end-of-generation token, and this seed does not.
        const result = await chat(messages, { maxTokens: 10, seed: 1 });
        assert.equal(result.finishReason, 'length');
        assert.equal(result.truncation?.strategy, 'dropOldest');
        assert.ok(result.truncation!.droppedMessages >= 2 && result.truncation!.droppedMessages % 2 === 0, `dropped ${result.truncation!.droppedMessages}`);
        assert.ok(result.usage.promptTokens + 10 <= before.contextSize);
        assert.equal(result.usage.completionTokens, 10);
    });

    it('answers a load cancelled while the file is read as cancelled, never as a broken file', async () => {
        const other = ensureFixtureModel(defaultFixtureDir(), tinyCoderModel);
        const aborted = AbortSignal.abort();
        const error = await expectCode(engine.load({ model: other, signal: aborted }), ErrorCode.Cancelled);
        assert.doesNotMatch(error.message, /cannot be loaded/);
    });

    it('refuses a single prompt larger than the context, with the numbers', async () => {
        const error = await expectCode(chat([{ role: 'user', content: 'word '.repeat(3000) }], { maxTokens: 10 }), ErrorCode.ContextOverflow);
        assert.equal(error.data.unit, 'tokens');
        assert.ok(error.data.needed! > error.data.available!);
    });

    it('counts tokens of a text and of a conversation', async () => {
        const text = await engine.countTokens({ model: modelPath, text: 'Hello, world!' });
        assert.ok(text.tokens >= 2 && text.tokens <= 13);
        const conversation = await engine.countTokens({ model: modelPath, messages: [{ role: 'user', content: 'Hello, world!' }] });
        assert.ok(conversation.tokens > text.tokens, 'the chat template adds tokens');
    });

    it('creates one embedding vector per input, the same for the same text', async () => {
        const { vectors } = await engine.embed({ model: modelPath, input: ['alpha beta', 'gamma', 'alpha beta'] });
        assert.equal(vectors.length, 3);
        assert.equal(vectors[0].length, tinyModel.nEmbd);
        assert.deepEqual(vectors[0], vectors[2]);
        assert.notDeepEqual(vectors[0], vectors[1]);
    });

    it('frees the old model before loading another', async () => {
        const other = ensureFixtureModel(defaultFixtureDir(), { ...tinyModel, name: 'tiny-other', seed: 2 });
        await engine.load({ model: other });
        assert.deepEqual(
            engine.listLoaded().map((m) => m.path),
            [other],
        );
        assert.deepEqual(await engine.unload(), [other]);
        assert.deepEqual(engine.listLoaded(), []);
    });

    it('applies a LoRA adapter when the context is created', async () => {
        const lora = ensureFixtureLora(defaultFixtureDir(), tinyModel);
        const adapted = createEngine({
            resolveModel: async () => ({ modelId: 'tiny+lora', name: 'tiny with adapter', path: modelPath, loras: [{ path: lora, scale: 1 }] }),
        });
        try {
            const messages: ChatMessage[] = [{ role: 'user', content: 'Same question for both.' }];
            const greedy = { maxTokens: 16, temperature: 0 };
            const base = await chat(messages, greedy);
            const withAdapter = await adapted.chat({ messages, options: greedy, signal: new AbortController().signal, onChunk: () => undefined });
            assert.equal(withAdapter.usage.completionTokens, 16);
            assert.notEqual(withAdapter.text, base.text);
        } finally {
            await adapted.dispose();
        }
    });

    it('unloads an idle model', async () => {
        const changes: (LoadedModel | undefined)[] = [];
        let unloaded!: () => void;
        const done = new Promise<void>((resolve) => {
            unloaded = resolve;
        });
        const idle = createEngine({
            idleUnloadMs: 100,
            onDidChange: (loaded) => {
                changes.push(loaded);
                if (!loaded) unloaded();
            },
        });
        try {
            await idle.countTokens({ model: modelPath, text: 'hi' });
            await done;
            assert.equal(changes.length, 2);
            assert.deepEqual(idle.listLoaded(), []);
        } finally {
            await idle.dispose();
        }
    });

    it('refuses a model that will not fit, with the numbers', async () => {
        const huge = createEngine({
            resolveLoadConfig: async () => ({ threads: 1, gpuLayers: 0, contextSize: 1 << 24, batchSize: 512, flashAttention: false, notes: [] }),
        });
        try {
            const error = await expectCode(huge.load({ model: modelPath }), ErrorCode.ModelDoesNotFit);
            assert.equal(error.data.unit, 'bytes');
            assert.ok(error.data.needed! > error.data.available!);
        } finally {
            await huge.dispose();
        }
    });

    it('loads it anyway when forced, as the user asked', async () => {
        // A machine with 1 MB free: the tiny model needs more, so only force can load it.
        const tight = createEngine({ availableRam: () => 1 << 20 });
        try {
            const refused = await expectCode(tight.load({ model: modelPath }), ErrorCode.ModelDoesNotFit);
            assert.equal(refused.data.available, 1 << 20);
            // Small sizes in units a person reads ("0.0 GB" said nothing).
            assert.match(refused.message, /needs \d+ MB of memory with a 1024-token context, and 1 MB is free\.$/);
            assert.deepEqual(tight.listLoaded(), []);
            const loaded = await tight.load({ model: modelPath, force: true });
            assert.equal(loaded.modelId, modelPath);
            assert.deepEqual(
                tight.listLoaded().map((m) => m.modelId),
                [modelPath],
            );
        } finally {
            await tight.dispose();
        }
    });

    it('loads on the CPU, and says why, when the GPU load fails', async () => {
        // A backend whose GPU load fails as a driver would (no GPU here): the same Llama, but any offload throws.
        const real = await runtime.get();
        const failingGpu = Object.create(real, {
            loadModel: {
                value: (options: { gpuLayers?: unknown }) =>
                    options.gpuLayers
                        ? Promise.reject(new Error('CUDA error: out of memory'))
                        : real.loadModel(options as Parameters<typeof real.loadModel>[0]),
            },
        }) as typeof real;
        const gpuRuntime = Object.create(runtime, { get: { value: async () => failingGpu } }) as LlamaRuntime;
        const offloading = createEngine({
            runtime: gpuRuntime,
            resolveLoadConfig: async () => ({ threads: 1, gpuLayers: 8, contextSize: 1024, batchSize: 512, flashAttention: false, notes: [] }),
        });
        try {
            const loaded = await offloading.load({ model: modelPath });
            assert.equal(loaded.device, 'CPU');
            assert.match(loaded.cpuFallbackReason ?? '', /The GPU load failed \(CUDA error: out of memory\); loaded on the CPU instead\./);
            const answer = await offloading.chat({
                model: modelPath,
                messages: [{ role: 'user', content: 'hi' }],
                options: { maxTokens: 4 },
                signal: new AbortController().signal,
                onChunk: () => undefined,
            });
            assert.ok(answer.text.length > 0, 'the CPU fallback does not answer');
        } finally {
            await offloading.dispose();
        }
    });

    it('applies the default configuration with an explicit, safe thread count', async () => {
        const plain = new LocalEngine({ runtime, log: silent });
        try {
            const loaded = await plain.load({ model: modelPath });
            assert.ok(loaded.config.threads >= 1 && loaded.config.threads <= os.availableParallelism());
            assert.equal(loaded.device, 'CPU');
        } finally {
            await plain.dispose();
        }
    });

    describe('broken files', () => {
        const files = writeMalformedFixtures(path.join(defaultFixtureDir(), 'malformed'));
        for (const [name, file] of Object.entries(files)) {
            it(`answers a typed error for ${name}`, async () => {
                let error: unknown;
                try {
                    await engine.load({ model: file });
                } catch (caught) {
                    error = caught;
                }
                assert.ok(error instanceof LocalAiError, `expected a LocalAiError, got ${String(error)}`);
                const codes =
                    name === 'unknownArchitecture' || name === 'wrongTensorShape'
                        ? [ErrorCode.InvalidModelFile, ErrorCode.LoadFailed]
                        : [ErrorCode.InvalidModelFile];
                assert.ok(codes.includes(error.code), `${name}: ${ErrorCode[error.code]} ${error.message}`);
                assert.ok(error.message.includes(path.basename(file)), error.message);
            });
        }
    });
});
