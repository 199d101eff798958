/**
 * Split GGUF models (`…-00001-of-00003.gguf` …) as one model, against the fake hub on loopback: references
 * to a quantization or to any part resolve to the whole set, every part is downloaded and verified, the
 * model counts as installed only when all parts are, a resume fetches only what is missing, delete removes
 * every part, and the real sidecar loads the set through its first part with real node-llama-cpp.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ErrorCode, LocalAiError } from '../../src/common/errors';
import { formatBytes } from '../../src/common/format';
import type { DownloadProgress } from '../../src/common/models';
import { ChatRequest, LoadedModelsRequest, type StatusParams } from '../../src/common/protocol';
import { defaultSettings } from '../../src/common/settings';
import { SidecarContext } from '../../src/sidecar/context';
import { createModelServices, type ModelServices } from '../../src/sidecar/models';
import { type CliRun, runCli, sizeOf, waitFor } from '../fixtures/cliProcess';
import { startFakeHub, type FakeHub } from '../fixtures/fakeHub/server';
import { tinyModel } from '../fixtures/gguf/model';
import { buildSplitFixture, type SplitFixturePart } from '../fixtures/gguf/split';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';
import { downloadThrough } from './reliability-harness';

const REPO = 'test/split-GGUF';
/** A real, loadable model (tiny, Q8_0 weights) in three parts. */
const PARTS = buildSplitFixture('split-model-Q8_0', 3, { ...tinyModel, quant: 'Q8_0' });
const TOTAL = PARTS.reduce((sum, part) => sum + part.data.length, 0);
const FIRST_ID = `hf:${REPO}/${PARTS[0].name}`;

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Harness {
    hub: FakeHub;
    models: ModelServices;
    dir: string;
    /** Every status the first process published (what the editor's status bar shows). */
    statuses: StatusParams[];
}

const open: { hub: FakeHub; models: ModelServices[]; dir: string }[] = [];

async function harness(options: { userModels?: string[] } = {}): Promise<Harness> {
    const hub = await startFakeHub({
        files: [
            ...PARTS.map((part) => ({ repo: REPO, path: part.name, data: part.data })),
            // Another quantization as a single file, so the reference has to pick the split set by its quantization.
            { repo: REPO, path: 'split-model-Q4_0.gguf', data: PARTS[0].data },
        ],
    });
    const dir = mkdtempSync(path.join(tmpdir(), 'local-ai-split-'));
    open.push({ hub, models: [], dir });
    const statuses: StatusParams[] = [];
    return { hub, models: servicesFor(hub, dir, { ...options, statuses }), dir, statuses };
}

/** Model services on `dir`, as one process (a sidecar or the CLI) builds them. */
function servicesFor(hub: FakeHub, dir: string, options: { userModels?: string[]; statuses?: StatusParams[] } = {}): ModelServices {
    const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
    const context = new SidecarContext({
        log: silent,
        settings: { ...defaultSettings(), hubEndpoint: hub.url, userModels: (options.userModels ?? []).map((source) => ({ source })) },
        secrets: { providerKeys: {} },
        defaultModelsPath: dir,
        statePath: dir,
        publishStatus: (status) => options.statuses?.push(status),
    });
    const models = createModelServices(context, {
        discoveryFolders: () => ({ huggingFaceCache: path.join(dir, 'no-hf-cache'), lmStudio: [], extra: [] }),
        downloads: { retryBaseDelayMs: 10, stallTimeoutMs: 60_000 },
    });
    open.at(-1)?.models.push(models);
    return models;
}

const partPath = (h: Harness, part: SplitFixturePart) => path.join(h.dir, REPO, part.name);

/** Every part is at its final path with the hub's bytes, and its manifest records the hub's sha256. */
function assertAllPartsInstalled(h: Harness): void {
    for (const part of PARTS) {
        const file = partPath(h, part);
        assert.equal(sha(readFileSync(file)), sha(part.data), `${part.name} holds the hub's bytes`);
        const manifest = JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8')) as { sha256: string; sizeBytes: number };
        assert.equal(manifest.sha256, sha(part.data), `${part.name}'s manifest records its sha256`);
        assert.equal(existsSync(`${file}.partial`), false, `no partial of ${part.name} is left`);
    }
}

async function rejection(promise: Promise<unknown>): Promise<LocalAiError> {
    try {
        await promise;
    } catch (error) {
        assert.ok(error instanceof LocalAiError, `expected a LocalAiError, got ${String(error)}`);
        return error;
    }
    assert.fail('expected a failure');
}

async function listed(models: ModelServices) {
    const entry = (await models.registry.list()).models.find((m) => m.id === FIRST_ID);
    assert.ok(entry, `${FIRST_ID} is listed`);
    return entry.files[0];
}

describe('split GGUF models (fake hub on loopback)', function () {
    this.timeout(120_000);

    afterEach(async () => {
        for (const { hub, models, dir } of open.splice(0)) {
            for (const m of models) await m.dispose();
            await hub.stop();
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it('downloads every part of a quantization reference as one model: one progress over the sum, each part verified', async () => {
        const h = await harness();
        const progress: DownloadProgress[] = [];
        const result = await h.models.registry.download({ model: `hf:${REPO}:Q8_0`, onProgress: (p) => progress.push(p) });
        assert.equal(result.path, partPath(h, PARTS[0]), 'the model is its first part, which llama.cpp loads');
        assert.equal(result.bytesFetched, TOTAL);
        assertAllPartsInstalled(h);
        assert.equal(h.hub.bytesServed(), TOTAL, 'each part fetched once');

        assert.ok(
            progress.every((p) => p.totalBytes === TOTAL),
            `every update counts over all parts (${[...new Set(progress.map((p) => p.totalBytes))]})`,
        );
        const received = progress.map((p) => p.receivedBytes);
        assert.deepEqual(
            received,
            [...received].sort((a, b) => a - b),
            'the bytes received never go back',
        );
        assert.equal(progress.filter((p) => p.state === 'done').length, 1, 'done once, when the last part is');
        assert.deepEqual(progress.at(-1), { ...progress.at(-1), state: 'done', receivedBytes: TOTAL });
        // The status bar shows the same: one download over the sum, from its first update to the last part's end.
        const shown = h.statuses.map((status) => status.downloads.find((d) => d.modelId === FIRST_ID));
        const first = shown.findIndex(Boolean);
        assert.ok(first >= 0, 'the status shows the download');
        assert.ok(
            shown.slice(first, -1).every((d) => d?.totalBytes === TOTAL),
            `the status shows one download over all parts until the end: ${shown.map((d) => d && `${d.state} ${d.receivedBytes}/${d.totalBytes}`).join(', ')}`,
        );
        assert.equal(shown.at(-1), undefined, 'and none once it is done');

        const file = await listed(h.models);
        assert.equal(file.state, 'installed');
        assert.equal(file.sizeBytes, TOTAL);
        assert.deepEqual(
            file.parts?.map((part) => [part.file, part.sizeBytes, part.sha256]),
            PARTS.map((part) => [part.name, part.data.length, sha(part.data)]),
        );
        const entries = (await h.models.registry.list()).models.filter((m) => m.repo === REPO);
        assert.equal(entries.length, 1, `one model, not one per part: ${entries.map((m) => m.id).join(', ')}`);
    });

    it('an explicit part reference resolves to the whole set; the first part installs all three', async () => {
        const h = await harness();
        const third = await h.models.registry.resolve(`hf:${REPO}/${PARTS[2].name}`);
        assert.equal(third.entry.id, FIRST_ID, 'part 3 names the model by its first part');
        assert.deepEqual(
            third.file.parts?.map((part) => part.file),
            PARTS.map((part) => part.name),
        );
        assert.equal(third.file.sizeBytes, TOTAL);

        const progress: DownloadProgress[] = [];
        const result = await h.models.registry.download({ model: FIRST_ID, onProgress: (p) => progress.push(p) });
        assert.equal(result.path, partPath(h, PARTS[0]));
        assertAllPartsInstalled(h);
        assert.equal(progress.at(-1)?.receivedBytes, TOTAL);
        assert.equal((await h.models.registry.resolveInstalled(`hf:${REPO}/${PARTS[1].name}`)).path, partPath(h, PARTS[0]));
    });

    it('a corrupt part 2 leaves the model not installed, naming the part; the next try fetches only what is missing', async () => {
        const h = await harness();
        h.hub.addFault({ kind: 'corrupt', path: PARTS[1].name });
        const error = await rejection(h.models.registry.download({ model: `hf:${REPO}:Q8_0` }));
        assert.equal(error.code, ErrorCode.ChecksumMismatch);
        assert.ok(error.message.includes(PARTS[1].name), `the error names part 2: ${error.message}`);
        assert.equal(existsSync(partPath(h, PARTS[1])), false, 'the bad part is not installed');

        const file = await listed(h.models);
        assert.equal(file.state, 'partial', 'one part of three is not an installed model');
        assert.deepEqual(file.missingParts, [PARTS[1].name, PARTS[2].name]);
        assert.equal(file.sizeBytes, TOTAL, 'the store still knows every part and its size');
        const refused = await rejection(h.models.registry.resolveInstalled(FIRST_ID));
        assert.equal(refused.code, ErrorCode.ModelNotInstalled);
        assert.ok(refused.message.includes(PARTS[1].name), `loading names the missing part: ${refused.message}`);

        h.hub.resetCounters();
        await h.models.registry.download({ model: `hf:${REPO}:Q8_0` });
        assertAllPartsInstalled(h);
        assert.equal(h.hub.bytesServed(PARTS[0].name), 0, 'part 1 was already verified and installed');
        assert.equal(h.hub.bytesServed(), PARTS[1].data.length + PARTS[2].data.length);
    });

    it('stopped mid-part-2, a new process resumes: only the missing bytes of part 2 and part 3 are fetched', async () => {
        const h = await harness();
        const stopAt = 40_000;
        h.hub.addFault({ kind: 'stall', path: PARTS[1].name, afterBytes: stopAt });
        const stalled = once(h.hub.events, 'stalled');
        const controller = new AbortController();
        const download = h.models.registry.download({ model: `hf:${REPO}:Q8_0`, signal: controller.signal });
        await Promise.race([stalled, download.then(() => assert.fail('the download ended before part 2 stalled'))]);
        const partial = `${partPath(h, PARTS[1])}.partial`;
        await waitFor(() => existsSync(partial) && statSync(partial).size === stopAt);
        controller.abort();
        assert.equal((await rejection(download)).code, ErrorCode.Cancelled);

        const file = await listed(h.models);
        assert.equal(file.state, 'partial');
        assert.equal(file.partialBytes, PARTS[0].data.length + stopAt, 'part 1 and the partial of part 2');

        h.hub.resetCounters();
        const restarted = servicesFor(h.hub, h.dir);
        const result = await restarted.registry.download({ model: `hf:${REPO}:Q8_0` });
        assertAllPartsInstalled(h);
        assert.equal(result.bytesFetched, TOTAL - PARTS[0].data.length - stopAt);
        assert.equal(h.hub.bytesServed(PARTS[0].name), 0);
        assert.equal(h.hub.bytesServed(PARTS[1].name), PARTS[1].data.length - stopAt, 'part 2 resumed from its partial');
        assert.deepEqual(
            h.hub.requests.filter((r) => r.port === 'cdn' && r.url.endsWith(PARTS[1].name)).map((r) => r.range),
            [`bytes=${stopAt}-`],
        );
    });

    it('cleanup removes a stopped download: the partial of part 2 and the journal of part 3, which never started', async () => {
        const h = await harness();
        h.hub.addFault({ kind: 'stall', path: PARTS[1].name, afterBytes: 40_000 });
        const stalled = once(h.hub.events, 'stalled');
        const controller = new AbortController();
        const download = h.models.registry.download({ model: `hf:${REPO}:Q8_0`, signal: controller.signal });
        await Promise.race([stalled, download.then(() => assert.fail('the download ended before part 2 stalled'))]);
        controller.abort();
        assert.equal((await rejection(download)).code, ErrorCode.Cancelled);
        assert.ok(existsSync(`${partPath(h, PARTS[2])}.partial.json`), 'part 3 is journaled before it starts');

        const { removedFiles } = await h.models.maintenance.cleanup();
        assert.deepEqual(removedFiles.sort(), [
            `${partPath(h, PARTS[1])}.partial`,
            `${partPath(h, PARTS[1])}.partial.json`,
            `${partPath(h, PARTS[2])}.partial.json`,
        ]);
        assert.ok(existsSync(partPath(h, PARTS[0])), 'the installed part 1 stays');
    });

    it('delete removes every part, and the model configured in the settings is no longer listed as installed', async () => {
        const h = await harness({ userModels: [`hf:${REPO}:Q8_0`] });
        assert.equal((await listed(h.models)).state, 'available');
        await h.models.registry.download({ model: FIRST_ID });
        assert.equal((await listed(h.models)).state, 'installed');

        const deleted = await h.models.maintenance.delete(FIRST_ID);
        for (const part of PARTS) {
            assert.ok(deleted.includes(partPath(h, part)), `${part.name} is deleted`);
            assert.ok(deleted.includes(`${partPath(h, part)}.manifest.json`), `${part.name}'s manifest is deleted`);
        }
        assert.equal(existsSync(path.join(h.dir, REPO.split('/')[0])), false, `nothing of the model is left in the store: ${readdirSync(h.dir)}`);
        assert.equal((await listed(h.models)).state, 'available');
    });
});

describe('split GGUF models in the real sidecar (real node-llama-cpp)', function () {
    this.timeout(300_000);
    let hub: FakeHub;
    let sidecar: SidecarProcess;
    const modelsPath = mkdtempSync(path.join(tmpdir(), 'local-ai-split-sidecar-'));

    before(async () => {
        hub = await startFakeHub({ files: PARTS.map((part) => ({ repo: REPO, path: part.name, data: part.data })) });
        sidecar = await startSidecar({ modelsPath, settings: { threads: 1, gpu: 'off', contextSize: 512, hubEndpoint: hub.url } });
    });
    after(async () => {
        await sidecar?.stop();
        await hub?.stop();
        rmSync(modelsPath, { recursive: true, force: true });
    });

    it('downloads the parts, loads the set through part 1 and answers', async () => {
        const download = await downloadThrough(sidecar, `hf:${REPO}:Q8_0`);
        assert.equal(download.path, path.join(modelsPath, REPO, PARTS[0].name));
        const answer = await sidecar.connection.sendRequest(ChatRequest.type, {
            model: FIRST_ID,
            messages: [{ role: 'user', content: 'Hello' }],
            options: { maxTokens: 4, seed: 1 },
        });
        assert.equal(answer.engine.kind, 'local');
        assert.equal(answer.engine.model, FIRST_ID);
        assert.equal(answer.usage.completionTokens, 4, 'the model generated with the tensors of all three parts');
        const { models } = await sidecar.connection.sendRequest(LoadedModelsRequest.type);
        assert.deepEqual(
            models.map((m) => m.path),
            [download.path],
        );
    });
});

describe('split GGUF models in the CLI (local-ai models)', function () {
    this.timeout(120_000);
    let hub: FakeHub;
    let dir: string;
    let home: string;

    beforeEach(async () => {
        hub = await startFakeHub({ files: PARTS.map((part) => ({ repo: REPO, path: part.name, data: part.data })) });
        dir = mkdtempSync(path.join(tmpdir(), 'local-ai-split-cli-'));
        home = mkdtempSync(path.join(tmpdir(), 'local-ai-split-home-'));
    });
    afterEach(async () => {
        await hub.stop();
        for (const folder of [dir, home]) rmSync(folder, { recursive: true, force: true });
    });

    const models = (args: string[]) =>
        runCli(['models', ...args, '--models-dir', dir], { HF_ENDPOINT: hub.url, HOME: home, HF_TOKEN: '', LOCAL_AI_MODELS_PATH: '' });
    const explain = (run: CliRun) => `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
    const rowOf = (run: CliRun) => run.stdout.split('\n').find((row) => row.startsWith(`${FIRST_ID} `)) ?? run.stdout;

    it('killed mid-part-2, list names the missing parts; the next download fetches only the rest and lists one model', async () => {
        const stopAt = 40_000;
        hub.addFault({ kind: 'stall', path: PARTS[1].name, afterBytes: stopAt });
        const stalled = once(hub.events, 'stalled');
        const killed = models(['download', '--model', `hf:${REPO}:Q8_0`]);
        await Promise.race([stalled, killed.done.then((run) => assert.fail(`the download ended before part 2 stalled: ${explain(run)}`))]);
        const partial = path.join(dir, REPO, `${PARTS[1].name}.partial`);
        await waitFor(() => sizeOf(partial) === stopAt);
        killed.child.kill('SIGKILL');
        assert.equal((await killed.done).signal, 'SIGKILL');

        const halfway = await models(['list']).done;
        assert.equal(halfway.code, 0, explain(halfway));
        assert.match(rowOf(halfway), new RegExp(`^\\S+ +Q8_0 +partial \\S+ \\S+, missing 2 of 3 parts +${escapeRegExp(formatBytes(TOTAL))} in 3 parts`));

        hub.resetCounters();
        const resumed = await models(['download', '--model', `hf:${REPO}/${PARTS[1].name}`]).done;
        assert.equal(resumed.code, 0, explain(resumed));
        assert.ok(resumed.stdout.includes(`Installed ${path.join(dir, REPO, PARTS[0].name)} and its 2 other parts beside it`), resumed.stdout);
        assert.equal(hub.bytesServed(), TOTAL - PARTS[0].data.length - stopAt, 'only the missing bytes were fetched');

        const listed = await models(['list']).done;
        assert.match(rowOf(listed), new RegExp(`^\\S+ +Q8_0 +installed +${escapeRegExp(formatBytes(TOTAL))} in 3 parts .*${escapeRegExp(PARTS[0].name)}$`));
        assert.equal(listed.stdout.split('\n').filter((row) => row.includes(REPO)).length, 1, listed.stdout);
    });
});

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
