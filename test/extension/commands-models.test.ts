/**
 * Load Model, Unload Model and Reveal in File Explorer on a GGUF file of the user's (`localAi.models`),
 * inside the real extension host with the real sidecar and llama.cpp: what the sidecar says is loaded,
 * what the status bar and the Models tree show, and where the file is revealed.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { StatusBar } from '../../src/extension/statusBar';
import { ModelsTreeProvider, type ModelNode } from '../../src/extension/views/modelsTree';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { escapeRegExp, localAi, nextStatus, setSettings, untilModels } from './harness';
import { Prompts } from './prompts';

const NAME = 'Commands fixture';

describe('Commands: load, unload and reveal a model', function () {
    this.timeout(180_000);
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-load-'));
    // Named as hub files are, so the row shows a quantization.
    const gguf = path.join(scratch, 'Commands-Fixture-F32.gguf');
    const id = `file:${gguf}`;
    let local: LocalAiTestApi;
    let restoreSettings: () => Promise<void>;
    let prompts: Prompts;

    before(async () => {
        fs.copyFileSync(ensureFixtureModel(defaultFixtureDir(), tinyModel), gguf);
        local = await localAi();
        // One thread and a small context: this machine has two cores.
        restoreSettings = await setSettings({ models: [{ source: gguf, name: NAME }], defaultModel: id, threads: 1, contextSize: 1024 });
        await untilModels(
            local.services.models,
            'the fixture listed as installed and active',
            () => local.services.models.activeModelId === id && local.services.models.installed().some(({ entry }) => entry.id === id),
        );
    });

    after(async () => {
        await vscode.commands.executeCommand('localAi.unloadModel');
        await restoreSettings?.();
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    beforeEach(() => (prompts = new Prompts()));
    afterEach(function () {
        prompts.dispose(this.currentTest?.state === 'passed');
    });

    /** The fixture's row in the Installed group of a Models tree drawn now. */
    function fixtureRow(): vscode.TreeItem {
        const tree = new ModelsTreeProvider(local.services.models);
        try {
            const group = tree.getChildren().find((node) => tree.getTreeItem(node).label === 'Installed');
            assert.ok(group, 'no Installed group');
            const row = (tree.getChildren(group) as ModelNode[]).find((node) => node.entry.id === id);
            assert.ok(row, 'the fixture has no row under Installed');
            return tree.getTreeItem(row);
        } finally {
            tree.dispose();
        }
    }

    it('Load Model, picked from the palette, loads it: the sidecar, the status bar and the row say so; Unload Model frees it', async () => {
        await vscode.commands.executeCommand('localAi.unloadModel');
        const bar = new StatusBar(local.services.sidecar, local.services.models, local.services.gpu, local.services.server);
        try {
            assert.equal(bar.text, `$(hubot) ${NAME} · not loaded`);
            const loading = vscode.commands.executeCommand('localAi.loadModel');
            await prompts.pick(/^Load a model$/, new RegExp(`^\\$\\([^)]+\\) ${NAME}$`));
            await loading;
            const loaded = await nextStatus(local, (status) => status.activeModel?.modelId === id);
            assert.match(bar.text, new RegExp(`^\\$\\(hubot\\) ${NAME} · ${loaded.activeModel!.device}$`));
            await untilModels(local.services.models, 'the row marked loaded', () => local.services.models.loadedModelId === id);
            const row = fixtureRow();
            assert.match(String(row.contextValue), /\bloaded\b/);
            assert.match(String(row.description), /^● active/);

            await vscode.commands.executeCommand('localAi.unloadModel', id);
            await prompts.next('info', new RegExp(`^Local AI: unloaded .*${escapeRegExp(path.basename(gguf))}; its memory is free\\.$`));
            await nextStatus(local, (status) => status.activeModel === undefined);
            assert.equal(bar.text, `$(hubot) ${NAME} · not loaded`);
            assert.match(String(fixtureRow().description), /^○ active/);

            await vscode.commands.executeCommand('localAi.unloadModel', id);
            await prompts.next('info', /^Local AI: no model was loaded\.$/);
        } finally {
            bar.dispose();
        }
    });

    it('Reveal in File Explorer shows the model file: in the OS file manager on a desktop, else its path to copy', async () => {
        const desktop = vscode.env.uiKind === vscode.UIKind.Desktop && vscode.env.remoteName === undefined;
        if (desktop) {
            // The workbench's own command would open a file manager window; the test's registration stands in for it.
            const revealed: vscode.Uri[] = [];
            const stand = vscode.commands.registerCommand('revealFileInOS', (uri: vscode.Uri) => revealed.push(uri));
            try {
                await vscode.commands.executeCommand('localAi.revealModel', id);
            } finally {
                stand.dispose();
            }
            assert.deepEqual(
                revealed.map((uri) => uri.fsPath),
                [gguf],
            );
            return;
        }
        await vscode.env.clipboard.writeText('');
        // Answered through the seam, not by the workbench's "accept the newest notification": another
        // notification arriving at that moment (a full run has many sources) would take the click instead.
        prompts.answer('info', /is at/, 'Copy Path');
        await vscode.commands.executeCommand('localAi.revealModel', id);
        const message = await prompts.next('info', /is at/);
        assert.equal(message.text, `Local AI: ${NAME} F32 is at ${gguf} on ${vscode.env.remoteName}.`);
        assert.deepEqual(message.items, ['Copy Path']);
        assert.equal(await vscode.env.clipboard.readText(), gguf);
        assert.deepEqual(
            prompts.shown.filter((shown) => shown.kind === 'error').map((shown) => shown.text),
            [],
        );
    });
});
