/**
 * The commands on a catalog model, inside the real extension host with the real sidecar: the model
 * recommended for this machine is served by a fake hub (each of its quantizations a small generated
 * GGUF), so Download the Recommended Model, Choose Quantization, Check Models, Delete Model and Open on
 * Hugging Face act on real files in a temporary models folder, and each test checks what a user would
 * see: the file on disk, the Models tree, the sidecar's state, the message or the page opened.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ModelEntry } from '../../src/common/models';
import { ChatChunkType, ChatRequest, DeleteModelRequest, DownloadRequest, LoadModelRequest, UnloadModelRequest } from '../../src/common/protocol';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { FIRST_MODEL_READIED_KEY } from '../../src/extension/commands/downloads';
import { ModelsTreeProvider, type ModelNode } from '../../src/extension/views/modelsTree';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { escapeRegExp, fileOf, hubWith, localAi, nextStatus, setSettings, untilModels } from './harness';
import { Prompts } from './prompts';

describe('Commands: a catalog model', function () {
    this.timeout(180_000);
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-catalog-'));
    const modelsPath = path.join(scratch, 'models');
    const fixture = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    const fixtureSha = createHash('sha256').update(fs.readFileSync(fixture)).digest('hex');
    let local: LocalAiTestApi;
    let restoreSettings: () => Promise<void>;
    let hub: Awaited<ReturnType<typeof hubWith>>;
    let prompts: Prompts;
    let entry: ModelEntry;
    /** The recommended quantization, and another one that fits this machine. */
    let recommended: string;
    let other: string;

    const models = () => local.services.models;
    const installedPath = (quant: string) => path.join(modelsPath, entry.repo!, fileOf(models(), entry.id, quant).file.file);
    const isInstalled = (quant: string) =>
        models()
            .installed()
            .some(({ entry: e, file }) => e.id === entry.id && file.quant === quant);

    /** Test set-up through the protocol (not the commands under test): the file installed or not. */
    async function ensureInstalled(quant: string): Promise<void> {
        if (isInstalled(quant)) return;
        await local.services.sidecar.request(DownloadRequest.type, { model: entry.id, quant });
        await untilModels(models(), `${entry.id} ${quant} installed`, () => isInstalled(quant));
    }
    async function ensureAbsent(quant: string): Promise<void> {
        await local.services.sidecar.request(UnloadModelRequest.type, {});
        if (!isInstalled(quant)) return;
        await local.services.sidecar.request(DeleteModelRequest.type, { model: entry.id, quant });
        await untilModels(models(), `${entry.id} ${quant} deleted`, () => !isInstalled(quant));
    }

    before(async () => {
        local = await localAi();
        restoreSettings = await setSettings({ modelsPath, models: [], defaultModel: undefined, offline: false, threads: 1, contextSize: 1024 });
        await untilModels(models(), 'a recommended model', () => models().recommendation !== undefined && models().list?.modelsPath === modelsPath);
        const recommendation = models().recommendation!;
        entry = models().find(recommendation.modelId)!;
        assert.ok(entry?.repo, `the recommended model ${recommendation.modelId} does not come from the hub`);
        recommended = recommendation.quant;
        const fitting = entry.files.find((file) => file.quant !== recommended && file.fit?.fit !== 'none');
        assert.ok(fitting, `${entry.id} has no other quantization that fits: ${entry.files.map((f) => `${f.quant}:${f.fit?.fit}`).join(', ')}`);
        other = fitting.quant;
        hub = await hubWith(entry.files.map((file) => ({ repo: entry.repo!, path: file.file, filePath: fixture })));
    });

    after(async () => {
        await local.services.sidecar.request(UnloadModelRequest.type, {});
        await hub?.close();
        await restoreSettings?.();
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    beforeEach(() => {
        prompts = new Prompts();
        hub.resetCounters();
    });

    afterEach(function () {
        prompts.dispose(this.currentTest?.state === 'passed');
    });

    it('Download the Recommended Model, as the first model: fetched, chosen for chat in that quantization, loaded, the chat opened, one notification', async () => {
        await ensureAbsent(recommended);
        await ensureAbsent(other);
        const restore = await setSettings({ defaultModel: undefined });
        const { globalState } = local.services.context;
        await globalState.update(FIRST_MODEL_READIED_KEY, undefined);
        try {
            await vscode.commands.executeCommand('localAi.downloadRecommended');
            const file = installedPath(recommended);
            assert.equal(fs.statSync(file).size, fs.statSync(fixture).size);
            assert.equal(JSON.parse(fs.readFileSync(`${file}.manifest.json`, 'utf8')).sha256, fixtureSha);
            assert.equal(hub.bytesServed(path.basename(file)), fs.statSync(fixture).size);
            const ready = await prompts.next('info', new RegExp(`^Local AI: ${escapeRegExp(entry.name)} is ready\\.`));
            assert.match(ready.text, /Chat view.*Ctrl\+Alt\+I|Chat view.*Cmd\+Alt\+I/);
            assert.deepEqual(ready.items, [], 'the first-run notification asks nothing more');
            assert.ok(!prompts.shown.some((shown) => /is downloaded/.test(shown.text)), 'a second notification offered Use for Chat');
            assert.equal(vscode.workspace.getConfiguration('localAi').get('defaultModel'), `${entry.id}@${recommended}`);
            const status = await nextStatus(local, (s) => s.activeModel?.modelId === entry.id);
            assert.equal(status.activeModel?.quant, recommended, 'the downloaded file is the one loaded');
            assert.equal(globalState.get(FIRST_MODEL_READIED_KEY), true, 'the first-run flow is marked done, so it runs once per install');
        } finally {
            await globalState.update(FIRST_MODEL_READIED_KEY, true);
            await restore();
        }
        await untilModels(models(), 'the download in the list', () => isInstalled(recommended));
        const tree = new ModelsTreeProvider(models());
        try {
            const group = tree.getChildren().find((node) => tree.getTreeItem(node).label === 'Installed');
            assert.ok(group, 'no Installed group in the Models tree');
            const rows = (tree.getChildren(group) as ModelNode[]).map((row) => tree.getTreeItem(row));
            assert.ok(
                rows.some((row) => row.label === entry.name && String(row.description).includes(recommended)),
                `Installed rows: ${rows.map((row) => `${row.label} (${row.description})`).join(', ')}`,
            );
        } finally {
            tree.dispose();
        }
    });

    it('Use for Chat keeps the quantization picked: chat loads that file, and only its row is active', async () => {
        await ensureInstalled(recommended);
        await ensureInstalled(other);
        const restore = await setSettings({ defaultModel: undefined });
        try {
            await vscode.commands.executeCommand('localAi.useForChat', `${entry.id}@${other}`);
            assert.equal(vscode.workspace.getConfiguration('localAi').get('defaultModel'), `${entry.id}@${other}`);
            await untilModels(models(), `${other} active`, () => models().activeQuant === other);
            const tree = new ModelsTreeProvider(models());
            try {
                const group = tree.getChildren().find((node) => tree.getTreeItem(node).label === 'Installed');
                const active = (tree.getChildren(group) as ModelNode[]).filter((row) => /\bactive\b/.test(String(tree.getTreeItem(row).contextValue)));
                assert.deepEqual(
                    active.map((row) => row.file.quant),
                    [other],
                );
            } finally {
                tree.dispose();
            }
            // Chat names no model: it answers with the active one, in the file the user picked (not the default one).
            await local.services.sidecar.request(UnloadModelRequest.type, {});
            await local.services.sidecar.requestWithProgress(
                ChatRequest.type,
                ChatChunkType,
                { messages: [{ role: 'user', content: 'hi' }], options: { maxTokens: 2 } },
                () => undefined,
            );
            const status = await nextStatus(local, (s) => s.activeModel?.modelId === entry.id);
            assert.equal(status.activeModel?.quant, other);
        } finally {
            await restore();
        }
    });

    it('Choose Quantization downloads the one picked, and loads one already installed', async () => {
        await ensureAbsent(other);
        await ensureInstalled(recommended);
        const downloading = vscode.commands.executeCommand('localAi.chooseQuantization', entry.id);
        const pick = await prompts.pick(/choose a quantization/, new RegExp(`^\\S+ ${other}$`));
        assert.deepEqual(
            pick.items.map((label) => label.replace(/^\$\([^)]+\) /, '')),
            entry.files.map((file) => file.quant),
        );
        await downloading;
        assert.equal(fs.statSync(installedPath(other)).size, fs.statSync(fixture).size);
        assert.equal(hub.bytesServed(path.basename(installedPath(other))), fs.statSync(fixture).size, 'the picked quantization came from the hub');
        await prompts.next('info', new RegExp(`${other} is downloaded`));

        // Picking an installed quantization makes it the chat model (the user setting, put back after) and loads it.
        const restore = await setSettings({ defaultModel: undefined });
        try {
            const loading = vscode.commands.executeCommand('localAi.chooseQuantization', entry.id);
            await prompts.pick(/choose a quantization/, new RegExp(`^\\S+ ${recommended}$`));
            await loading;
            assert.equal(vscode.workspace.getConfiguration('localAi').get('defaultModel'), `${entry.id}@${recommended}`);
            const status = await nextStatus(local, (s) => s.activeModel?.modelId === entry.id);
            assert.equal(status.activeModel?.quant, recommended);
        } finally {
            await restore();
        }
    });

    it('Check Models says which files it verified, which it could only measure, and names a corrupt one', async () => {
        await ensureInstalled(recommended);
        await ensureInstalled(other);
        // A manifest with no sha256 (an install from a hub that gives none), checked offline: only its size can be checked.
        const manifestPath = `${installedPath(other)}.manifest.json`;
        const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
        delete manifest.sha256;
        fs.writeFileSync(manifestPath, JSON.stringify(manifest));
        const restore = await setSettings({ offline: true });
        try {
            await vscode.commands.executeCommand('localAi.checkModels');
            const report = await prompts.next('info', /model files? verified intact/);
            assert.equal(
                report.text,
                `Local AI: 1 of 2 model files verified intact; ${entry.id} ${other} could only be checked by size (no sha256 is known: offline, or the hub gives none).`,
            );
        } finally {
            await restore();
        }

        // One byte flipped, the size unchanged: only the sha256 can tell, and the warning names that file.
        const damaged = installedPath(recommended);
        const bytes = fs.readFileSync(damaged);
        bytes[bytes.length >> 1] ^= 0xff;
        fs.writeFileSync(damaged, bytes);
        // Its first button, answered through the prompts seam (the workbench's accept-primary-action would take
        // whichever notification is newest): the damaged file is fetched again and replaces it once verified.
        prompts.answer('warning', /damaged/, 'Repair');
        await vscode.commands.executeCommand('localAi.checkModels');
        const warning = await prompts.next('warning', /damaged/);
        assert.match(
            warning.text,
            new RegExp(
                `^Local AI: 1 of 2 model files are damaged: ${escapeRegExp(entry.id)} ${recommended} \\(sha256 is [0-9a-f]{12}…, the hub says ${fixtureSha.slice(0, 12)}…`,
            ),
        );
        assert.doesNotMatch(warning.text, new RegExp(`${escapeRegExp(entry.id)} ${other}`), 'the intact file is named as damaged');
        assert.deepEqual(warning.items, ['Repair', 'Show Logs']);
        assert.equal(createHash('sha256').update(fs.readFileSync(damaged)).digest('hex'), fixtureSha, 'the damaged file was not replaced by a good copy');
    });

    it('Delete Model unloads the model in use, then removes its file and its row', async () => {
        await ensureInstalled(recommended);
        const file = installedPath(recommended);
        await local.services.sidecar.request(LoadModelRequest.type, { model: entry.id, quant: recommended });
        await nextStatus(local, (status) => status.activeModel?.modelId === entry.id);

        // Escape on the confirmation deletes nothing.
        prompts.answer('warning', new RegExp(`^Delete ${entry.name} ${recommended}\\?`), undefined);
        await vscode.commands.executeCommand('localAi.deleteModel', `${entry.id}@${recommended}`);
        assert.ok(fs.existsSync(file), 'deleted although the user said no');

        prompts.answer('warning', new RegExp(`^Delete ${entry.name} ${recommended}\\?`), 'Delete');
        await vscode.commands.executeCommand('localAi.deleteModel', `${entry.id}@${recommended}`);
        assert.equal(fs.existsSync(file), false, 'the model file is still on disk');
        assert.equal(fs.existsSync(`${file}.manifest.json`), false, 'the manifest is still on disk');
        assert.equal(
            local.services.sidecar.status.activeModel,
            undefined,
            'the deleted model is still loaded (its memory and, mapped, its disk space are not freed)',
        );
        const confirm = prompts.shown.filter((shown) => shown.kind === 'warning' && shown.modal).at(-1)!;
        assert.ok(String(confirm.options.detail).includes(file), `the confirmation does not say which file: ${confirm.options.detail}`);
        assert.match(String(confirm.options.detail), /loaded/, `the confirmation does not say the model in use will be unloaded: ${confirm.options.detail}`);
        await untilModels(models(), 'the row gone', () => !isInstalled(recommended));
    });

    it('Open on Hugging Face opens the repository on the configured hub, else on huggingface.co', async () => {
        await vscode.commands.executeCommand('localAi.openOnHub', entry.id);
        assert.deepEqual(prompts.opened.map(String), [vscode.Uri.parse(`${hub.url}/${entry.repo}`).toString()]);
        const restore = await setSettings({ hubEndpoint: undefined });
        try {
            await vscode.commands.executeCommand('localAi.openOnHub', entry.id);
            assert.equal(prompts.opened[1]?.toString(), vscode.Uri.parse(`https://huggingface.co/${entry.repo}`).toString());
        } finally {
            await restore();
        }
    });
});
