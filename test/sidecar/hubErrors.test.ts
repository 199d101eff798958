/**
 * The hub's refusals as a user reads them: the fake hub answers with the real Hub's statuses and its
 * `X-Error-Code` / `X-Error-Message` headers, and each case must say what is actually wrong (a typo, a
 * revision, an expired token, a licence, an expired CDN signature), never "gated" for everything.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { adviseOn, ErrorCode } from '../../src/common/errors';
import type { DownloadProgress } from '../../src/common/models';
import { closeHarnesses, FILE, hubHarness, REPO, rejection, SIZE } from './hubHarness';

const GATED_REPO = 'test/gated-GGUF';
const GATED = { repo: GATED_REPO, path: 'gated-Q4_K_M.gguf', data: randomBytes(4096), gatedToken: 'hf_good' };
const fixesOf = (error: { code: number; message: string; data: object }) => adviseOn(error.code, error.message, error.data, String).fixes;

describe('hub refusals, read from the hub error headers', function () {
    this.timeout(30_000);
    afterEach(closeHarnesses);

    it('a repository that does not exist reads "no such repository (or it is private)", not "gated"', async () => {
        const h = await hubHarness();
        const byQuant = await rejection(h.models.registry.download({ model: 'hf:test/no-such-GGUF:Q4_K_M' }));
        assert.equal(byQuant.code, ErrorCode.ModelNotFound, byQuant.message);
        assert.match(byQuant.message, /no repository test\/no-such-GGUF \(or it is private: set a Hugging Face token/);
        assert.equal(h.hub.requests.at(-1)?.status, 401, 'the hub answered 401 RepoNotFound to an anonymous request');

        const byFile = await rejection(h.models.registry.download({ model: 'hf:test/no-such-GGUF/model-Q4_K_M.gguf' }));
        assert.equal(byFile.code, ErrorCode.ModelNotFound, byFile.message);
        assert.match(byFile.message, /no repository test\/no-such-GGUF/);
    });

    it('a revision that does not exist is named as the revision, not as a missing repository', async () => {
        const h = await hubHarness({ revisions: ['main'] });
        const error = await rejection(h.models.registry.download({ model: `hf:${REPO}@v9/${FILE}` }));
        assert.equal(error.code, ErrorCode.ModelNotFound);
        assert.match(error.message, /no revision "v9" in test\/hub-GGUF/);
        assert.equal(existsSync(path.join(h.dir, REPO, FILE)), false);
    });

    it('an invalid token: public models still download without it, a gated one says "your token was refused: set a new one"', async () => {
        const h = await hubHarness({ tokens: ['hf_good'], token: 'hf_expired', files: [GATED] });
        const result = await h.models.registry.download({ model: `hf:${REPO}/${FILE}` });
        assert.equal(readFileSync(result.path).equals(h.data), true, 'the public file was installed');
        assert.ok(
            h.hub.requests.some((r) => r.status === 401 && r.authorization),
            'the hub refused the token once',
        );
        assert.ok(
            h.hub.requests.filter((r) => r.url.includes('/resolve/')).every((r) => !r.authorization),
            'the refused token is not sent again',
        );
        assert.ok(
            h.logs.some((line) => /token.*(invalid|refused)/i.test(line)),
            'the log says the token was dropped',
        );

        const gated = await rejection(h.models.registry.download({ model: `hf:${GATED_REPO}/${GATED.path}` }));
        assert.equal(gated.code, ErrorCode.Unauthorized);
        assert.match(gated.message, /token was refused.*set a new one/);
        assert.doesNotMatch(gated.message, /licen[cs]e/, 'not the licence advice');
        assert.deepEqual(fixesOf(gated), ['setToken']);
    });

    it('a gated model is refused at /resolve/ (its file list is public): licence page and token prompt', async () => {
        const h = await hubHarness({ files: [GATED] });
        const error = await rejection(h.models.registry.download({ model: `hf:${GATED_REPO}:Q4_K_M` }));
        assert.equal(error.code, ErrorCode.Unauthorized);
        assert.equal(error.data.url, `${h.hub.url}/${GATED_REPO}`);
        assert.deepEqual(fixesOf(error), ['openModelPage', 'setToken']);
        assert.ok(
            h.hub.requests.some((r) => r.url.includes('/tree/') && r.status === 200),
            'the file list was answered',
        );
        assert.equal(h.hub.requests.at(-1)?.status, 401);
    });

    it('a token @huggingface/hub would reject for its format reaches the hub and reads as a refusal, not "could not reach the hub"', async () => {
        const h = await hubHarness({ files: [GATED], token: 'not-an-hf-token' });
        const error = await rejection(h.models.registry.download({ model: `hf:${GATED_REPO}/${GATED.path}` }));
        assert.equal(error.code, ErrorCode.Unauthorized, error.message);
        assert.doesNotMatch(error.message, /reach/);
        assert.equal(h.hub.requests.at(-1)?.status, 403, 'the hub saw the token and refused it for this repository');
    });

    it('a 403 from the CDN (an expired signature) is a network fault: retried from the partial, not "gated"', async () => {
        const h = await hubHarness();
        h.hub.addFault({ kind: 'drop', afterBytes: 512 * 1024 });
        h.hub.addFault({ kind: 'status', status: 403 });
        const states: DownloadProgress['state'][] = [];
        const result = await h.models.registry.download({ model: `hf:${REPO}/${FILE}`, onProgress: (p) => states.push(p.state) });
        assert.equal(readFileSync(result.path).equals(h.data), true);
        assert.ok(states.includes('retrying'));
        const cdn = h.hub.requests.filter((r) => r.port === 'cdn');
        assert.deepEqual(
            cdn.map((r) => r.status),
            [200, 403, 206],
        );
        assert.equal(cdn[2].bodyBytes, SIZE - Number(/^bytes=(\d+)-$/.exec(cdn[2].range ?? '')?.[1]), 'the partial was kept and resumed');
    });
});
