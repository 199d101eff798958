/**
 * Everything the hub sends is bounded, and the hub's own limits are respected: a rate limit is waited out for
 * as long as the hub asks (up to a cap), a hub that never answers fails within the timeout, file lists stop at
 * a page cap or a `Link` loop, a gzip bomb is dropped after the answer cap, every request says who we are, and
 * a password in the endpoint URL never reaches a message, a log line or a manifest.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { ErrorCode } from '../../src/common/errors';
import type { DownloadProgress } from '../../src/common/models';
import type { RecordedRequest } from '../fixtures/fakeHub/server';
import { gzipBomb } from '../fixtures/fakeHub/hubRules';
import { closeHarnesses, FILE, hubHarness, REPO, rejection } from './hubHarness';

const URI = `hf:${REPO}/${FILE}`;
const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
const resolves = (requests: RecordedRequest[]) => requests.filter((r) => r.url.includes('/resolve/'));

describe('a bounded hub client', function () {
    this.timeout(30_000);
    afterEach(closeHarnesses);

    it('a 429 on the download waits the RateLimit reset + 1 s, says so, and resumes the partial', async () => {
        const h = await hubHarness();
        h.hub.addFault({ kind: 'drop', afterBytes: 512 * 1024 });
        h.hub.addHubFault({ kind: 'rateLimit', on: 'resolve', skip: 1, resetSeconds: 1 });
        const seenAt = new Map<RecordedRequest, number>();
        h.hub.events.on('request', (r: RecordedRequest) => seenAt.set(r, Date.now()));
        const progress: DownloadProgress[] = [];
        const result = await h.models.registry.download({ model: URI, onProgress: (p) => progress.push({ ...p }) });
        assert.equal(readFileSync(result.path).equals(h.data), true);
        assert.ok(
            progress.some((p) => p.state === 'retrying' && p.message === 'rate-limited by the hub, retrying in 2 s'),
            progress.map((p) => p.message).join(' | '),
        );
        const [, limited, after] = resolves(h.hub.requests);
        assert.deepEqual(
            resolves(h.hub.requests).map((r) => r.status),
            [302, 429, 302],
        );
        const waited = (seenAt.get(after) ?? 0) - (seenAt.get(limited) ?? 0);
        assert.ok(waited >= 1900, `waited ${waited} ms for a reset in 1 s (huggingface_hub sleeps t + 1)`);
        const cdn = h.hub.requests.filter((r) => r.port === 'cdn');
        assert.match(cdn.at(-1)?.range ?? '', /^bytes=[1-9]\d*-$/, 'the partial was kept');
    });

    it('a rate limit longer than the cap fails at once, keeping the partial and saying why', async () => {
        const h = await hubHarness({ downloads: { maxRateLimitWaitMs: 1500 } });
        h.hub.addFault({ kind: 'drop', afterBytes: 512 * 1024 });
        h.hub.addHubFault({ kind: 'rateLimit', on: 'resolve', skip: 1, resetSeconds: 60, times: 10 });
        const started = Date.now();
        const error = await rejection(h.models.registry.download({ model: URI }));
        assert.equal(error.code, ErrorCode.DownloadFailed);
        assert.match(error.message, /kept rate-limiting/);
        assert.ok(Date.now() - started < 1500, 'no wait that would pass the cap was begun');
        assert.ok(statSync(path.join(h.dir, REPO, `${FILE}.partial`)).size > 0, 'the partial is kept');
    });

    it('API calls (paths-info, model info) wait out a 429 too; past the cap they fail with the reason', async () => {
        const h = await hubHarness();
        h.hub.addHubFault({ kind: 'rateLimit', on: 'api', resetSeconds: 0, times: 2 });
        const result = await h.models.registry.download({ model: URI });
        assert.equal(readFileSync(result.path).equals(h.data), true);
        assert.equal(h.hub.requests.filter((r) => r.status === 429).length, 2);
        assert.ok(h.logs.some((line) => line.includes('Rate-limited by the hub, retrying in 1 s')));

        const capped = await hubHarness({ limits: { maxRateLimitWaitMs: 500 } });
        capped.hub.addHubFault({ kind: 'rateLimit', on: 'api', resetSeconds: 0 });
        const error = await rejection(capped.models.registry.download({ model: URI }));
        assert.equal(error.code, ErrorCode.NetworkError);
        assert.match(error.message, /kept rate-limiting/);
    });

    it('a hub that accepts the connection and never answers fails within the timeout, after its retries', async () => {
        const h = await hubHarness({ limits: { requestTimeoutMs: 300, attempts: 2 } });
        h.hub.addHubFault({ kind: 'silent', on: 'api', times: 5 });
        const started = Date.now();
        const error = await rejection(h.models.registry.download({ model: URI }));
        assert.equal(error.code, ErrorCode.NetworkError);
        assert.match(error.message, /did not answer within 0\.3 s/);
        assert.ok(Date.now() - started < 5000, `failed after ${Date.now() - started} ms`);
        assert.equal(h.hub.requests.filter((r) => r.status === 0).length, 2, 'two attempts, both unanswered');
    });

    it('file lists follow Link cursors, stop at the page cap, and a Link back to a seen page is an error', async () => {
        const files = ['a-Q2_K.gguf', 'b-Q8_0.gguf'].map((file) => ({ repo: REPO, path: file, data: randomBytes(1024) }));
        const paged = await hubHarness({ files, pageSize: 1 });
        const result = await paged.models.registry.download({ model: `hf:${REPO}:Q8_0` });
        assert.equal(path.basename(result.path), 'b-Q8_0.gguf', 'found on the third page');
        assert.equal(paged.hub.requests.filter((r) => r.url.includes('/tree/')).length, 3);

        const capped = await hubHarness({ files, pageSize: 1, limits: { maxPages: 2 } });
        const tooLong = await rejection(capped.models.registry.download({ model: `hf:${REPO}:Q8_0` }));
        assert.equal(tooLong.code, ErrorCode.NetworkError);
        assert.match(tooLong.message, /past 2 pages/);

        const looped = await hubHarness();
        looped.hub.addHubFault({ kind: 'linkLoop', on: 'api', times: 1000 });
        const loop = await rejection(looped.models.registry.download({ model: `hf:${REPO}:Q8_0` }));
        assert.equal(loop.code, ErrorCode.NetworkError);
        assert.match(loop.message, /points back to a page it already sent/);
        assert.equal(looped.hub.requests.filter((r) => r.url.includes('/tree/')).length, 1);
    });

    it('a gzip bomb is dropped at the answer cap, never inflated in full', async () => {
        const bomb = await gzipBomb(128 << 20);
        const h = await hubHarness({ limits: { maxAnswerBytes: 1 << 20 } });
        h.hub.addHubFault({ kind: 'gzipBomb', on: 'api', bomb });
        global.gc?.();
        const before = process.memoryUsage().rss;
        const error = await rejection(h.models.registry.download({ model: URI }));
        const grown = process.memoryUsage().rss - before;
        assert.equal(error.code, ErrorCode.NetworkError);
        assert.match(error.message, /larger than 1 MB once decompressed/);
        assert.ok(grown < 64 << 20, `memory grew by ${Math.round(grown / (1 << 20))} MB for a 128 MB bomb`);
    });

    it('sends User-Agent local-ai/<version> on every hub and CDN request', async () => {
        const h = await hubHarness();
        await h.models.registry.download({ model: `hf:${REPO}:Q4_K_M` });
        assert.ok(h.hub.requests.some((r) => r.port === 'cdn'));
        for (const request of h.hub.requests) assert.equal(request.userAgent, `local-ai/${version}`, `${request.port} ${request.url}`);
    });

    it('masks a password in the endpoint URL in errors, logs and manifests; the mirror still gets it', async () => {
        const withUser = (url: string) => url.replace('http://', 'http://user:s3cret@');
        const h = await hubHarness({ endpoint: withUser });
        const result = await h.models.registry.download({ model: URI });
        assert.ok(
            h.hub.requests.filter((r) => r.port === 'hub').every((r) => r.authorization),
            'the credentials went to the mirror',
        );
        assert.equal(h.hub.requests.find((r) => r.port === 'cdn')?.authorization, false, 'and not to the CDN');
        assert.doesNotMatch(readFileSync(`${result.path}.manifest.json`, 'utf8'), /s3cret/);

        const closedPort = await new Promise<number>((resolve) => {
            const server = createServer().listen(0, '127.0.0.1', () => {
                const { port } = server.address() as AddressInfo;
                server.close(() => resolve(port));
            });
        });
        const down = await hubHarness({ endpoint: () => `http://user:s3cret@127.0.0.1:${closedPort}/`, limits: { attempts: 1 } });
        const error = await rejection(down.models.registry.download({ model: 'hf:test/other-GGUF/x-Q4_K_M.gguf' }));
        assert.equal(error.code, ErrorCode.NetworkError);
        assert.ok(error.message.includes(`user:•••@127.0.0.1:${closedPort}`), error.message);
        const everything = [error.message, error.data.hint ?? '', ...h.logs, ...down.logs].join('\n');
        assert.doesNotMatch(everything, /s3cret/);
    });
});
