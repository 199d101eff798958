/**
 * Damaged files and moved revisions as the editor shows them, inside the real extension host with the real
 * sidecar and a fake hub: after Check Models finds a flipped byte, the row says "damaged" and offers Repair
 * (the menu's own `when` clause is matched against the row); Repair, from the row or from the check's
 * notification, makes the file on disk and the row healthy again. A download of main after main moved asks
 * before it replaces the installed copy, and replaces nothing when the user says no.
 */
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DownloadResult } from '../../src/common/protocol';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { ModelsTreeProvider, type ModelNode } from '../../src/extension/views/modelsTree';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { hubWith, localAi, setSettings, untilModels } from './harness';
import { Prompts } from './prompts';

const REPO = 'local-ai-test/Repair-GGUF';
const QUANT = 'Q8_0';

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('Repair and revisions in the editor', function () {
    this.timeout(180_000);
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-repair-'));
    const modelsPath = path.join(scratch, 'models');
    const fixture = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    const original = fs.readFileSync(fixture);
    // One file per test, so no test sees another's state.
    const names = ['Row-Q8_0', 'Notified-Q8_0', 'Moved-Q8_0'];
    let local: LocalAiTestApi;
    let restoreSettings: () => Promise<void>;
    let hub: Awaited<ReturnType<typeof hubWith>>;
    let prompts: Prompts;
    let tree: ModelsTreeProvider;

    const fileName = (name: string) => `${name}.gguf`;
    const idOf = (name: string) => `hf:${REPO}/${fileName(name)}`;
    const installedPath = (name: string) => path.join(modelsPath, REPO, fileName(name));
    /** The model's file as the views see it now; undefined until the list holds it. */
    const file = (name: string) => local.services.models.find(idOf(name))?.files.find((candidate) => candidate.quant === QUANT);

    /** The model's row in the Models view's Installed group, with its tree item. */
    function row(name: string): { node: ModelNode; item: vscode.TreeItem } {
        const installed = tree.getChildren().find((node) => node.kind === 'group' && node.group === 'installed');
        assert.ok(installed, 'the Models view has no Installed group');
        const node = tree.getChildren(installed).find((candidate): candidate is ModelNode => candidate.kind === 'model' && candidate.entry.id === idOf(name));
        assert.ok(node, `no row for ${name}`);
        return { node, item: tree.getTreeItem(node) };
    }

    /** Whether the package's inline Repair menu item shows on a row with this context value. */
    function offersRepair(contextValue: string | undefined): boolean {
        const menus = vscode.extensions.getExtension('local-ai.local-ai')?.packageJSON.contributes.menus['view/item/context'] as {
            command: string;
            when: string;
            group: string;
        }[];
        const inline = menus.find((menu) => menu.command === 'localAi.repairModel' && menu.group.startsWith('inline'));
        assert.ok(inline, 'the Models view has no inline Repair action');
        const pattern = /viewItem =~ \/(.+)\/$/.exec(inline.when)?.[1];
        assert.ok(pattern && inline.when.startsWith('view == localAi.models'), inline.when);
        return new RegExp(pattern).test(contextValue ?? '');
    }

    /** Installs `name` through the Download Model command, then flips one byte: same size, wrong sha256. */
    async function installedThenDamaged(name: string): Promise<void> {
        await vscode.commands.executeCommand('localAi.downloadModel', idOf(name));
        await prompts.next('info', new RegExp(`${fileName(name).replace('.', '\\.')} ${QUANT} is downloaded`));
        await untilModels(local.services.models, `${name} installed`, () => file(name)?.state === 'installed');
        const bytes = fs.readFileSync(installedPath(name));
        bytes[bytes.length >> 1] ^= 0xff;
        fs.writeFileSync(installedPath(name), bytes);
    }

    /** Check Models for one model; its warning gets `reply`. */
    async function check(name: string, reply: string | undefined): Promise<void> {
        prompts.answer('warning', /model files are damaged/, reply);
        await vscode.commands.executeCommand('localAi.checkModels', `${idOf(name)}@${QUANT}`);
    }

    before(async () => {
        local = await localAi();
        restoreSettings = await setSettings({ modelsPath });
        hub = await hubWith(names.map((name) => ({ repo: REPO, path: fileName(name), filePath: fixture })));
        tree = new ModelsTreeProvider(local.services.models);
    });

    after(async () => {
        tree?.dispose();
        await hub?.close();
        await restoreSettings?.();
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    beforeEach(() => (prompts = new Prompts()));
    afterEach(function () {
        prompts.dispose(this.currentTest?.state === 'passed');
    });

    it('a damaged row says so and offers Repair; Repair makes the file and the row healthy', async () => {
        await installedThenDamaged('Row-Q8_0');
        assert.equal(offersRepair(row('Row-Q8_0').item.contextValue), false, 'Repair is offered before any check found damage');
        await check('Row-Q8_0', undefined);
        await untilModels(local.services.models, 'the row marked damaged', () => file('Row-Q8_0')?.damage !== undefined);
        const damaged = row('Row-Q8_0');
        assert.match(String(damaged.item.description), /(^| · )damaged · /);
        assert.ok(offersRepair(damaged.item.contextValue), `no Repair on the damaged row (${damaged.item.contextValue})`);

        hub.resetCounters();
        await vscode.commands.executeCommand('localAi.repairModel', damaged.node);
        const report = await prompts.next('info', /repaired/);
        assert.equal(report.text, `Local AI: repaired ${idOf('Row-Q8_0')} ${QUANT}: fetched again and verified.`);
        assert.equal(sha(fs.readFileSync(installedPath('Row-Q8_0'))), sha(original), 'the file on disk is whole again');
        assert.ok(hub.bytesServed(fileName('Row-Q8_0')) > 0);
        assert.equal(hub.bytesServed(), hub.bytesServed(fileName('Row-Q8_0')), 'only the damaged file was fetched');
        await untilModels(local.services.models, 'the row healthy again', () => file('Row-Q8_0')?.damage === undefined);
        const healthy = row('Row-Q8_0');
        assert.equal(offersRepair(healthy.item.contextValue), false);
        assert.doesNotMatch(String(healthy.item.description), /damaged/);
    });

    it("Check Models' notification offers Repair, which fetches the damaged file again", async () => {
        await installedThenDamaged('Notified-Q8_0');
        await check('Notified-Q8_0', 'Repair');
        const warning = await prompts.next('warning', /model files are damaged/);
        assert.deepEqual(warning.items, ['Repair', 'Show Logs']);
        await prompts.next('info', new RegExp(`repaired ${idOf('Notified-Q8_0')}`));
        assert.equal(sha(fs.readFileSync(installedPath('Notified-Q8_0'))), sha(original));
        await untilModels(
            local.services.models,
            'the row healthy',
            () => file('Notified-Q8_0')?.state === 'installed' && file('Notified-Q8_0')?.damage === undefined,
        );
    });

    it('asks before a moved main replaces the installed copy; No keeps it, Replace installs the new commit', async () => {
        await vscode.commands.executeCommand('localAi.downloadModel', idOf('Moved-Q8_0'));
        await prompts.next('info', /Moved-Q8_0\.gguf Q8_0 is downloaded/);
        const installedCommit = hub.commitOf(REPO);
        const newer = Buffer.concat([original, randomBytes(4096)]);
        const moved = hub.publish({ repo: REPO, path: fileName('Moved-Q8_0'), data: newer });
        const question = new RegExp(`^Replace .*Moved-Q8_0.* main \\(commit ${installedCommit.slice(0, 7)}\\) with main \\(commit ${moved.slice(0, 7)}\\)\\?$`);

        hub.resetCounters();
        prompts.answer('warning', question, undefined);
        assert.equal(await vscode.commands.executeCommand('localAi.downloadModel', idOf('Moved-Q8_0')), undefined);
        assert.ok((await prompts.next('warning', question)).modal, 'the question is not modal');
        assert.equal(hub.bytesServed(), 0, 'bytes were fetched although the user said no');
        assert.equal(sha(fs.readFileSync(installedPath('Moved-Q8_0'))), sha(original));

        prompts.answer('warning', question, 'Replace');
        const replaced = await vscode.commands.executeCommand<DownloadResult | undefined>('localAi.downloadModel', idOf('Moved-Q8_0'));
        assert.equal(replaced?.downloaded, true);
        assert.deepEqual(replaced?.replaced, { revision: 'main', commit: installedCommit });
        assert.equal(sha(fs.readFileSync(installedPath('Moved-Q8_0'))), sha(newer), "the file holds main's new commit");
        const manifest = JSON.parse(fs.readFileSync(`${installedPath('Moved-Q8_0')}.manifest.json`, 'utf8')) as { commit?: string };
        assert.equal(manifest.commit, moved);
    });
});
