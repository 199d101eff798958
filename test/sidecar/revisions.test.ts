/**
 * Revisions and pinning against a fake hub whose `main` moves: the store records the commit its bytes
 * came from, a request for another revision (or a moved main) is not "already installed", a download
 * reads every byte from the commit it started with, and a complete partial needs no request at all.
 * The CLI cases are real `local-ai` processes; the pinning cases drive the sidecar's services in-process
 * so the hub can move main at an exact byte.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { ModelManifest } from '../../src/common/models';
import type { ModelServices } from '../../src/sidecar/models';
import { runCli, type CliRun } from '../fixtures/cliProcess';
import { modelServicesOn } from '../fixtures/modelServices';
import { startFakeHub, type FakeHub } from '../fixtures/fakeHub/server';

const REPO = 'test/revisions-GGUF';
const FILE = 'moving-Q4_K_M.gguf';
const OTHER = 'other-Q8_0.gguf';
const SIZE = 2 * 1024 * 1024;

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const explain = (run: CliRun) => `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;

describe('revisions: the store knows which commit it holds, and a moving main', function () {
    this.timeout(120_000);
    let hub: FakeHub;
    let dir: string;
    let home: string;
    /** The bytes main held when the hub started. */
    let first: Buffer;
    const services: ModelServices[] = [];

    const models = async (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
        runCli(['models', ...args, '--models-dir', dir], { HF_ENDPOINT: hub.url, HOME: home, HF_TOKEN: '', LOCAL_AI_MODELS_PATH: '', ...extraEnv }).done;
    const installedPath = () => path.join(dir, ...REPO.split('/'), FILE);
    const manifest = () => JSON.parse(readFileSync(`${installedPath()}.manifest.json`, 'utf8')) as ModelManifest;
    const cdnRequests = () => hub.requests.filter((r) => r.port === 'cdn');

    beforeEach(async () => {
        dir = mkdtempSync(path.join(tmpdir(), 'local-ai-rev-'));
        home = mkdtempSync(path.join(tmpdir(), 'local-ai-rev-home-'));
        first = randomBytes(SIZE);
        hub = await startFakeHub({
            files: [
                { repo: REPO, path: FILE, data: first },
                { repo: REPO, path: OTHER, data: randomBytes(1024) },
            ],
        });
    });

    afterEach(async () => {
        for (const s of services.splice(0)) await s.dispose();
        await hub.stop();
        rmSync(dir, { recursive: true, force: true });
        rmSync(home, { recursive: true, force: true });
    });

    /** The sidecar's model services on `dir`, as one sidecar process has them. */
    function sidecarServices(): ModelServices {
        const s = modelServicesOn({ dir, hubUrl: hub.url, downloads: { stallTimeoutMs: 5_000 } });
        services.push(s);
        return s;
    }

    it('a moved main replaces the installed copy (the CLI says so); the old revision by its name is installed only while the manifest names its commit', async () => {
        const v1 = hub.publish({ repo: REPO, path: FILE, data: first, branch: 'v1' });
        let run = await models(['download', '--model', `hf:${REPO}@v1/${FILE}`]);
        assert.equal(run.code, 0, explain(run));
        assert.match(run.stdout, /^Installed /m, explain(run));
        assert.equal(manifest().commit, v1, 'the manifest names the commit v1 pointed at');
        assert.equal(manifest().revision, 'v1');

        const second = randomBytes(SIZE);
        const moved = hub.publish({ repo: REPO, path: FILE, data: second });
        run = await models(['download', '--model', `hf:${REPO}/${FILE}`]);
        assert.equal(run.code, 0, explain(run));
        assert.match(run.stdout, new RegExp(`^Installed .*replacing v1 \\(commit ${v1.slice(0, 7)}\\)`, 'm'), explain(run));
        assert.equal(sha(readFileSync(installedPath())), sha(second), "the file holds main's new bytes");
        assert.equal(manifest().commit, moved);
        assert.equal(manifest().sha256, sha(second));

        hub.resetCounters();
        run = await models(['download', '--model', `hf:${REPO}@v1/${FILE}`]);
        assert.equal(run.code, 0, explain(run));
        assert.doesNotMatch(run.stdout, /Already installed/, 'v1 is not what the store holds now');
        assert.match(run.stdout, new RegExp(`replacing main \\(commit ${moved.slice(0, 7)}\\)`), explain(run));
        assert.equal(sha(readFileSync(installedPath())), sha(first));
        assert.equal(manifest().commit, v1);

        hub.resetCounters();
        run = await models(['download', '--model', `hf:${REPO}@v1/${FILE}`]);
        assert.match(run.stdout, /^Already installed: /m, explain(run));
        assert.equal(cdnRequests().length, 0, 'nothing fetched for the commit the store holds');
    });

    it('offline, the installed copy is used although main moved; online, a commit that did not change the file fetches nothing', async () => {
        let run = await models(['download', '--model', `hf:${REPO}/${FILE}`]);
        assert.equal(run.code, 0, explain(run));
        const installedCommit = manifest().commit;
        hub.publish({ repo: REPO, path: FILE, data: randomBytes(SIZE) });
        hub.resetCounters();
        run = await models(['download', '--model', `hf:${REPO}/${FILE}`], { LOCAL_AI_OFFLINE: '1' });
        assert.match(run.stdout, /^Already installed: /m, explain(run));
        assert.equal(hub.requests.length, 0, 'offline touches no socket');
        assert.equal(manifest().commit, installedCommit);

        // main moves again, back to the installed bytes, through a commit of another file.
        hub.publish({ repo: REPO, path: FILE, data: first });
        const unrelated = hub.publish({ repo: REPO, path: OTHER, data: randomBytes(1024) });
        hub.resetCounters();
        run = await models(['download', '--model', `hf:${REPO}/${FILE}`]);
        assert.match(run.stdout, /^Already installed: /m, explain(run));
        assert.equal(cdnRequests().length, 0, 'the same bytes are not fetched again');
        assert.equal(manifest().commit, unrelated, 'the manifest now names the commit the bytes were found at');
    });

    it('pins the commit: main moving mid-download changes no byte, and nothing is fetched twice', async () => {
        const s = sidecarServices();
        const started = hub.commitOf(REPO);
        hub.addFault({ kind: 'stall', path: FILE, afterBytes: SIZE / 4 });
        const stalled = once(hub.events, 'stalled');
        const download = s.registry.download({ model: `hf:${REPO}/${FILE}` });
        await stalled;
        const second = randomBytes(SIZE);
        hub.publish({ repo: REPO, path: FILE, data: second });
        hub.releaseStalls();
        const result = await download;

        assert.equal(result.downloaded, true);
        assert.equal(sha(readFileSync(result.path)), sha(first), 'every byte is from the commit the download started at');
        assert.equal(manifest().commit, started);
        assert.equal(hub.bytesServed(FILE), SIZE, 'the resume continued where it stopped, with no restart');
        const resolves = hub.requests.filter((r) => r.port === 'hub' && r.url.includes('/resolve/'));
        assert.equal(resolves.length, 2, 'the first attempt and the resume');
        for (const r of resolves) assert.equal(r.url, `/${REPO}/resolve/${started}/${FILE}`, 'both from the pinned commit');
    });

    it('a partial that is already complete goes straight to verification: no request to the CDN', async () => {
        const s = sidecarServices();
        const paths = s.store.paths(REPO, FILE);
        mkdirSync(path.dirname(paths.partial), { recursive: true });
        writeFileSync(paths.partial, first);
        await s.store.writeJournal(paths, {
            repo: REPO,
            revision: 'main',
            commit: hub.commitOf(REPO),
            file: FILE,
            sizeBytes: SIZE,
            sha256: sha(first),
            startedAt: new Date().toISOString(),
        });
        const result = await s.registry.download({ model: `hf:${REPO}/${FILE}` });

        assert.equal(result.downloaded, true);
        assert.equal(result.bytesFetched, 0);
        assert.equal(sha(readFileSync(result.path)), sha(first));
        assert.deepEqual(cdnRequests(), [], 'the complete partial was verified without a request');
        assert.equal(hub.requests.filter((r) => r.url.includes('/resolve/')).length, 0);
    });
});
