/**
 * The fill-in-the-middle prompt on a real vocabulary (a generated FIM model, vocabulary only): the FIM tokens
 * in Qwen2.5-Coder's order with the cursor's line after <|fim_middle|>, the window capped in tokens (extra
 * chunks first to go, the suffix keeping its start, the prefix its end), and a keystroke changing only the tail.
 */
import * as assert from 'node:assert/strict';
import { getLlama, type LlamaModel } from 'node-llama-cpp';
import { buildFimPrompt, fimTokensOf, type FimTokens } from '../../src/sidecar/completion/prompt';
import { sharedPrefix } from '../../src/sidecar/local/savedStates';
import { defaultFixtureDir, ensureFixtureModel, tinyCoderModel, tinyModel } from '../fixtures/gguf/model';

describe('the fill-in-the-middle prompt', function () {
    this.timeout(120_000);
    let model: LlamaModel;
    let fim: FimTokens;
    const text = (tokens: readonly number[]) => model.detokenize(tokens as never, true);
    const lines = (count: number, name: string) => Array.from({ length: count }, (_, i) => `    ${name}${i}();\n`).join('');

    before(async () => {
        const llama = await getLlama({ gpu: false });
        model = await llama.loadModel({ modelPath: ensureFixtureModel(defaultFixtureDir(), tinyCoderModel), vocabOnly: true });
        fim = fimTokensOf(model)!;
    });
    after(async () => {
        await model?.dispose();
    });

    it('finds the FIM tokens of a coder model, and none in a model without them', async () => {
        assert.equal(model.detokenize([fim.prefix, fim.suffix, fim.middle], true), '<|fim_prefix|><|fim_suffix|><|fim_middle|>');
        assert.equal(text([fim.fileSeparator!, fim.repoName!]), '<|file_sep|><|repo_name|>');
        const plain = await model.llama.loadModel({ modelPath: ensureFixtureModel(defaultFixtureDir(), tinyModel), vocabOnly: true });
        try {
            assert.equal(fimTokensOf(plain), undefined);
        } finally {
            await plain.dispose();
        }
    });

    it('puts the lines before the cursor after <|fim_prefix|> and the cursor line after <|fim_middle|>', () => {
        const prompt = buildFimPrompt(model, fim, { prefix: 'def f():\n    return ', suffix: '\nprint(f())\n' }, 1000);
        assert.equal(text(prompt.tokens), '<|fim_prefix|>def f():\n<|fim_suffix|>\nprint(f())\n<|fim_middle|>    return ');
    });

    it('puts the extra chunks first as files of a repository, and drops the oldest when they do not fit', () => {
        const input = {
            prefix: 'x = ',
            suffix: '',
            fileName: 'main.py',
            extra: [
                { fileName: 'old.py', text: lines(40, 'old') },
                { fileName: 'new.py', text: 'def helper(): pass' },
            ],
        };
        const all = buildFimPrompt(model, fim, input, 2000);
        assert.equal(all.extraChunks, 2);
        assert.match(
            text(all.tokens),
            /^<\|repo_name\|>workspace\n<\|file_sep\|>old\.py\n[\s\S]*<\|file_sep\|>new\.py\ndef helper\(\): pass\n<\|file_sep\|>main\.py\n<\|fim_prefix\|>/,
        );
        const some = buildFimPrompt(model, fim, input, 100);
        assert.equal(some.extraChunks, 1);
        assert.ok(some.tokens.length <= 100);
        assert.doesNotMatch(text(some.tokens), /old\.py/);
    });

    it('caps the window in tokens: the suffix keeps its start, the prefix its end, cut at a line start', () => {
        const prefix = `${lines(200, 'before')}    last`;
        const suffix = lines(100, 'after');
        const prompt = buildFimPrompt(model, fim, { prefix, suffix }, 400);
        assert.ok(prompt.tokens.length <= 400, `${prompt.tokens.length} tokens`);
        const shown = text(prompt.tokens);
        assert.match(shown, /^<\|fim_prefix\|> {4}before\d+\(\);\n/);
        assert.match(shown, /before199\(\);\n<\|fim_suffix\|> {4}after0\(\);\n/);
        assert.match(shown, /<\|fim_middle\|> {4}last$/);
        const suffixTokens = prompt.tokens.indexOf(fim.middle) - prompt.tokens.indexOf(fim.suffix) - 1;
        assert.ok(suffixTokens > 0 && suffixTokens <= 100, `${suffixTokens} suffix tokens`);
    });

    it('changes only the last tokens when a character is typed on the cursor line', () => {
        const input = { prefix: `${lines(100, 'step')}    result = comp`, suffix: lines(40, 'then') };
        const before = buildFimPrompt(model, fim, input, 3000).tokens;
        const after = buildFimPrompt(model, fim, { ...input, prefix: `${input.prefix}u` }, 3000).tokens;
        assert.ok(after.length - sharedPrefix(before, after) <= 3, `${after.length - sharedPrefix(before, after)} tokens differ`);
    });
});
