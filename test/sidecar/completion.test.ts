/**
 * Code completion through the REAL sidecar over real JSON-RPC, as the editor asks for it, on generated
 * models with and without fill-in-the-middle tokens: which model answers when none is named, the FIM
 * prompt it sees, what the status says, and the errors that say what to install; and the CLI's `complete`.
 */
import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { getLlama, type LlamaModel } from 'node-llama-cpp';
import { CompleteRequest, CompletionStatusRequest, type CompletionParams, type CompletionResult } from '../../src/common/completion';
import { ErrorCode } from '../../src/common/errors';
import { CompletionStatusNotification } from '../../src/common/completion';
import { ModelListRequest, SettingsChangedNotification } from '../../src/common/protocol';
import { defaultSettings } from '../../src/common/settings';
import { runCli } from '../fixtures/cliProcess';
import { defaultFixtureDir, ensureFixtureModel, tinyCoderModel, tinyModel } from '../fixtures/gguf/model';
import { installModel } from '../fixtures/installedStore';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';
import { expectResponseError } from '../fixtures/localAiErrors';

const CODER_REPO = 'test-owner/tinycoder-GGUF';
const CODER_FILE = 'tinycoder-F32.gguf';
const CODER_ID = `hf:${CODER_REPO}/${CODER_FILE}`;

describe('code completion through the sidecar', function () {
    this.timeout(300_000);
    const coderPath = ensureFixtureModel(defaultFixtureDir(), tinyCoderModel);
    const chatPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    // No model found elsewhere on this machine (the hub cache) may be chosen.
    const env = { HF_HUB_CACHE: mkdtempSync(path.join(tmpdir(), 'local-ai-hf-')), HF_HOME: mkdtempSync(path.join(tmpdir(), 'local-ai-hf-')) };
    const settings = { threads: 1, gpu: 'off' as const, offline: true };
    let sidecar: SidecarProcess;
    let vocabulary: LlamaModel;

    before(async () => {
        const root = mkdtempSync(path.join(tmpdir(), 'local-ai-completion-'));
        installModel(root, { repo: 'test-owner/tiny-GGUF', file: 'tiny-F32.gguf', quant: 'F32', gguf: chatPath });
        installModel(root, { repo: CODER_REPO, file: CODER_FILE, quant: 'F32', gguf: coderPath });
        sidecar = await startSidecar({ modelsPath: root, settings, env });
        vocabulary = await (await getLlama({ gpu: false })).loadModel({ modelPath: coderPath, vocabOnly: true });
    });
    after(async () => {
        await vocabulary?.dispose();
        await sidecar?.stop();
    });

    const complete = (params: CompletionParams, on = sidecar) => on.connection.sendRequest(CompleteRequest.type, params) as Promise<CompletionResult>;

    it('fills in the middle with the installed FIM model when none is named, the line begun after <|fim_middle|>', async () => {
        const status = await sidecar.connection.sendRequest(CompletionStatusRequest.type);
        assert.equal(status.state, 'ready', status.message);
        assert.equal(status.model?.id, CODER_ID);

        const prefix = 'function add(a, b) {\n    return a';
        const suffix = ';\n}\n';
        const result = await complete({ prefix, suffix, maxTokens: 6, seed: 1, timeoutMs: 60_000 });
        assert.equal(result.engine.kind, 'local');
        assert.equal(result.engine.model, CODER_ID);
        assert.equal(result.fromCache, false);
        assert.equal(result.usage.completionTokens, 6);
        assert.ok(result.text.length > 0);
        // <|fim_prefix|> lines before <|fim_suffix|> suffix <|fim_middle|> the cursor's line so far.
        const count = (text: string) => vocabulary.tokenize(text, false, 'trimLeadingSpace').length;
        assert.equal(result.usage.promptTokens, 3 + count('function add(a, b) {\n') + count(suffix) + count('    return a'));
        assert.equal(result.usage.evaluatedTokens, result.usage.promptTokens);
    });

    it('refuses a model without fill-in-the-middle tokens, saying why', async () => {
        const error = await expectResponseError(complete({ model: chatPath, prefix: 'let x = ', suffix: '' }), ErrorCode.InvalidParams);
        assert.match(error.message, /no fill-in-the-middle tokens/);
    });

    it('says what to install when no completion model is installed', async () => {
        const root = mkdtempSync(path.join(tmpdir(), 'local-ai-completion-none-'));
        installModel(root, { repo: 'test-owner/tiny-GGUF', file: 'tiny-F32.gguf', quant: 'F32', gguf: chatPath });
        const bare = await startSidecar({ modelsPath: root, settings, env });
        try {
            const status = await bare.connection.sendRequest(CompletionStatusRequest.type);
            assert.equal(status.state, 'noModel');
            assert.match(status.message, /Qwen2\.5-Coder/);
            const error = await expectResponseError(complete({ prefix: 'let x = ', suffix: '' }, bare), ErrorCode.ModelNotInstalled);
            assert.match(String((error.data as { hint?: string }).hint), /fill in the middle/);
        } finally {
            await bare.stop();
        }
    });

    it('follows settings only once someone asked: a sidecar nobody asked about completion sends no status', async () => {
        const root = mkdtempSync(path.join(tmpdir(), 'local-ai-completion-quiet-'));
        installModel(root, { repo: CODER_REPO, file: CODER_FILE, quant: 'F32', gguf: coderPath });
        const quiet = await startSidecar({ modelsPath: root, settings, env });
        try {
            const statuses: string[] = [];
            quiet.connection.onNotification(CompletionStatusNotification.type, (status) => statuses.push(status.message));
            const change = (model: string) =>
                quiet.connection.sendNotification(SettingsChangedNotification.type, {
                    ...defaultSettings(),
                    ...settings,
                    completion: { ...defaultSettings().completion, model },
                });
            // Not asked (the CLI's other commands): a change costs nothing, so nothing is said.
            await change(coderPath);
            const listed = await quiet.connection.sendRequest(ModelListRequest.type, {});
            await quiet.connection.sendRequest(ModelListRequest.type, { refresh: true });
            assert.ok(listed.models.length > 0);
            assert.deepEqual(statuses, []);
            // Asked once (the editor, at start): every change is followed from then on.
            await quiet.connection.sendRequest(CompletionStatusRequest.type);
            const followed = new Promise<void>((resolve) =>
                quiet.connection.onNotification(CompletionStatusNotification.type, (status) => status.model?.id === CODER_ID && resolve()),
            );
            await change(CODER_ID);
            await followed;
        } finally {
            await quiet.stop();
        }
    });

    it('answers with the model localAi.completion.model names once it changes, not the one still loaded', async () => {
        const root = mkdtempSync(path.join(tmpdir(), 'local-ai-completion-switch-'));
        installModel(root, { repo: CODER_REPO, file: CODER_FILE, quant: 'F32', gguf: coderPath });
        installModel(root, { repo: 'test-owner/othercoder-GGUF', file: 'othercoder-F32.gguf', quant: 'F32', gguf: coderPath });
        const other = 'hf:test-owner/othercoder-GGUF/othercoder-F32.gguf';
        const switching = await startSidecar({
            modelsPath: root,
            settings: { ...settings, completion: { ...defaultSettings().completion, model: CODER_ID } },
            env,
        });
        try {
            const first = await complete({ prefix: 'let x = ', suffix: '', maxTokens: 2, seed: 1, timeoutMs: 60_000 }, switching);
            assert.equal(first.engine.model, CODER_ID);
            const switched = new Promise<void>((resolve) =>
                switching.connection.onNotification(CompletionStatusNotification.type, (status) => {
                    if (status.model?.id === other) resolve();
                }),
            );
            await switching.connection.sendNotification(SettingsChangedNotification.type, {
                ...defaultSettings(),
                ...settings,
                completion: { ...defaultSettings().completion, model: other },
            });
            await switched;
            const second = await complete({ prefix: 'let y = ', suffix: '', maxTokens: 2, seed: 1, timeoutMs: 60_000 }, switching);
            assert.equal(second.engine.model, other);
        } finally {
            await switching.stop();
        }
    });

    it('keeps suggestions to one line once it has measured that a multi-line one cannot come in time; an explicit request still gets several', async () => {
        const root = mkdtempSync(path.join(tmpdir(), 'local-ai-completion-pace-'));
        installModel(root, { repo: CODER_REPO, file: CODER_FILE, quant: 'F32', gguf: coderPath });
        const paced = await startSidecar({ modelsPath: root, settings, env });
        try {
            const window = { prefix: 'function add(a, b) {\n    ', suffix: '\n}\n', seed: 1, trigger: 'automatic' as const };
            // Nothing measured yet: no reason to cut the answer short.
            const first = await complete({ ...window, maxTokens: 16, timeoutMs: 60_000 }, paced);
            assert.equal(first.singleLineBecause, undefined);
            assert.ok(first.usage.completionTokens >= 4, `${first.usage.completionTokens} tokens: too few to measure`);
            // The same speed cannot produce 2,000 tokens in a second: typing gets one line, and says why.
            const slow = await complete({ ...window, prefix: `${window.prefix}let`, maxTokens: 2_000, timeoutMs: 1_000 }, paced);
            assert.match(slow.singleLineBecause ?? '', /tokens\/s here, too slow for a 2000-token suggestion within 1 s: suggestions stay on one line/);
            assert.ok(!slow.text.includes('\n'), JSON.stringify(slow.text));
            const asked = await complete({ ...window, prefix: `${window.prefix}let`, maxTokens: 2_000, timeoutMs: 1_000, trigger: 'explicit' }, paced);
            assert.equal(asked.singleLineBecause, undefined);
        } finally {
            await paced.stop();
        }
    });

    it('completes at a line and column of a file from the CLI, with usage and timings as JSON', async () => {
        const folder = mkdtempSync(path.join(tmpdir(), 'local-ai-complete-cli-'));
        const file = path.join(folder, 'add.js');
        writeFileSync(file, 'function add(a, b) {\n    return \n}\n');
        const run = await runCli(
            ['complete', '--file', file, '--line', '2', '--column', '12', '--model', coderPath, '--max-tokens', '4', '--threads', '1', '--json'],
            { ...env, LOCAL_AI_MODELS_PATH: folder },
        ).done;
        assert.equal(run.code, 0, run.stderr);
        const result = JSON.parse(run.stdout) as CompletionResult;
        assert.equal(result.engine.model, coderPath);
        assert.equal(result.usage.completionTokens, 4);
        assert.ok(result.text.length > 0);
        const count = (text: string) => vocabulary.tokenize(text, false, 'trimLeadingSpace').length;
        assert.equal(result.usage.promptTokens, 3 + count('function add(a, b) {\n') + count('\n}\n') + count('    return '));
        assert.ok(result.timings.totalMs >= result.timings.timeToFirstTokenMs && result.timings.timeToFirstTokenMs > 0);
    });
});
