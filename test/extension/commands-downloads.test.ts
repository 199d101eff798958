/**
 * Downloads as the commands drive them, inside the real extension host with the real sidecar and a fake
 * hub whose "stall" fault holds a transfer open at a known byte: Clean Up Partial Downloads removes the
 * partial of a download that was stopped and spares the one a running download writes; Show Downloads
 * lists what runs; and a download survives a kill -9 of the sidecar, the next sidecar resuming it from
 * the partial file with only the missing bytes (counted by the hub).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CancelDownloadRequest, type DownloadResult } from '../../src/common/protocol';
import type { LocalAiTestApi } from '../../src/extension/extension';
import type { FakeHubFile } from '../fixtures/fakeHub/server';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { hubWith, localAi, nextStatus, pollUntil, setSettings, sidecarPid, sizeOf } from './harness';
import { Prompts } from './prompts';

const REPO = 'local-ai-test/Command-Downloads-GGUF';

describe('Commands: downloads', function () {
    this.timeout(180_000);
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-downloads-'));
    const modelsPath = path.join(scratch, 'models');
    const fixture = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    const size = fs.statSync(fixture).size;
    // One file per test, so no test sees another's transfer.
    const names = ['Stale-Q8_0', 'Live-Q8_0', 'Listed-Q8_0', 'Crash-Q8_0'];
    let local: LocalAiTestApi;
    let restoreSettings: () => Promise<void>;
    let hub: Awaited<ReturnType<typeof hubWith>>;
    let prompts: Prompts;

    const fileName = (name: string) => `${name}.gguf`;
    const uri = (name: string) => `hf:${REPO}/${fileName(name)}`;
    const installedPath = (name: string) => path.join(modelsPath, REPO, fileName(name));
    const partialPath = (name: string) => `${installedPath(name)}.partial`;

    /**
     * Starts a download with the Download Model command; the hub holds it once `afterBytes` are sent.
     * Resolves with the command's promise wrapped (an async function would wait for a promise it returns).
     */
    async function stalledDownload(name: string, afterBytes: number): Promise<{ done: Thenable<DownloadResult | undefined> }> {
        hub.addFault({ kind: 'stall', path: fileName(name), times: 1, afterBytes });
        const stalled = new Promise<void>((resolve) => {
            const onStalled = (stalledPath: string) => {
                if (stalledPath !== fileName(name)) return;
                hub.events.off('stalled', onStalled);
                resolve();
            };
            hub.events.on('stalled', onStalled);
        });
        const running = vscode.commands.executeCommand<DownloadResult | undefined>('localAi.downloadModel', uri(name));
        await stalled;
        // Every byte the hub sent is on disk (the downloader flushes a stalled stream soon).
        await pollUntil(`${name}'s partial holds the ${afterBytes} bytes sent`, () => sizeOf(partialPath(name)) === afterBytes);
        return { done: running };
    }

    before(async () => {
        local = await localAi();
        restoreSettings = await setSettings({ modelsPath });
        const files: FakeHubFile[] = names.map((name) => ({ repo: REPO, path: fileName(name), filePath: fixture }));
        hub = await hubWith(files);
    });

    after(async () => {
        hub.releaseStalls();
        await hub?.close();
        await restoreSettings?.();
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    beforeEach(() => (prompts = new Prompts()));
    afterEach(async function () {
        prompts.dispose(this.currentTest?.state === 'passed');
        // A test that failed midway may leave a transfer the hub holds: it must not run into the next test.
        for (const download of local.services.models.downloads) {
            await local.services.sidecar.request(CancelDownloadRequest.type, { model: download.modelId, quant: download.quant });
        }
    });

    it("Clean Up Partial Downloads removes a stopped download's partial and spares the one a download is writing", async () => {
        const stale = (await stalledDownload('Stale-Q8_0', Math.floor(size * 0.3))).done;
        await vscode.commands.executeCommand('localAi.cancelDownload');
        assert.equal(await stale, undefined);
        await prompts.next('info', /download of .*Stale-Q8_0 paused/);
        assert.ok(fs.existsSync(`${partialPath('Stale-Q8_0')}.json`), 'the stopped download left no journal');

        const liveBytes = Math.floor(size * 0.4);
        const live = (await stalledDownload('Live-Q8_0', liveBytes)).done;
        await vscode.commands.executeCommand('localAi.cleanupPartials');
        const report = await prompts.next('info', /partial download/);
        assert.match(report.text, /^Local AI: removed 1 partial download, \d+ (KB|MB) freed\.$/);
        assert.equal(fs.existsSync(partialPath('Stale-Q8_0')), false, "the stopped download's partial is still there");
        assert.equal(fs.existsSync(`${partialPath('Stale-Q8_0')}.json`), false, "the stopped download's journal is still there");
        assert.equal(sizeOf(partialPath('Live-Q8_0')), liveBytes, "the running download's partial was touched");
        assert.ok(fs.existsSync(`${partialPath('Live-Q8_0')}.json`), "the running download's journal was removed");

        // The hub lets go: the running download resumes from its partial and completes.
        hub.releaseStalls();
        const result = await live;
        assert.equal(result?.downloaded, true);
        assert.equal(fs.statSync(installedPath('Live-Q8_0')).size, size);
        const ranges = hub.requests.filter((request) => request.port === 'cdn' && request.url.endsWith(fileName('Live-Q8_0'))).map((request) => request.range);
        assert.deepEqual(ranges, [undefined, `bytes=${liveBytes}-`]);
        assert.equal(hub.bytesServed(fileName('Live-Q8_0')), size, 'bytes were fetched twice');
    });

    it('Show Downloads says when none runs, and lists a running one with its progress', async () => {
        await vscode.commands.executeCommand('localAi.showDownloads');
        const none = await prompts.next('info', /no download is running/);
        assert.deepEqual(none.items, ['Download Model…']);

        const running = (await stalledDownload('Listed-Q8_0', Math.floor(size / 2))).done;
        await nextStatus(local, (status) => status.downloads.some((download) => download.name === 'Listed-Q8_0'));
        const showing = vscode.commands.executeCommand('localAi.showDownloads');
        const list = await prompts.next('quickPick', /^Local AI downloads$/);
        const items = list.quickPick!.items;
        assert.deepEqual(
            items.map((item) => item.label),
            ['$(cloud-download) Listed-Q8_0'],
        );
        assert.match(String(items[0].description), /^\d+%/);
        assert.equal((items[0] as vscode.QuickPickItem & { buttons?: unknown[] }).buttons?.length, 1, 'no cancel button on the running download');
        await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
        await showing;

        await vscode.commands.executeCommand('localAi.cancelDownload');
        assert.equal(await running, undefined);
    });

    it('resumes a download after the sidecar is killed, fetching only the missing bytes', async () => {
        const before = await sidecarPid(local);
        const sentBefore = Math.floor(size * 0.4);
        const first = (await stalledDownload('Crash-Q8_0', sentBefore)).done;
        process.kill(before, 'SIGKILL');
        // The request the sidecar took with it ends quietly: the download is remembered, not failed.
        assert.equal(await first, undefined);
        await prompts.next('info', /Crash-Q8_0\.gguf Q8_0 is downloaded/, 120_000);
        assert.notEqual(await sidecarPid(local), before, 'the same sidecar answered after kill -9');
        assert.equal(fs.statSync(installedPath('Crash-Q8_0')).size, size);
        const ranges = hub.requests.filter((request) => request.port === 'cdn' && request.url.endsWith(fileName('Crash-Q8_0'))).map((request) => request.range);
        assert.deepEqual(ranges, [undefined, `bytes=${sentBefore}-`], 'the new sidecar did not resume from the partial file');
        assert.equal(hub.bytesServed(fileName('Crash-Q8_0')), size, 'bytes were fetched twice');
        assert.deepEqual(
            prompts.shown.filter((shown) => shown.kind === 'error').map((shown) => shown.text),
            [],
        );
    });
});
