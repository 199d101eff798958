/**
 * Several processes on one store, as with two VS Code windows and the CLI beside them: two real CLI
 * downloads of one file, a cleanup and a delete racing a running download, a downloader killed with
 * SIGKILL, a partial that is (or becomes) a link to a decoy outside the store, and two real sidecars.
 * The fake hub holds the first download at a chosen byte ('stall'), so every race is driven by its
 * events: whatever the offset, the file at its final path hashes right or nothing is installed.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { DownloadProgress } from '../../src/common/models';
import { DownloadProgressType, DownloadRequest } from '../../src/common/protocol';
import { runCli, sizeOf, waitFor, type CliRun } from '../fixtures/cliProcess';
import { startFakeHub, type FakeHub } from '../fixtures/fakeHub/server';
import { startSidecar } from '../fixtures/sidecarProcess';

const REPO = 'test/race-GGUF';
const FILE = 'race-Q4_K_M.gguf';
const URI = `hf:${REPO}/${FILE}`;
const SIZE = 4 * 1024 * 1024;
const HALF = SIZE / 2;

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

type Cli = ReturnType<typeof runCli>;

describe('processes racing on one store', function () {
    this.timeout(120_000);
    let hub: FakeHub;
    let data: Buffer;
    let dir: string;
    let env: NodeJS.ProcessEnv;
    let started: Cli[];
    const finalPath = () => path.join(dir, REPO, FILE);
    const partialPath = () => `${finalPath()}.partial`;

    /** `local-ai models <args> --models-dir <the store>`, remembered so a failed test leaves no process behind. */
    const cli = (...args: string[]): Cli => {
        const run = runCli(['models', ...args, '--models-dir', dir], env);
        started.push(run);
        return run;
    };

    beforeEach(async () => {
        data = randomBytes(SIZE);
        hub = await startFakeHub({ files: [{ repo: REPO, path: FILE, data }] });
        dir = mkdtempSync(path.join(tmpdir(), 'local-ai-race-'));
        env = { HF_ENDPOINT: hub.url, HOME: mkdtempSync(path.join(tmpdir(), 'local-ai-home-')), HF_TOKEN: '', LOCAL_AI_MODELS_PATH: '' };
        started = [];
    });

    afterEach(async () => {
        for (const run of started) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
        await Promise.all(started.map((run) => run.done));
        await hub.stop();
    });

    /** Starts a CLI download the hub holds after `afterBytes`; resolves once those bytes are in the partial. */
    async function heldDownload(afterBytes: number): Promise<Cli> {
        hub.addFault({ kind: 'stall', afterBytes });
        const stalled = once(hub.events, 'stalled');
        const run = cli('download', '--model', URI);
        await Promise.race([stalled, run.done.then((r) => assert.fail(`the download ended before the hub held it: ${r.stderr}`))]);
        await waitFor(() => sizeOf(partialPath()) === afterBytes);
        return run;
    }

    /** Resolves once `run` printed something matching `pattern` on stderr; fails if it exits first. */
    async function stderrMatches(run: Cli, pattern: RegExp): Promise<void> {
        let text = '';
        const seen = new Promise<void>((resolve) => {
            const listener = (chunk: Buffer) => {
                text += chunk.toString();
                if (!pattern.test(text)) return;
                run.child.stderr!.off('data', listener);
                resolve();
            };
            run.child.stderr!.on('data', listener);
        });
        await Promise.race([seen, run.done.then((r: CliRun) => assert.fail(`exited (${r.code}) without printing ${pattern}:\n${r.stdout}\n${r.stderr}`))]);
    }

    /** The right bytes at the final path, fetched from the hub exactly once, and no lock, partial or journal left. */
    function assertInstalledOnce(): void {
        assert.equal(sha(readFileSync(finalPath())), sha(data), 'the installed file has the hub sha256');
        assert.equal(hub.bytesServed(), SIZE, 'the bytes crossed the network once');
        for (const leftover of [partialPath(), `${partialPath()}.json`, `${partialPath()}.lock`]) assert.equal(existsSync(leftover), false, `${leftover} left`);
    }

    for (const [holding, at] of [
        ['no byte yet', 0],
        ['half the file', HALF],
        ['all but its last byte', SIZE - 1],
    ] as const) {
        it(`a second CLI download of the same file, started while the first holds ${holding}, waits for it and writes nothing`, async () => {
            const first = await heldDownload(at);
            const second = cli('download', '--model', URI);
            await stderrMatches(second, /downloading in another window/);
            assert.equal(sizeOf(partialPath()), at, 'the waiting process wrote to the partial');

            hub.releaseStalls();
            const [a, b] = await Promise.all([first.done, second.done]);
            assert.equal(a.code, 0, a.stderr);
            assert.match(a.stdout, /^Installed /m);
            assert.equal(b.code, 0, b.stderr);
            assert.match(b.stdout, /^Already installed: /m);
            assert.doesNotMatch(b.stdout, /^Installed /m);
            // Its progress came from the other process's partial.
            const percent = ((at / SIZE) * 100).toFixed(0);
            assert.match(b.stderr, new RegExp(`^downloading .* ${percent}% .*downloading in another window`, 'm'));
            assertInstalledOnce();
        });
    }

    it('`models cleanup` in another process spares a running download, which then installs the right bytes', async () => {
        const download = await heldDownload(HALF);
        const cleanup = await cli('cleanup', '--json').done;
        assert.equal(cleanup.code, 0, cleanup.stderr);
        assert.deepEqual((JSON.parse(cleanup.stdout) as { removedFiles: string[] }).removedFiles, []);
        assert.equal(sizeOf(partialPath()), HALF, 'the partial survived');

        hub.releaseStalls();
        const done = await download.done;
        assert.equal(done.code, 0, done.stderr);
        assert.match(done.stdout, /^Installed /m);
        assertInstalledOnce();
    });

    it('`models cleanup` after the downloader was killed with SIGKILL recovers its stale lock and removes the partial', async () => {
        const download = await heldDownload(HALF);
        download.child.kill('SIGKILL');
        assert.equal((await download.done).signal, 'SIGKILL');
        assert.ok(existsSync(`${partialPath()}.lock`), 'the killed process left its lock behind');

        const cleanup = await cli('cleanup', '--json').done;
        assert.equal(cleanup.code, 0, cleanup.stderr);
        assert.deepEqual((JSON.parse(cleanup.stdout) as { removedFiles: string[] }).removedFiles.sort(), [partialPath(), `${partialPath()}.json`]);
        assert.equal(existsSync(`${partialPath()}.lock`), false, 'the stale lock is gone');
        assert.equal(existsSync(partialPath()), false);
    });

    it('`models delete` while another process downloads the file is refused, naming it; the download completes', async () => {
        const download = await heldDownload(HALF);
        const refused = await cli('delete', '--model', URI).done;
        assert.notEqual(refused.code, 0, refused.stdout);
        assert.match(refused.stderr, new RegExp(`process ${download.child.pid}\\b.*another window or the CLI is downloading it; cancel it there first`));
        assert.equal(sizeOf(partialPath()), HALF, 'the partial survived');

        hub.releaseStalls();
        const done = await download.done;
        assert.equal(done.code, 0, done.stderr);
        assertInstalledOnce();
    });

    describe('a partial that is a link to a file outside the store', () => {
        let decoy: string;
        let decoyBytes: Buffer;

        beforeEach(() => {
            decoy = path.join(mkdtempSync(path.join(tmpdir(), 'local-ai-decoy-')), 'precious.bin');
            decoyBytes = randomBytes(HALF);
            writeFileSync(decoy, decoyBytes);
        });

        const assertDecoyUntouched = () => assert.ok(readFileSync(decoy).equals(decoyBytes), 'the file the link points to changed');

        it('is refused with a clear error, and neither the link nor its target is touched', async () => {
            mkdirSync(path.dirname(partialPath()), { recursive: true });
            symlinkSync(decoy, partialPath());
            // A journal that matches the hub's file invites a resume from the link's bytes.
            const journal = { repo: REPO, revision: 'main', file: FILE, sizeBytes: SIZE, sha256: sha(data), startedAt: new Date().toISOString() };
            writeFileSync(`${partialPath()}.json`, JSON.stringify(journal));

            const run = await cli('download', '--model', URI).done;
            assert.notEqual(run.code, 0, run.stdout);
            assert.match(run.stderr, /race-Q4_K_M\.gguf\.partial is a symbolic link; Local AI never writes through links/);
            assert.doesNotMatch(run.stdout, /Installed/);
            assertDecoyUntouched();
            assert.ok(lstatSync(partialPath()).isSymbolicLink(), 'the link was removed');
            assert.equal(existsSync(finalPath()), false, 'something was installed');
            assert.equal(hub.bytesServed(), 0);
        });

        it('swapped in while a download runs: nothing is written through it and nothing is installed', async () => {
            const download = await heldDownload(HALF);
            renameSync(partialPath(), path.join(path.dirname(decoy), 'moved-away.partial'));
            symlinkSync(decoy, partialPath());

            hub.releaseStalls();
            const done = await download.done;
            assert.notEqual(done.code, 0, done.stdout);
            assert.match(done.stderr, /Another process replaced .*race-Q4_K_M\.gguf\.partial .*nothing was installed/);
            assert.doesNotMatch(done.stdout, /Installed/);
            assertDecoyUntouched();
            assert.equal(existsSync(finalPath()), false, 'something was installed');
            assert.equal(existsSync(`${finalPath()}.manifest.json`), false, 'a manifest was written');
        });
    });

    it("two real sidecars on one store: the second shows the first one's download and installs nothing itself", async () => {
        const settings = { hubEndpoint: hub.url };
        const [a, b] = await Promise.all([startSidecar({ settings, modelsPath: dir, env }), startSidecar({ settings, modelsPath: dir, env })]);
        try {
            hub.addFault({ kind: 'stall', afterBytes: HALF });
            const stalled = once(hub.events, 'stalled');
            const first = a.connection.sendRequest(DownloadRequest.type, { model: URI });
            await stalled;
            await waitFor(() => sizeOf(partialPath()) === HALF);

            const progress: DownloadProgress[] = [];
            const waiting = new Promise<void>((resolve) =>
                b.connection.onProgress(DownloadProgressType, 'second', (p) => {
                    progress.push(p);
                    if (p.message?.includes('downloading in another window')) resolve();
                }),
            );
            const second = b.connection.sendRequest(DownloadRequest.type, { model: URI, partialResultToken: 'second' });
            await Promise.race([waiting, second.then(() => assert.fail('the second sidecar finished without waiting'))]);
            assert.equal(progress.find((p) => p.message?.includes('another window'))?.receivedBytes, HALF);

            hub.releaseStalls();
            const [one, two] = await Promise.all([first, second]);
            assert.equal(one.downloaded, true);
            assert.equal(two.downloaded, false);
            assert.equal(two.path, finalPath());
            assertInstalledOnce();
        } finally {
            await Promise.all([a.stop(), b.stop()]);
        }
    });
});
