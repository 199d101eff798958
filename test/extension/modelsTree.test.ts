// The Models tree and the model commands, inside the real extension host, against the real sidecar.
// Settings point the sidecar at a temp models folder and at a generated GGUF file (a user model),
// so what the tree shows is what a user with that file would see.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import type { DownloadProgress } from '../../src/common/models';
import type { ModelsModel } from '../../src/extension/views/modelsModel';
import { ModelsTreeProvider, type ModelsTreeNode, type ModelNode } from '../../src/extension/views/modelsTree';
import { summarise } from '../../src/extension/statusBar';

const EXTENSION_ID = 'local-ai.local-ai';

interface Api {
    services: { models: ModelsModel };
}

/** Waits for the model list to satisfy `check`, refreshing on every change the sidecar reports. */
async function until(models: ModelsModel, what: string, check: () => boolean): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
            subscription.dispose();
            reject(
                new Error(
                    `timed out waiting for ${what}; last error: ${models.error ?? 'none'}; models: ${models.models.map((m) => `${m.id}[${m.files.map((f) => f.state).join(',')}]`).join(' ')}`,
                ),
            );
        }, 90_000);
        const subscription = models.onDidChange(() => {
            if (!check()) return;
            clearTimeout(timer);
            subscription.dispose();
            resolve();
        });
        void models.refresh();
    });
}

function labelOf(provider: ModelsTreeProvider, node: ModelsTreeNode): string {
    const label = provider.getTreeItem(node).label;
    return typeof label === 'string' ? label : (label?.label ?? '');
}

function groupNamed(provider: ModelsTreeProvider, name: string): ModelsTreeNode | undefined {
    return provider.getChildren().find((node) => labelOf(provider, node) === name);
}

describe('Models tree', () => {
    const config = () => vscode.workspace.getConfiguration('localAi');
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-tree-'));
    const modelsPath = path.join(scratch, 'models');
    let models: ModelsModel;
    let provider: ModelsTreeProvider;
    let ggufPath: string;

    before(async () => {
        fs.mkdirSync(modelsPath, { recursive: true });
        // Named as hub files are, so the quantization shows in the row.
        ggufPath = path.join(scratch, 'Tiny-Fixture-F32.gguf');
        fs.copyFileSync(ensureFixtureModel(defaultFixtureDir(), tinyModel), ggufPath);
        const extension = vscode.extensions.getExtension<Api>(EXTENSION_ID);
        assert.ok(extension);
        const api = await extension.activate();
        models = api.services.models;
        provider = new ModelsTreeProvider(models);
        await config().update('modelsPath', modelsPath, vscode.ConfigurationTarget.Global);
        await config().update('offline', true, vscode.ConfigurationTarget.Global);
        await config().update('models', [], vscode.ConfigurationTarget.Global);
        await until(models, 'the model list from the sidecar', () => models.loaded && models.installed().length === 0);
    });

    after(async () => {
        provider.dispose();
        for (const key of ['modelsPath', 'offline', 'models', 'defaultModel', 'fallback.providers']) {
            await config().update(key, undefined, vscode.ConfigurationTarget.Global);
        }
        models.setCatalogFilter('');
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    it('with nothing installed and offline, says what would be downloaded and why it cannot be, and offers a file instead', () => {
        assert.deepEqual(
            provider.getChildren().map((node) => labelOf(provider, node)),
            ['Recommended for this machine', 'Catalog', 'Cloud providers'],
        );
        const rows = provider.getChildren(groupNamed(provider, 'Recommended for this machine'));
        const rowIds = rows.map((node) => String(provider.getTreeItem(node).id));
        assert.ok(models.recommendation, 'the sidecar recommends a model');
        assert.deepEqual(rowIds.slice(1), ['firstRun/where', 'firstRun/disk', 'firstRun/reason', 'firstRun/offline', 'firstRun/addFile']);
        // Offline, no row downloads: the one that would says why it does not.
        assert.ok(!rows.some((node) => provider.getTreeItem(node).command?.command === 'localAi.downloadRecommended'));
        const offline = provider.getTreeItem(rows[4]);
        assert.match(String(offline.label), /^Offline mode is on/);
        assert.deepEqual(offline.command?.arguments, ['localAi.offline']);
        assert.equal(provider.getTreeItem(rows[5]).command?.command, 'localAi.addCustomModel');
        for (const node of rows) assert.ok(provider.getTreeItem(node).accessibilityInformation?.label, `no accessible label: ${labelOf(provider, node)}`);
    });

    it('shows an added GGUF file as installed, with its quantization, size and a fit badge', async () => {
        await vscode.commands.executeCommand('localAi.addCustomModel', ggufPath);
        await until(models, 'the custom model installed', () => models.installed().length === 1);
        const installed = groupNamed(provider, 'Installed');
        assert.ok(
            installed,
            `groups: ${provider
                .getChildren()
                .map((node) => labelOf(provider, node))
                .join(', ')}`,
        );
        const rows = provider.getChildren(installed) as ModelNode[];
        assert.equal(rows.length, 1);
        const item = provider.getTreeItem(rows[0]);
        assert.equal(item.label, path.basename(ggufPath).replace(/\.gguf$/, ''));
        assert.match(String(item.description), /F32 · \d+(\.\d)? (KB|MB)/);
        assert.ok(item.iconPath instanceof vscode.ThemeIcon, 'a fit badge icon');
        assert.match(String(item.contextValue), /^model installed\b.*\bonDisk\b/);
        const tooltip = item.tooltip as vscode.MarkdownString;
        // A file with no catalog facts is estimated from its GGUF header.
        assert.match(tooltip.value, /RAM needed/);
        assert.match(String((item.iconPath as vscode.ThemeIcon).id), /rocket|layers|chip|circle-slash/);
        assert.match(tooltip.value, new RegExp(path.basename(ggufPath).replace(/\./g, '\\.')));
    });

    it('groups the catalog by family with fit badges and download actions, and filters it', () => {
        const catalog = groupNamed(provider, 'Catalog');
        assert.ok(catalog);
        const families = provider.getChildren(catalog);
        const familyNames = families.map((node) => labelOf(provider, node));
        assert.ok(familyNames.includes('qwen2.5-coder'), familyNames.join(', '));
        const coder = families[familyNames.indexOf('qwen2.5-coder')];
        const rows = provider.getChildren(coder) as ModelNode[];
        assert.ok(rows.length > 0);
        for (const row of rows) {
            const item = provider.getTreeItem(row);
            assert.match(String(item.contextValue), /^model available\b.*\bhub\b/);
            assert.match(String(item.description), /B · Q\w+ · [\d.]+ (MB|GB) · quality ★/);
            const icon = item.iconPath as vscode.ThemeIcon;
            assert.ok(['rocket', 'layers-active', 'chip', 'circle-slash'].includes(icon.id), `fit badge ${icon.id} (${row.file.fit?.reason ?? 'no estimate'})`);
        }
        models.setCatalogFilter('coder');
        const filtered = provider.getChildren(groupNamed(provider, 'Catalog')).map((node) => labelOf(provider, node));
        assert.deepEqual(filtered, ['qwen2.5-coder']);
        models.setCatalogFilter('');
    });

    it('recommends a model for this machine and says why', () => {
        const recommended = groupNamed(provider, 'Recommended for this machine');
        assert.ok(models.recommendation, 'the sidecar recommends a model');
        assert.ok(recommended);
        assert.equal(provider.getTreeItem(recommended).description, models.recommendation.reason);
        const [row] = provider.getChildren(recommended) as ModelNode[];
        assert.equal(row.entry.id, models.recommendation.modelId);
        assert.equal(row.file.quant, models.recommendation.quant);
    });

    it('marks the model chosen with Use for Chat as active', async () => {
        const [choice] = models.installed();
        await vscode.commands.executeCommand('localAi.useForChat', choice.entry.id);
        assert.equal(config().get('defaultModel'), `${choice.entry.id}@${choice.file.quant}`);
        await until(models, 'the active model', () => models.activeModelId === choice.entry.id);
        const [row] = provider.getChildren(groupNamed(provider, 'Installed')) as ModelNode[];
        const item = provider.getTreeItem(row);
        assert.match(String(item.description), /active/);
        assert.match(String(item.contextValue), /\bactive\b/);
    });

    it('lists configured cloud providers, or offers to add one', async () => {
        const cloud = groupNamed(provider, 'Cloud providers');
        assert.ok(cloud);
        assert.equal(labelOf(provider, provider.getChildren(cloud)[0]), 'Use a cloud provider…');
        await config().update('fallback.providers', [{ id: 'ollama', model: 'llama3.2' }], vscode.ConfigurationTarget.Global);
        const rows = provider.getChildren(groupNamed(provider, 'Cloud providers'));
        const item = provider.getTreeItem(rows[0]);
        assert.equal(item.label, 'ollama');
        assert.equal(item.description, 'llama3.2');
        assert.equal(item.contextValue, 'provider');
    });

    it('summarises downloads for the status bar, one in full and several as a total', () => {
        const one: DownloadProgress = {
            modelId: 'a',
            quant: 'Q4_K_M',
            name: 'Qwen2.5-Coder-1.5B',
            receivedBytes: 42,
            totalBytes: 100,
            bytesPerSecond: 38 * 1024 * 1024,
            etaSeconds: 80,
            state: 'downloading',
        };
        assert.equal(summarise([one]), '42% · Qwen2.5-Coder-1.5B · 38 MB/s · 1m20s');
        const two: DownloadProgress = { ...one, modelId: 'b', receivedBytes: 0, totalBytes: 100, bytesPerSecond: 0, etaSeconds: undefined };
        assert.equal(summarise([one, two]), '21% · 2 downloads · 38 MB/s · 1m20s');
    });
});
