/**
 * Downloads against a fake hub on loopback, one fault at a time: each case asserts the outcome, that a
 * resume fetched only the missing bytes (counted by the hub), and that nothing corrupted was installed.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ErrorCode, LocalAiError } from '../../src/common/errors';
import type { DownloadProgress } from '../../src/common/models';
import { defaultSettings } from '../../src/common/settings';
import { SidecarContext } from '../../src/sidecar/context';
import type { DownloadManagerOptions } from '../../src/sidecar/models/download';
import { createModelServices, type ModelServices } from '../../src/sidecar/models';
import { waitFor } from '../fixtures/cliProcess';
import { startFakeHub, type FakeHub } from '../fixtures/fakeHub/server';
import { startProxy } from '../fixtures/proxy';

const REPO = 'test/fixture-GGUF';
const SIZE = 3 * 1024 * 1024;
const MB = 1024 * 1024;

interface Harness {
    hub: FakeHub;
    models: ModelServices;
    context: SidecarContext;
    dir: string;
    data: Buffer;
    file: string;
    uri: string;
}

const open: { hub: FakeHub; models: ModelServices[] }[] = [];

async function harness(
    options: { gatedToken?: string; token?: string; offline?: boolean; downloads?: Partial<DownloadManagerOptions>; dir?: string } = {},
): Promise<Harness> {
    const data = randomBytes(SIZE);
    const file = 'fixture-Q4_K_M.gguf';
    const hub = await startFakeHub({
        files: [
            { repo: REPO, path: file, data, gatedToken: options.gatedToken },
            { repo: REPO, path: 'other-Q8_0.gguf', data: randomBytes(SIZE) },
        ],
    });
    const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'local-ai-dl-'));
    const models = servicesFor(hub, dir, options);
    open.push({ hub, models: [models] });
    return { hub, models, context: contextOf(models), dir, data, file, uri: `hf:${REPO}/${file}` };
}

const contexts = new WeakMap<ModelServices, SidecarContext>();
const contextOf = (models: ModelServices) => contexts.get(models)!;

/** A second "process" on the same models folder (what a sidecar restart looks like to the store). */
function servicesFor(
    hub: FakeHub,
    dir: string,
    options: { token?: string; offline?: boolean; downloads?: Partial<DownloadManagerOptions> } = {},
): ModelServices {
    const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
    const context = new SidecarContext({
        log: silent,
        settings: { ...defaultSettings(), hubEndpoint: hub.url, offline: options.offline ?? false },
        secrets: { providerKeys: {}, huggingFaceToken: options.token },
        defaultModelsPath: dir,
        statePath: dir,
    });
    const models = createModelServices(context, {
        discoveryFolders: () => ({ huggingFaceCache: path.join(dir, 'no-hf-cache'), lmStudio: [], extra: [] }),
        downloads: { retryBaseDelayMs: 10, stallTimeoutMs: 400, ...options.downloads },
    });
    contexts.set(models, context);
    open.at(-1)?.models.push(models);
    return models;
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function rejection(promise: Promise<unknown>): Promise<LocalAiError> {
    try {
        await promise;
    } catch (error) {
        assert.ok(error instanceof LocalAiError, `expected a LocalAiError, got ${String(error)}`);
        return error;
    }
    assert.fail('expected the download to fail');
}

function assertInstalled(h: Harness, resultPath: string): void {
    assert.equal(resultPath, path.join(h.dir, REPO, h.file));
    assert.equal(sha(readFileSync(resultPath)), sha(h.data), 'installed bytes are the hub file');
    const manifest = JSON.parse(readFileSync(`${resultPath}.manifest.json`, 'utf8')) as { sha256: string; sizeBytes: number; repo: string };
    assert.equal(manifest.sha256, sha(h.data));
    assert.equal(manifest.sizeBytes, SIZE);
    assert.equal(manifest.repo, REPO);
    assert.equal(existsSync(`${resultPath}.partial`), false, 'no partial left');
    assert.equal(existsSync(`${resultPath}.partial.json`), false, 'no journal left');
}

function assertNothingInstalled(h: Harness): void {
    assert.equal(existsSync(path.join(h.dir, REPO, h.file)), false, 'nothing installed');
    assert.equal(existsSync(path.join(h.dir, REPO, `${h.file}.manifest.json`)), false, 'no manifest');
}

const partialPath = (h: Harness) => path.join(h.dir, REPO, `${h.file}.partial`);

/**
 * The last request asked for exactly the bytes the partial lacked and got only those. Bytes a dropped
 * connection delivered but the client never stored (at most a socket buffer) are the only waste allowed.
 */
function assertResumedFromPartial(h: Harness): void {
    const cdn = h.hub.requests.filter((r) => r.port === 'cdn');
    const last = cdn.at(-1)!;
    const start = Number(/^bytes=(\d+)-$/.exec(last.range ?? '')?.[1]);
    assert.ok(start > 0, `the last request resumed (asked ${last.range})`);
    assert.equal(last.status, 206);
    assert.equal(last.bodyBytes, SIZE - start, 'the resume fetched only the missing bytes');
    const waste = h.hub.bytesServed() - SIZE;
    assert.ok(waste >= 0 && waste <= 256 * 1024, `bytes fetched twice: ${waste}`);
}
const rangesAsked = (h: Harness) => h.hub.requests.filter((r) => r.port === 'cdn').map((r) => r.range ?? 'whole');

describe('downloads from the hub (fake hub on loopback)', function () {
    this.timeout(60_000);

    afterEach(async () => {
        for (const { hub, models } of open.splice(0)) {
            for (const m of models) await m.dispose();
            await hub.stop();
        }
    });

    it('downloads, verifies and installs once; a second request fetches nothing', async () => {
        const h = await harness();
        const progress: DownloadProgress[] = [];
        const result = await h.models.registry.download({ model: h.uri, onProgress: (p) => progress.push(p) });
        assert.equal(result.downloaded, true);
        assert.equal(result.bytesFetched, SIZE);
        assertInstalled(h, result.path);
        assert.equal(h.hub.bytesServed(), SIZE);
        assert.deepEqual([...new Set(progress.map((p) => p.state))], ['queued', 'downloading', 'verifying', 'done']);
        assert.equal(h.hub.requests.find((r) => r.port === 'cdn')?.authorization, false, 'no credentials sent to the CDN');

        const again = await h.models.registry.download({ model: h.uri });
        assert.equal(again.downloaded, false);
        assert.equal(h.hub.bytesServed(), SIZE, 'nothing fetched the second time');
        const listed = (await h.models.registry.list()).models.find((m) => m.id === h.uri);
        assert.equal(listed?.files[0].state, 'installed');
    });

    it('resumes with a Range request after the connection drops mid-body', async () => {
        const h = await harness();
        h.hub.addFault({ kind: 'drop', afterBytes: MB });
        const result = await h.models.registry.download({ model: h.uri });
        assertInstalled(h, result.path);
        assert.equal(rangesAsked(h).length, 2);
        assertResumedFromPartial(h);
    });

    it('starts over when a server answers a range request with 200 and the whole file', async () => {
        const h = await harness();
        h.hub.addFault({ kind: 'drop', afterBytes: MB });
        h.hub.addFault({ kind: 'ignoreRange' });
        const result = await h.models.registry.download({ model: h.uri });
        assertInstalled(h, result.path);
        assert.equal(h.hub.requests.filter((r) => r.port === 'cdn')[1].status, 200);
        assert.equal(h.hub.bytesServed(), MB + SIZE);
    });

    it('gives up on a stalled connection after the stall timeout and resumes', async () => {
        const h = await harness();
        h.hub.addFault({ kind: 'stall', afterBytes: MB });
        const result = await h.models.registry.download({ model: h.uri });
        assertInstalled(h, result.path);
        assert.equal(rangesAsked(h).length, 2);
        assertResumedFromPartial(h);
    });

    it('deletes same-size corrupted bytes, says so, and installs nothing; the next try succeeds', async () => {
        const h = await harness();
        h.hub.addFault({ kind: 'corrupt' });
        const error = await rejection(h.models.registry.download({ model: h.uri }));
        assert.equal(error.code, ErrorCode.ChecksumMismatch);
        assert.match(error.message, /corrupted.*deleted/);
        assertNothingInstalled(h);
        assert.equal(existsSync(partialPath(h)), false, 'the bad bytes are gone');

        const result = await h.models.registry.download({ model: h.uri });
        assertInstalled(h, result.path);
    });

    it('keeps the partial when a server answers with a zero-byte body, and retries', async () => {
        const h = await harness();
        h.hub.addFault({ kind: 'drop', afterBytes: MB });
        h.hub.addFault({ kind: 'empty' });
        const result = await h.models.registry.download({ model: h.uri });
        assertInstalled(h, result.path);
        const ranges = rangesAsked(h);
        assert.equal(ranges.length, 3);
        assert.equal(ranges[1], ranges[2], 'the empty answer did not cost the partial');
        assertResumedFromPartial(h);
    });

    it('retries 503 answers with backoff, then succeeds', async () => {
        const h = await harness();
        h.hub.addFault({ kind: 'status', status: 503, times: 2 });
        const states: string[] = [];
        const result = await h.models.registry.download({ model: h.uri, onProgress: (p) => states.push(p.state) });
        assertInstalled(h, result.path);
        assert.equal(states.filter((s) => s === 'retrying').length, 2);
        assert.equal(h.hub.bytesServed(), SIZE);
    });

    it('fails after repeated server errors, keeping the partial for a later resume', async () => {
        const h = await harness({ downloads: { maxAttemptsWithoutProgress: 3 } });
        h.hub.addFault({ kind: 'drop', afterBytes: MB });
        h.hub.addFault({ kind: 'status', status: 500, times: 3 });
        const error = await rejection(h.models.registry.download({ model: h.uri }));
        assert.equal(error.code, ErrorCode.DownloadFailed);
        const kept = statSync(partialPath(h)).size;
        assert.ok(kept > 0 && kept <= MB, `partial kept (${kept} bytes)`);
        assertNothingInstalled(h);
        h.hub.resetCounters();
        const result = await h.models.registry.download({ model: h.uri });
        assertInstalled(h, result.path);
        assert.equal(h.hub.bytesServed(), SIZE - kept, 'the later download fetched only the rest');
    });

    it('reports a file the hub does not have (404) as not found', async () => {
        const h = await harness();
        const error = await rejection(h.models.registry.download({ model: `hf:${REPO}/missing-Q4_K_M.gguf` }));
        assert.equal(error.code, ErrorCode.ModelNotFound);
        h.hub.addFault({ kind: 'status', status: 404 });
        const cdn404 = await rejection(h.models.registry.download({ model: h.uri }));
        assert.equal(cdn404.code, ErrorCode.ModelNotFound);
        assertNothingInstalled(h);
    });

    it('explains a gated model (401) with the licence URL and a token hint; a wrong token (403) too; the right one works', async () => {
        const h = await harness({ gatedToken: 'hf_right' });
        const error = await rejection(h.models.registry.download({ model: h.uri }));
        assert.equal(error.code, ErrorCode.Unauthorized);
        assert.equal(error.data.url, `${h.hub.url}/${REPO}`);
        assert.match(error.data.hint ?? '', /token/i);
        assert.equal(h.hub.requests.at(-1)?.status, 401);

        const wrong = servicesFor(h.hub, h.dir, { token: 'hf_wrong' });
        const refused = await rejection(wrong.registry.download({ model: h.uri }));
        assert.equal(refused.code, ErrorCode.Unauthorized);
        assert.equal(h.hub.requests.at(-1)?.status, 403);

        const right = servicesFor(h.hub, h.dir, { token: 'hf_right' });
        const result = await right.registry.download({ model: h.uri });
        assertInstalled(h, result.path);
    });

    it('cancel keeps the partial; a new process on the same folder resumes from it', async () => {
        const h = await harness({ downloads: { stallTimeoutMs: 60_000 } });
        h.hub.addFault({ kind: 'stall', afterBytes: MB });
        const stalled = once(h.hub.events, 'stalled');
        const download = h.models.registry.download({ model: h.uri });
        await stalled;
        await waitFor(() => existsSync(partialPath(h)) && statSync(partialPath(h)).size === MB);
        assert.equal(h.models.downloads.cancel(h.uri), true);
        const error = await rejection(download);
        assert.equal(error.code, ErrorCode.Cancelled);
        assert.equal(statSync(partialPath(h)).size, MB, 'the partial is kept');
        const listed = (await h.models.registry.list()).models.find((m) => m.id === h.uri);
        assert.equal(listed?.files[0].state, 'partial');
        assert.equal(listed?.files[0].partialBytes, MB);

        h.hub.resetCounters();
        const restarted = servicesFor(h.hub, h.dir);
        const result = await restarted.registry.download({ model: h.uri });
        assertInstalled(h, result.path);
        assert.equal(result.bytesFetched, SIZE - MB);
        assert.deepEqual(rangesAsked(h), [`bytes=${MB}-`]);
        assert.equal(h.hub.bytesServed(), SIZE - MB);
    });

    it('shares one transfer between two requests for the same file', async () => {
        const h = await harness();
        const [a, b] = await Promise.all([h.models.registry.download({ model: h.uri }), h.models.registry.download({ model: `hf:${REPO}:Q4_K_M` })]);
        assert.deepEqual(a, b);
        assert.equal(h.hub.requests.filter((r) => r.port === 'cdn').length, 1);
        assertInstalled(h, a.path);
    });

    it('queues downloads beyond maxConcurrentDownloads', async () => {
        const h = await harness({ downloads: { stallTimeoutMs: 60_000 } });
        h.context.updateSettings({ ...h.context.settings, maxConcurrentDownloads: 1 });
        h.hub.addFault({ kind: 'stall', path: h.file, afterBytes: MB });
        const stalled = once(h.hub.events, 'stalled');
        const first = h.models.registry.download({ model: h.uri });
        await stalled;
        const second: DownloadProgress[] = [];
        const other = h.models.registry.download({ model: `hf:${REPO}/other-Q8_0.gguf`, onProgress: (p) => second.push(p) });
        await waitFor(() => second.length > 0);
        assert.equal(h.models.downloads.active().find((p) => p.quant === 'Q8_0')?.state, 'queued');
        h.models.downloads.cancel(h.uri);
        await rejection(first);
        const result = await other;
        assert.equal(result.downloaded, true);
        assert.ok(second.some((p) => p.state === 'downloading'));
    });

    it('fails fast when the disk is full and keeps the partial', async () => {
        const h = await harness({ downloads: { maxAttemptsWithoutProgress: 1 } });
        h.hub.addFault({ kind: 'drop', afterBytes: MB });
        await rejection(h.models.registry.download({ model: h.uri }));
        const kept = statSync(partialPath(h)).size;
        const full = servicesFor(h.hub, h.dir, { downloads: { freeDiskBytes: async () => 1000 } });
        h.hub.resetCounters();
        const error = await rejection(full.registry.download({ model: h.uri }));
        assert.equal(error.code, ErrorCode.DiskFull);
        assert.equal(error.data.needed, SIZE - kept);
        assert.equal(error.data.available, 1000);
        assert.equal(h.hub.bytesServed(), 0);
        assert.equal(statSync(partialPath(h)).size, kept);
    });

    it('goes through the configured proxy for the hub API and the CDN', async () => {
        const h = await harness();
        const proxy = await startProxy();
        try {
            h.context.updateSettings({ ...h.context.settings, proxy: proxy.url });
            const result = await h.models.registry.download({ model: h.uri });
            assertInstalled(h, result.path);
            const hubPort = new URL(h.hub.url).port;
            const cdnPort = new URL(h.hub.cdnUrl).port;
            assert.ok(
                proxy.targets.some((t) => t.endsWith(`:${hubPort}`)),
                `hub through the proxy (${proxy.targets.join(', ')})`,
            );
            assert.ok(
                proxy.targets.some((t) => t.endsWith(`:${cdnPort}`)),
                'CDN through the proxy',
            );
        } finally {
            await proxy.stop();
        }
    });

    it('offline mode never touches the network', async () => {
        const h = await harness({ offline: true });
        const error = await rejection(h.models.registry.download({ model: h.uri }));
        assert.equal(error.code, ErrorCode.NetworkError);
        assert.equal(h.hub.requests.length, 0);
    });

    it('check finds a damaged file; delete removes everything; cleanup removes unused partials', async () => {
        const h = await harness();
        const { path: installed } = await h.models.registry.download({ model: h.uri });
        assert.deepEqual(
            (await h.models.maintenance.check()).map((r) => r.ok),
            [true],
        );
        const bytes = readFileSync(installed);
        bytes[1000] ^= 0xff;
        const { writeFileSync } = await import('node:fs');
        writeFileSync(installed, bytes);
        const [damaged] = await h.models.maintenance.check(h.uri);
        assert.equal(damaged.ok, false);
        assert.match(damaged.problem ?? '', /sha256/);

        const deleted = await h.models.maintenance.delete(h.uri);
        assert.deepEqual(deleted.sort(), [installed, `${installed}.manifest.json`].sort());
        assert.equal(existsSync(path.join(h.dir, 'test')), false, 'empty folders are removed too');

        h.hub.addFault({ kind: 'drop', afterBytes: MB });
        await rejection(servicesFor(h.hub, h.dir, { downloads: { maxAttemptsWithoutProgress: 1 } }).registry.download({ model: h.uri }));
        const cleaned = await h.models.maintenance.cleanup();
        assert.ok(cleaned.freedBytes > 0);
        assert.ok(cleaned.removedFiles.includes(`${partialPath(h)}.json`), 'the journal goes with the partial');
        assert.ok(cleaned.removedFiles.includes(partialPath(h)));
        assert.equal(existsSync(partialPath(h)), false);
    });
});
