/**
 * The Models view says which chat template the loaded model answers in: a user's GGUF whose template
 * fails node-llama-cpp's Jinja sanity test is loaded by the real sidecar, and its row's tooltip names
 * the generic fallback, which is otherwise invisible except in the quality of the answers.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { LoadModelRequest, UnloadModelRequest } from '../../src/common/protocol';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { ModelsTreeProvider, type ModelNode } from '../../src/extension/views/modelsTree';
import { failingChatTemplate } from '../fixtures/gguf/chatTemplates';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { localAi, nextStatus, setSettings, untilModels } from './harness';

describe('Models tree: the chat template in use', function () {
    this.timeout(180_000);
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-template-'));
    // Named as hub files are, so the row shows a quantization.
    const gguf = path.join(scratch, 'Failing-Template-F32.gguf');
    const id = `file:${gguf}`;
    let local: LocalAiTestApi;
    let restoreSettings: () => Promise<void>;

    before(async () => {
        fs.copyFileSync(ensureFixtureModel(defaultFixtureDir(), { ...tinyModel, name: 'failing-template', chatTemplate: failingChatTemplate }), gguf);
        local = await localAi();
        // One thread and a small context: this machine has two cores.
        restoreSettings = await setSettings({ models: [{ source: gguf, name: 'Failing template' }], threads: 1, contextSize: 1024 });
        await untilModels(local.services.models, 'the fixture listed as installed', () =>
            local.services.models.installed().some(({ entry }) => entry.id === id),
        );
    });

    after(async () => {
        await local?.services.sidecar.request(UnloadModelRequest.type, { model: id });
        await restoreSettings?.();
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    /** The tooltip of the fixture's row in the Installed group of a Models tree drawn now. */
    function fixtureTooltip(): string {
        const tree = new ModelsTreeProvider(local.services.models);
        try {
            const group = tree.getChildren().find((node) => tree.getTreeItem(node).label === 'Installed');
            assert.ok(group, 'no Installed group');
            const row = (tree.getChildren(group) as ModelNode[]).find((node) => node.entry.id === id);
            assert.ok(row, 'the fixture has no row under Installed');
            return (tree.getTreeItem(row).tooltip as vscode.MarkdownString).value;
        } finally {
            tree.dispose();
        }
    }

    it("names the generic fallback in the loaded model's tooltip when its own template fails the safety check", async () => {
        assert.doesNotMatch(fixtureTooltip(), /Chat template/, 'a model not in memory has no template in use yet');
        const loaded = await local.services.sidecar.request(LoadModelRequest.type, { model: id });
        assert.equal(loaded.chatTemplate, 'generic ChatML (fallback)');
        const status = await nextStatus(local, (s) => s.activeModel?.modelId === id);
        assert.equal(status.activeModel?.chatTemplate, 'generic ChatML (fallback)');
        await untilModels(local.services.models, 'the row marked loaded', () => local.services.models.loadedModelId === id);
        assert.match(fixtureTooltip(), /Chat template: generic ChatML \(fallback\)/);
    });
});
