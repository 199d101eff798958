/**
 * The generated GGUF fixtures are real models: node-llama-cpp loads them, generates
 * tokens with the ChatML template from the file, and round-trips text through the tokenizer.
 */
import * as assert from 'node:assert/strict';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { importNodeLlamaCpp } from '../../src/sidecar/llama/runtime';

describe('GGUF fixtures', function () {
    this.timeout(60_000);
    let llama: Llama;
    let model: LlamaModel;

    before(async () => {
        const { getLlama } = await importNodeLlamaCpp();
        llama = await getLlama({ gpu: false, build: 'never' });
        model = await llama.loadModel({ modelPath: ensureFixtureModel(defaultFixtureDir(), tinyModel) });
    });

    // The Llama stays: its native binding is process-wide and other test files in this mocha run use it.
    after(async () => {
        await model?.dispose();
    });

    it('generates 20 tokens with the chat template from the file', async () => {
        const { LlamaChatSession } = await importNodeLlamaCpp();
        const context = await model.createContext({ contextSize: 512, threads: 1 });
        try {
            const session = new LlamaChatSession({ contextSequence: context.getSequence() });
            assert.equal(session.chatWrapper.wrapperName, 'ChatML');
            let tokens = 0;
            await session.prompt('Hello there, how are you?', {
                maxTokens: 20,
                temperature: 0.8,
                seed: 1,
                onToken: (chunk) => {
                    tokens += chunk.length;
                },
            });
            assert.equal(tokens, 20);
        } finally {
            await context.dispose();
        }
    });

    it('round-trips any text through the tokenizer', () => {
        const text = 'Hello, world! Ünïcödé 🙂 tabs\tand\nnewlines, code: const x = [1, 2];';
        const tokens = model.tokenize(text);
        assert.ok(tokens.length > 5 && tokens.length < text.length, `unexpected token count ${tokens.length}`);
        assert.equal(model.detokenize(tokens), text);
    });

    it('parses the ChatML control tokens as single tokens', () => {
        const tokens = model.tokenize('<|im_start|>user', true);
        assert.equal(model.detokenize([tokens[0]], true), '<|im_start|>');
    });
});
