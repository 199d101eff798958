/**
 * Reliability: process and disk faults against the REAL sidecar. kill -9 during a chat, a model load
 * and a download, then a fresh process on the same models folder must answer, load, and resume the
 * download from its partial (the fake hub counts the bytes). A models folder on a tiny tmpfs that
 * fills up mid-download must fail fast with a clear message, keep the partial and leave every other
 * file alone.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCode } from '../../src/common/errors';
import type { DownloadProgress } from '../../src/common/models';
import { LoadModelRequest, SidecarInfoRequest, UnloadModelRequest } from '../../src/common/protocol';
import { startFakeHub, type FakeHub } from '../fixtures/fakeHub/server';
import { benchModel, defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';
import { chatThrough, downloadThrough, eventually, hubFileBytes, killHard, MB } from './reliability-harness';

const REPO = 'reliability/fault-GGUF';
const FILE = 'fault-Q4_K_M.gguf';
const SIZE = 3 * MB;
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const settings = { threads: 1, gpu: 'off' as const, contextSize: 512 };

describe('reliability: process and disk faults (real sidecar)', function () {
    this.timeout(180_000);
    const scratch = fs.mkdtempSync(path.join(tmpdir(), 'local-ai-faults-'));
    const open: SidecarProcess[] = [];
    const start = async (options: { modelsPath?: string; hubEndpoint?: string } = {}) => {
        const sidecar = await startSidecar({ modelsPath: options.modelsPath, settings: { ...settings, hubEndpoint: options.hubEndpoint ?? '' } });
        open.push(sidecar);
        return sidecar;
    };

    afterEach(async () => {
        for (const sidecar of open.splice(0)) await sidecar.stop();
    });
    after(() => fs.rmSync(scratch, { recursive: true, force: true }));

    it('kill -9 during a chat: the request fails instead of hanging, and a new sidecar answers', async () => {
        const model = ensureFixtureModel(defaultFixtureDir(), tinyModel);
        const first = await start();
        let chunks = 0;
        let fifthChunk: () => void = () => undefined;
        const streaming = new Promise<void>((resolve) => {
            fifthChunk = resolve;
        });
        const chat = chatThrough(first, {
            model,
            options: { maxTokens: 4000 },
            onChunk: (chunk) => {
                if (chunk.kind === 'text' && ++chunks === 5) fifthChunk();
            },
        }).then(
            () => 'answered',
            (error: Error) => error.message,
        );
        // A chat that ends before it streamed (no engine, an error) fails here instead of waiting forever.
        await Promise.race([streaming, chat.then((outcome) => assert.fail(`the chat ended before streaming: ${outcome}`))]);
        await killHard(first);
        assert.notEqual(await chat, 'answered', 'the chat finished although its process was killed');

        const second = await start();
        const result = await chatThrough(second, { model, options: { maxTokens: 8, seed: 2 } });
        assert.equal(result.usage.completionTokens, 8);
    });

    it('kill -9 during a model load: a new sidecar loads the same file', async () => {
        const model = ensureFixtureModel(defaultFixtureDir(), benchModel);
        const first = await start();
        const busy = eventually<unknown>(
            (listener) => first.connection.onNotification('localAi/status', listener),
            (status) => (status as { busy?: boolean }).busy === true,
            'the load to start',
        );
        const load = first.connection.sendRequest(LoadModelRequest.type, { model }).then(
            () => 'loaded',
            () => 'failed',
        );
        await busy;
        await killHard(first);
        assert.equal(await load, 'failed');

        const second = await start();
        const loaded = await second.connection.sendRequest(LoadModelRequest.type, { model });
        assert.equal(loaded.path, model);
        await second.connection.sendRequest(UnloadModelRequest.type, {});
    });

    describe('downloads', () => {
        let hub: FakeHub;
        const data = hubFileBytes(SIZE);
        const other = hubFileBytes(MB);

        beforeEach(async () => {
            hub = await startFakeHub({
                files: [
                    { repo: REPO, path: FILE, data },
                    { repo: REPO, path: 'other-Q8_0.gguf', data: other },
                ],
            });
        });
        afterEach(async () => {
            await hub.stop();
        });

        it('kill -9 during a download: the partial is kept and a new sidecar resumes it', async () => {
            const modelsPath = fs.mkdtempSync(path.join(scratch, 'models-'));
            // The hub sends 1 MB and then holds the connection, so the kill lands mid-file.
            hub.addFault({ kind: 'stall', path: FILE, afterBytes: MB });
            const first = await start({ modelsPath, hubEndpoint: hub.url });
            const stalled = new Promise<void>((resolve) => hub.events.once('stalled', () => resolve()));
            const download = downloadThrough(first, `hf:${REPO}/${FILE}`).then(
                () => 'done',
                () => 'failed',
            );
            await stalled;
            // The hub has sent its 1 MB; kill once the sidecar has written it, so there is something to resume.
            const partial = path.join(modelsPath, REPO, `${FILE}.partial`);
            await until(() => (fs.existsSync(partial) ? fs.statSync(partial).size : 0) >= MB, 'the first megabyte on disk');
            await killHard(first);
            assert.equal(await download, 'failed');
            assert.ok(fs.existsSync(partial), 'the partial was not kept');
            const kept = fs.statSync(partial).size;

            hub.clearFaults();
            hub.resetCounters();
            const second = await start({ modelsPath, hubEndpoint: hub.url });
            const result = await downloadThrough(second, `hf:${REPO}/${FILE}`);
            assert.equal(result.downloaded, true);
            assert.equal(sha(fs.readFileSync(result.path)), sha(data), 'the resumed file is not the hub file');
            assert.equal(hub.bytesServed(FILE), SIZE - kept, `fetched ${hub.bytesServed(FILE)} bytes after keeping ${kept}`);
            console.log(`      resumed after kill -9: kept ${kept} bytes, fetched ${hub.bytesServed(FILE)} of ${SIZE}`);
        });

        it('@slow the disk fills up mid-download: fails fast with a clear message, keeps the partial, corrupts nothing', async function () {
            const modelsPath = fs.mkdtempSync(path.join(scratch, 'tiny-disk-'));
            try {
                execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', modelsPath], { stdio: 'ignore' });
            } catch {
                // Without the right to mount, there is no honest full disk to test against.
                this.skip();
            }
            try {
                // A model already installed on the same disk must survive the failure byte for byte.
                const first = await start({ modelsPath, hubEndpoint: hub.url });
                const installed = await downloadThrough(first, `hf:${REPO}/other-Q8_0.gguf`);
                const installedSha = sha(fs.readFileSync(installed.path));

                // The connection drops after 1 MB; while the download waits to retry, the disk fills up.
                hub.addFault({ kind: 'drop', path: FILE, afterBytes: MB });
                const filler = path.join(modelsPath, 'filler.bin');
                let filled = false;
                const states: DownloadProgress['state'][] = [];
                const outcome = await downloadThrough(first, `hf:${REPO}/${FILE}`, (progress) => {
                    states.push(progress.state);
                    if (progress.state === 'retrying' && !filled) {
                        filled = true;
                        fillDisk(filler);
                    }
                }).then(
                    () => undefined,
                    (error: unknown) => error,
                );
                assert.ok(filled, `the download never retried (states: ${states.join(', ')}; outcome: ${String(outcome)})`);
                assert.ok(outcome instanceof ResponseError, `the download did not fail on a full disk: ${String(outcome)}`);
                assert.equal(outcome.code, ErrorCode.DiskFull, `${ErrorCode[outcome.code] ?? outcome.code}: ${outcome.message}`);
                assert.match(outcome.message, /disk|space/i);
                const retries = states.filter((state) => state === 'retrying').length;
                assert.ok(retries <= 1, `it retried ${retries} times against a full disk instead of failing fast`);

                const partial = path.join(modelsPath, REPO, `${FILE}.partial`);
                assert.ok(fs.existsSync(partial), 'the partial was deleted');
                assert.ok(fs.statSync(partial).size >= MB, `only ${fs.statSync(partial).size} bytes of the partial were kept`);
                assert.equal(sha(fs.readFileSync(installed.path)), installedSha, 'the installed model changed');
                assert.equal(fs.existsSync(path.join(modelsPath, REPO, FILE)), false, 'a half file was installed');

                // Space freed: the same download resumes and completes.
                fs.rmSync(filler);
                hub.clearFaults();
                const resumed = await downloadThrough(first, `hf:${REPO}/${FILE}`);
                assert.equal(sha(fs.readFileSync(resumed.path)), sha(data));
                await first.connection.sendRequest(SidecarInfoRequest.type);
            } finally {
                for (const sidecar of open.splice(0)) await sidecar.stop();
                execFileSync('umount', ['-l', modelsPath], { stdio: 'ignore' });
            }
        });
    });
});

/** Polls a file-system condition (there is no event for "bytes reached the disk"); fails after 20 s. */
async function until(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
}

/** Writes zeros until the file system says ENOSPC. */
function fillDisk(file: string): void {
    const block = Buffer.alloc(64 * 1024);
    const fd = fs.openSync(file, 'w');
    try {
        for (;;) fs.writeSync(fd, block);
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    } finally {
        fs.closeSync(fd);
    }
}
