/**
 * Completion models in the model list, through the REAL sidecar: a GGUF found on disk says whether it can
 * fill in the middle from its own header (FIM token ids, or FIM tokens in an older file's vocabulary),
 * catalog models from the catalog, and the list recommends a completion model beside the chat model.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ModelListRequest } from '../../src/common/protocol';
import { buildFixtureModelSpec, tinyModel } from '../fixtures/gguf/model';
import { gv, GgufType, writeGgufFile, type GgufFileSpec } from '../fixtures/gguf/writer';
import { profilePath } from '../fixtures/hardware/profiles';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';

/** The tiny model with FIM tokens: their ids in the header, or only their texts in the vocabulary. */
function fimSpec(name: string, how: 'ids' | 'vocabulary' | 'none'): GgufFileSpec {
    const spec = buildFixtureModelSpec({ ...tinyModel, name });
    const tokens = spec.metadata.find((entry) => entry.key === 'tokenizer.ggml.tokens')!;
    const items = (tokens.value as { items: string[] }).items;
    // The last three tokens of the vocabulary become Qwen's FIM tokens.
    const [pre, suf, mid] = [items.length - 3, items.length - 2, items.length - 1];
    if (how === 'none') return spec;
    items.splice(pre, 3, '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>');
    tokens.value = gv.arr(GgufType.String, items);
    if (how === 'ids') {
        spec.metadata.push(
            { key: 'tokenizer.ggml.fim_pre_token_id', value: gv.u32(pre) },
            { key: 'tokenizer.ggml.fim_suf_token_id', value: gv.u32(suf) },
            { key: 'tokenizer.ggml.fim_mid_token_id', value: gv.u32(mid) },
        );
    }
    return spec;
}

describe('completion models in the model list', function () {
    this.timeout(300_000);
    let folder: string;
    let sidecar: SidecarProcess | undefined;

    beforeEach(() => {
        folder = mkdtempSync(path.join(tmpdir(), 'local-ai-fim-'));
    });

    afterEach(async () => {
        await sidecar?.stop();
        sidecar = undefined;
        rmSync(folder, { recursive: true, force: true });
    });

    it('reads fim from the header of each file found on disk, and from the catalog for the rest', async () => {
        for (const how of ['ids', 'vocabulary', 'none'] as const) writeGgufFile(path.join(folder, `fim-${how}.gguf`), fimSpec(`fim-${how}`, how));
        sidecar = await startSidecar({
            modelsPath: path.join(folder, 'store'),
            settings: { gpu: 'off', offline: true, extraModelFolders: [folder] },
            env: { LOCAL_AI_HARDWARE_PROFILE: profilePath('vm-gpu-no-driver') },
        });
        const result = await sidecar.connection.sendRequest(ModelListRequest.type, { refresh: true });
        const fimOf = (file: string) => result.models.find((entry) => entry.files.some((f) => f.path === path.join(folder, file)))?.fim;
        assert.equal(fimOf('fim-ids.gguf'), true, 'FIM token ids in the header');
        assert.equal(fimOf('fim-vocabulary.gguf'), true, 'FIM tokens found by their text, as llama.cpp finds them');
        assert.equal(fimOf('fim-none.gguf'), false, 'no FIM tokens');
        const catalog = (id: string) => result.models.find((entry) => entry.id === id);
        assert.equal(catalog('qwen2.5-coder-1.5b-instruct')?.fim, true);
        assert.equal(catalog('qwen2.5-coder-1.5b')?.fim, true);
        assert.equal(catalog('llama-3.2-3b-instruct')?.fim, undefined);
    });

    // The machine test/unit/recommendCompletion.test.ts judges the same way: a 3B chat model on six cores.
    it('recommends a completion model beside the recommended chat model', async () => {
        sidecar = await startSidecar({
            modelsPath: path.join(folder, 'store'),
            settings: { gpu: 'off', offline: true },
            env: { LOCAL_AI_HARDWARE_PROFILE: profilePath('vm-gpu-no-driver') },
        });
        const { recommended, recommendedCompletion, models } = await sidecar.connection.sendRequest(ModelListRequest.type, { refresh: false });
        assert.ok(recommended && recommendedCompletion);
        assert.deepEqual([recommendedCompletion.modelId, recommendedCompletion.quant], ['qwen2.5-coder-0.5b', 'Q8_0'], recommendedCompletion.reason);
        const chatName = models.find((entry) => entry.id === recommended.modelId)?.name;
        assert.ok(recommendedCompletion.reason.includes(`fits beside ${chatName}`), recommendedCompletion.reason);
    });
});
