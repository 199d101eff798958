/**
 * Large files downloaded in parallel range parts (issue 21 §3), against the fake hub on loopback: parts
 * resume after the real sidecar is killed, fetching only what each part lacks (the hub counts); a part's
 * server error costs only that part a retry; a server without ranges gets one stream; a corrupted part
 * still fails the whole file's sha256; and two real sidecars on one store still have one writer.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ErrorCode, LocalAiError } from '../../src/common/errors';
import type { DownloadProgress } from '../../src/common/models';
import { DownloadProgressType, DownloadRequest } from '../../src/common/protocol';
import type { ModelServices } from '../../src/sidecar/models';
import { waitFor } from '../fixtures/cliProcess';
import { modelServicesOn } from '../fixtures/modelServices';
import { startFakeHub, type FakeHub, type RecordedRequest } from '../fixtures/fakeHub/server';
import { startSidecar } from '../fixtures/sidecarProcess';

const MIB = 1024 * 1024;
const REPO = 'test/parallel-GGUF';
const FILE = 'parallel-Q4_K_M.gguf';
const URI = `hf:${REPO}/${FILE}`;
/** Large enough for the product's own split (parts of at least 16 MiB): four parts of 16 MiB. */
const SIZE = 64 * MIB;
const PART = 16 * MIB;
/** Where each part is held in the tests that interrupt it. */
const HELD_AT = MIB;

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const cdnRequests = (hub: FakeHub): RecordedRequest[] => hub.requests.filter((r) => r.port === 'cdn');
/** The closed ranges the four parts ask for when each starts `from` bytes into its part. */
const partRanges = (from: number) => [0, 1, 2, 3].map((i) => `bytes=${i * PART + from}-${(i + 1) * PART - 1}`);

describe('downloads in parallel range parts', function () {
    this.timeout(120_000);
    let hub: FakeHub;
    let data: Buffer;
    let dir: string;
    const services: ModelServices[] = [];

    beforeEach(async () => {
        data = randomBytes(SIZE);
        hub = await startFakeHub({ files: [{ repo: REPO, path: FILE, data }] });
        dir = mkdtempSync(path.join(tmpdir(), 'local-ai-parts-'));
    });

    afterEach(async () => {
        await Promise.all(services.splice(0).map((models) => models.dispose()));
        await hub.stop();
    });

    /** Model services in this process on `dir`, retrying fast. */
    function modelServices(): ModelServices {
        const models = modelServicesOn({ dir, hubUrl: hub.url, downloads: { stallTimeoutMs: 10_000 } });
        services.push(models);
        return models;
    }

    const finalPath = () => path.join(dir, REPO, FILE);
    const journalPath = () => `${finalPath()}.partial.json`;

    function assertInstalled(): void {
        assert.equal(sha(readFileSync(finalPath())), sha(data), 'the installed bytes are the hub file');
        assert.equal(existsSync(`${finalPath()}.partial`), false, 'no partial left');
        assert.equal(existsSync(journalPath()), false, 'no journal left');
    }

    /** The parts the journal records as written, once each has `bytes` of its own. */
    async function journalShowsEachPartAt(bytes: number): Promise<void> {
        await waitFor(() => {
            if (!existsSync(journalPath())) return false;
            const parts = (JSON.parse(readFileSync(journalPath(), 'utf8')) as { parts?: { written: number }[] }).parts;
            return parts?.length === 4 && parts.every((part) => part.written === bytes);
        });
    }

    it('resumes every part after the real sidecar is killed, fetching only the bytes each part lacks', async () => {
        const env = { HF_ENDPOINT: hub.url, HOME: mkdtempSync(path.join(tmpdir(), 'local-ai-home-')), HF_TOKEN: '', LOCAL_AI_MODELS_PATH: '' };
        const settings = { hubEndpoint: hub.url };
        hub.addFault({ kind: 'stall', afterBytes: HELD_AT, times: 4 });
        let stalls = 0;
        const allStalled = new Promise<void>((resolve) => hub.events.on('stalled', () => ++stalls === 4 && resolve()));
        const first = await startSidecar({ settings, modelsPath: dir, env });
        try {
            void first.connection.sendRequest(DownloadRequest.type, { model: URI }).catch(() => undefined);
            await allStalled;
            assert.deepEqual(cdnRequests(hub), [], 'the parts are still open');
            await journalShowsEachPartAt(HELD_AT);
            const exited = once(first.child, 'exit');
            first.child.kill('SIGKILL');
            await exited;
            // The killed process's connections close; the hub records them then.
            await waitFor(() => cdnRequests(hub).length === 4);
            assert.deepEqual(
                cdnRequests(hub)
                    .map((r) => r.range)
                    .sort(),
                partRanges(0),
                'four parts were asked for at once',
            );
        } finally {
            await first.stop();
        }
        assert.equal(existsSync(finalPath()), false, 'the killed sidecar installed nothing');

        hub.resetCounters();
        const second = await startSidecar({ settings, modelsPath: dir, env });
        try {
            const result = await second.connection.sendRequest(DownloadRequest.type, { model: URI });
            assert.equal(result.downloaded, true);
            assert.equal(result.bytesFetched, SIZE - 4 * HELD_AT);
        } finally {
            await second.stop();
        }
        assert.deepEqual(
            cdnRequests(hub)
                .map((r) => r.range)
                .sort(),
            partRanges(HELD_AT),
            'each part resumed where it stopped',
        );
        assert.equal(hub.bytesServed(), SIZE - 4 * HELD_AT, 'only the missing bytes were fetched');
        assertInstalled();
    });

    it("retries a part's server error and dropped connection for that part alone, fetching no byte twice", async () => {
        // The first request (the part that asks alone) gets a 503, then two parts lose their connection mid-range.
        hub.addFault({ kind: 'status', status: 503 });
        hub.addFault({ kind: 'drop', afterBytes: HELD_AT, times: 2 });
        const result = await modelServices().registry.download({ model: URI });
        assert.equal(result.downloaded, true);
        assertInstalled();
        const statuses = cdnRequests(hub).map((r) => r.fault ?? r.status);
        assert.deepEqual(
            statuses.filter((s) => typeof s === 'string'),
            ['status', 'drop', 'drop'],
        );
        assert.equal(statuses.filter((s) => s === 206).length, 4, 'the two dropped parts once more, the two others once');
        assert.equal(hub.bytesServed(), SIZE, 'no byte was fetched twice');
    });

    it('falls back to one stream when the server answers a range with the whole file', async () => {
        hub.addFault({ kind: 'ignoreRange', times: 100 });
        const result = await modelServices().registry.download({ model: URI });
        assert.equal(result.downloaded, true);
        assertInstalled();
        const asked = cdnRequests(hub).map((r) => [r.range ?? 'whole', r.status]);
        assert.deepEqual(asked, [
            [`bytes=0-${PART - 1}`, 200],
            ['whole', 200],
        ]);
    });

    it('refuses to install when one part arrives corrupted: the whole file is hashed', async () => {
        hub.addFault({ kind: 'corrupt', times: 1 });
        const error = await modelServices()
            .registry.download({ model: URI })
            .then(
                () => assert.fail('a corrupted download was installed'),
                (e: unknown) => e,
            );
        assert.ok(error instanceof LocalAiError, String(error));
        assert.equal(error.code, ErrorCode.ChecksumMismatch);
        assert.equal(cdnRequests(hub).length, 4, 'it was a download in parts');
        assert.equal(existsSync(finalPath()), false, 'nothing installed');
        assert.equal(existsSync(`${finalPath()}.partial`), false, 'the bad bytes were deleted');
        assert.equal(existsSync(journalPath()), false, 'and their journal');
    });

    it('two real sidecars on one store: the parts have one writer, and the other sidecar waits and installs nothing', async () => {
        const env = { HF_ENDPOINT: hub.url, HOME: mkdtempSync(path.join(tmpdir(), 'local-ai-home-')), HF_TOKEN: '', LOCAL_AI_MODELS_PATH: '' };
        const settings = { hubEndpoint: hub.url };
        const [a, b] = await Promise.all([startSidecar({ settings, modelsPath: dir, env }), startSidecar({ settings, modelsPath: dir, env })]);
        try {
            hub.addFault({ kind: 'stall', afterBytes: HELD_AT, times: 4 });
            let stalls = 0;
            const allStalled = new Promise<void>((resolve) => hub.events.on('stalled', () => ++stalls === 4 && resolve()));
            const first = a.connection.sendRequest(DownloadRequest.type, { model: URI });
            await allStalled;
            await journalShowsEachPartAt(HELD_AT);

            const waiting = new Promise<DownloadProgress>((resolve) =>
                b.connection.onProgress(DownloadProgressType, 'second', (p) => p.message?.includes('downloading in another window') && resolve(p)),
            );
            const second = b.connection.sendRequest(DownloadRequest.type, { model: URI, partialResultToken: 'second' });
            await Promise.race([waiting, second.then(() => assert.fail('the second sidecar finished without waiting'))]);

            hub.releaseStalls();
            const [one, two] = await Promise.all([first, second]);
            assert.equal(one.downloaded, true);
            assert.equal(two.downloaded, false);
            assert.equal(two.bytesFetched, 0);
        } finally {
            await Promise.all([a.stop(), b.stop()]);
        }
        assert.equal(hub.bytesServed(), SIZE, 'the file was fetched once, by one writer');
        assertInstalled();
    });
});
