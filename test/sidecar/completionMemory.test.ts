/**
 * The two-model memory decision, driven directly with real node-llama-cpp on generated models: the chat
 * model and the completion model stay loaded together when the memory model says both fit; when only one
 * fits, chat wins (its load unloads the completion model, never the reverse), completions say they gave way
 * and are refused at once with no load attempt, and they resume when chat unloads.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type { CompletionStatus } from '../../src/common/completion';
import { ErrorCode } from '../../src/common/errors';
import { completionBesideChat, LocalCompletionEngine } from '../../src/sidecar/completion/localCompletion';
import type { MemoryBudget, MemoryNeeds } from '../../src/sidecar/llama/memoryModel';
import { LlamaRuntime } from '../../src/sidecar/llama/runtime';
import { LocalEngine } from '../../src/sidecar/local/localEngine';
import { type LoadConfigResolver, ModelHost, pathOnlyResolver } from '../../src/sidecar/local/modelHost';
import { defaultFixtureDir, ensureFixtureModel, tinyCoderModel, tinyModel } from '../fixtures/gguf/model';
import { expectCode } from '../fixtures/localAiErrors';

const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

/** One thread: on this 2-core machine more threads only contend. */
const testConfig: LoadConfigResolver = async () => ({
    threads: 1,
    gpuLayers: 0,
    contextSize: 1024,
    batchSize: 512,
    flashAttention: false,
    notes: ['test configuration'],
});

const runtime = new LlamaRuntime({ log: silent, gpu: 'off' });

describe('the completion model beside the chat model', function () {
    this.timeout(300_000);
    const chatPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    const coderPath = ensureFixtureModel(defaultFixtureDir(), tinyCoderModel);
    const coderName = path.basename(coderPath, '.gguf');
    const chatName = path.basename(chatPath, '.gguf');
    /** RAM each needs with this configuration, by the memory model (measured once, alone). */
    let chatNeeds: MemoryNeeds;
    let coderNeeds: MemoryNeeds;

    /** The sidecar's wiring (services.ts) on a machine with `ramBytes` free; counts the completion model's load attempts. */
    function build(ramBytes: number) {
        const budget = async (): Promise<MemoryBudget> => ({ ramBytes, vramBytes: 0, unified: false });
        let completion: LocalCompletionEngine | undefined;
        const chat = new LocalEngine({
            runtime,
            log: silent,
            resolveLoadConfig: testConfig,
            memoryBudget: budget,
            neighbour: completionBesideChat(() => completion),
        });
        const attempts = { count: 0 };
        const host = new ModelHost({
            runtime,
            log: silent,
            resolveModel: () => pathOnlyResolver(coderPath),
            resolveLoadConfig: testConfig,
            memoryBudget: () => {
                attempts.count++;
                return budget();
            },
            sequences: 1,
            neighbour: { held: () => chat.host.held() },
        });
        completion = new LocalCompletionEngine({
            host,
            log: silent,
            chat: chat.host,
            describe: async () => ({ id: coderPath, name: coderName }),
        });
        const statuses: CompletionStatus[] = [];
        completion.on('status', (status) => statuses.push(status));
        const engine = completion;
        const complete = (prefix: string) =>
            engine.complete({ prefix, suffix: '\n', maxTokens: 2, seed: 1, timeoutMs: 60_000, signal: new AbortController().signal });
        const dispose = async () => {
            await engine.dispose();
            await chat.dispose();
        };
        return { chat, completion: engine, host, attempts, statuses, complete, dispose };
    }

    before(async () => {
        const roomy = build(Number.MAX_SAFE_INTEGER);
        try {
            await roomy.complete('let a = ');
            await roomy.chat.load({ model: chatPath });
            coderNeeds = roomy.completion.held() as MemoryNeeds;
            chatNeeds = roomy.chat.host.held() as MemoryNeeds;
            assert.ok(coderNeeds.ramBytes > 0 && chatNeeds.ramBytes > 0);
        } finally {
            await roomy.dispose();
        }
    });
    after(() => runtime.dispose());

    /** Each fits alone; together they do not. */
    const onlyOne = () => Math.max(chatNeeds.ramBytes, coderNeeds.ramBytes) + Math.floor(Math.min(chatNeeds.ramBytes, coderNeeds.ramBytes) / 2);

    it('keeps both loaded when they fit together', async () => {
        const both = build(chatNeeds.ramBytes + coderNeeds.ramBytes + Math.floor(Math.min(chatNeeds.ramBytes, coderNeeds.ramBytes) / 2));
        try {
            await both.complete('let a = ');
            await both.chat.load({ model: chatPath });
            assert.deepEqual(
                both.host.listLoaded().map((m) => m.modelId),
                [coderPath],
            );
            const result = await both.complete('let b = ');
            assert.equal(result.engine.model, coderPath);
            assert.equal(both.attempts.count, 1, 'the completion model was loaded once and kept');
            assert.equal(both.completion.status().state, 'ready', both.completion.status().message);
            assert.equal(both.chat.listLoaded()[0]?.modelId, chatPath);
        } finally {
            await both.dispose();
        }
    });

    it('unloads the completion model for chat when only one fits, says so, and resumes when chat unloads', async () => {
        const tight = build(onlyOne());
        try {
            await tight.complete('let a = ');
            assert.equal(tight.host.listLoaded().length, 1);

            await tight.chat.load({ model: chatPath });
            assert.equal(tight.chat.listLoaded()[0]?.modelId, chatPath);
            assert.deepEqual(tight.host.listLoaded(), [], 'chat made the completion model give way');
            const status = tight.completion.status();
            assert.equal(status.state, 'yielded');
            assert.equal(status.message, `${coderName} does not fit beside ${chatName}; completions resume when chat unloads.`);
            assert.equal(tight.statuses.at(-1)?.state, 'yielded', 'the status bar was told');
            assert.equal((await tight.completion.refreshStatus()).state, 'yielded', 'asking for the status does not end the yield');

            const attempts = tight.attempts.count;
            for (const prefix of ['let b = ', 'let c = ', 'let d = ']) {
                const refused = await expectCode(tight.complete(prefix), ErrorCode.ModelDoesNotFit);
                assert.equal(refused.message, status.message);
            }
            assert.equal(tight.attempts.count, attempts, 'no load was tried while chat holds the memory');
            assert.equal(tight.chat.listLoaded()[0]?.modelId, chatPath, 'chat was never evicted');

            await tight.chat.unload();
            assert.equal(tight.completion.status().state, 'ready', tight.completion.status().message);
            assert.equal(tight.statuses.at(-1)?.state, 'ready');
            const result = await tight.complete('let e = ');
            assert.equal(result.engine.model, coderPath);
        } finally {
            await tight.dispose();
        }
    });

    it('gives way at once when chat is loaded first and the completion model does not fit beside it', async () => {
        const tight = build(onlyOne());
        try {
            await tight.chat.load({ model: chatPath });
            const first = await expectCode(tight.complete('let a = '), ErrorCode.ModelDoesNotFit);
            assert.equal(first.message, `${coderName} does not fit beside ${chatName}; completions resume when chat unloads.`);
            assert.equal(tight.completion.status().state, 'yielded');
            const attempts = tight.attempts.count;
            await expectCode(tight.complete('let b = '), ErrorCode.ModelDoesNotFit);
            assert.equal(tight.attempts.count, attempts, 'the second request tried no load');
            assert.equal(tight.chat.listLoaded()[0]?.modelId, chatPath);
        } finally {
            await tight.dispose();
        }
    });
});
