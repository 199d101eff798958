/**
 * Mirrors and the links users paste: a mirror that proxies only `/resolve/` (no paths-info) still gives the
 * size and sha256 through a HEAD, as huggingface_hub's get_hf_file_metadata reads them; a renamed repository's
 * relative 307 is followed; links copied from the configured endpoint are accepted; newer quantization names
 * (MXFP4, TQ1_0, IQ2_XXS) are found in a repository's files.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode } from '../../src/common/errors';
import { HardwareService } from '../../src/sidecar/hardware';
import { estimateModel } from '../../src/sidecar/hardware/handlers';
import { readHardwareProfile } from '../../src/sidecar/hardware/profiles';
import { LlamaRuntime } from '../../src/sidecar/llama/runtime';
import { ensureFixtureModel, defaultFixtureDir, tinyModel } from '../fixtures/gguf/model';
import { profilePath } from '../fixtures/hardware/profiles';
import { startProxy } from '../fixtures/proxy';
import { closeHarnesses, FILE, hubHarness, REPO, rejection } from './hubHarness';

const URI = `hf:${REPO}/${FILE}`;
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('hub mirrors and pasted links', function () {
    this.timeout(30_000);
    afterEach(closeHarnesses);

    it('a mirror without paths-info: size and sha256 from a HEAD on /resolve/, its redirect not followed', async () => {
        const h = await hubHarness({ mirror: true });
        const result = await h.models.registry.download({ model: URI });
        assert.equal(readFileSync(result.path).equals(h.data), true);
        const manifest = JSON.parse(readFileSync(`${result.path}.manifest.json`, 'utf8')) as { sha256: string; sizeBytes: number };
        assert.equal(manifest.sha256, sha(h.data));
        assert.equal(manifest.sizeBytes, h.data.length);
        const hub = h.hub.requests.filter((r) => r.port === 'hub');
        assert.ok(
            hub.some((r) => r.url.includes('/paths-info/') && r.status === 404),
            'paths-info was tried',
        );
        assert.ok(
            hub.some((r) => r.method === 'HEAD' && r.url.includes('/resolve/') && r.status === 302),
            'then a HEAD on /resolve/',
        );
        assert.ok(
            h.hub.requests.filter((r) => r.port === 'cdn').every((r) => r.method === 'GET'),
            'the HEAD did not follow the redirect to the CDN',
        );
    });

    it("a mirror's X-Linked-Etag is the sha256 the bytes are checked against", async () => {
        const h = await hubHarness({ mirror: true });
        h.hub.addFault({ kind: 'corrupt' });
        const error = await rejection(h.models.registry.download({ model: URI }));
        assert.equal(error.code, ErrorCode.ChecksumMismatch);
        assert.ok(error.message.includes(sha(h.data).slice(0, 12)), error.message);
    });

    it("a renamed repository's relative 307 is followed for the file facts and the bytes", async () => {
        const h = await hubHarness({ renamed: { 'test/old-name-GGUF': REPO } });
        const result = await h.models.registry.download({ model: `hf:test/old-name-GGUF/${FILE}` });
        assert.equal(readFileSync(result.path).equals(h.data), true);
        assert.ok(h.hub.requests.filter((r) => r.status === 307).length >= 2, 'the API and /resolve/ both redirected');
    });

    it('accepts links copied from the configured endpoint (a mirror), as from huggingface.co', async () => {
        const h = await hubHarness();
        const result = await h.models.registry.download({ model: `${h.hub.url}/${REPO}/resolve/main/${FILE}?download=true` });
        assert.equal(path.relative(h.dir, result.path), path.join(REPO, FILE));
        const again = await h.models.registry.download({ model: `${h.hub.url}/${REPO}/blob/main/${FILE}` });
        assert.equal(again.downloaded, false, 'the same file, already installed');
        const elsewhere = await rejection(h.models.registry.download({ model: `http://127.0.0.2:1/${REPO}/resolve/main/${FILE}` }));
        assert.equal(elsewhere.code, ErrorCode.ModelNotFound, 'a link to another host is not a hub link');
    });

    it('the GGUF header read for a fit estimate goes through the proxy setting, with our User-Agent', async () => {
        const proxy = await startProxy();
        const runtime = new LlamaRuntime({ log: { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined }, gpu: 'off' });
        const modelPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
        const h = await hubHarness({ files: [{ repo: REPO, path: 'tiny-F32.gguf', filePath: modelPath }], settings: { proxy: proxy.url } });
        const hardware = new HardwareService({ context: h.context, llama: () => runtime.get(), profile: readHardwareProfile(profilePath('desktop-8gb-cpu')) });
        try {
            const { estimates } = await estimateModel({ context: h.context, hardware, models: h.models }, { model: `hf:${REPO}/tiny-F32.gguf` });
            assert.equal(estimates.length, 1);
            assert.equal(estimates[0].estimate.totalLayers, (tinyModel.nLayer ?? 0) + 1, 'the header was read (its blocks and the output layer)');
            const header = h.hub.requests.filter((r) => r.port === 'cdn' && r.range);
            assert.ok(header.length > 0, 'the header came from the CDN over range requests');
            assert.ok(
                header.every((r) => r.userAgent === h.hub.requests[0].userAgent && r.userAgent?.startsWith('local-ai/')),
                'with our User-Agent',
            );
            const hubHost = new URL(h.hub.url).host;
            assert.ok(proxy.targets.includes(hubHost) && proxy.targets.includes(new URL(h.hub.cdnUrl).host), `through the proxy: ${proxy.targets.join(', ')}`);
        } finally {
            hardware.dispose();
            await runtime.dispose();
            await proxy.stop();
        }
    });

    it('finds newer quantizations by name: MXFP4, TQ1_0, IQ2_XXS, BF16', async () => {
        const names = ['hub-MXFP4.gguf', 'hub-TQ1_0.gguf', 'hub-IQ2_XXS.gguf', 'hub-BF16.gguf'];
        const h = await hubHarness({ files: names.map((file) => ({ repo: REPO, path: file, data: randomBytes(2048) })) });
        for (const [quant, file] of [
            ['MXFP4', 'hub-MXFP4.gguf'],
            ['tq1_0', 'hub-TQ1_0.gguf'],
            ['IQ2_XXS', 'hub-IQ2_XXS.gguf'],
            ['bf16', 'hub-BF16.gguf'],
        ]) {
            const result = await h.models.registry.download({ model: `hf:${REPO}:${quant}` });
            assert.equal(path.basename(result.path), file, quant);
            assert.equal(result.quant, quant.toUpperCase());
        }
    });
});
