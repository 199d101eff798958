/**
 * Reliability under load: 20 chats sent at once to the REAL sidecar while a download runs. Every chat
 * completes or, when its caller cancels it, ends cleanly as cancelled; the download installs the right
 * bytes; afterwards the sidecar still answers, and unloading gives memory back.
 * bench/reliability.bench.ts reports the same run's latencies and memory as figures.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SidecarInfoRequest } from '../../src/common/protocol';
import { startFakeHub, type FakeHub } from '../fixtures/fakeHub/server';
import { benchModel, defaultFixtureDir, ensureFixtureModel } from '../fixtures/gguf/model';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';
import { hubFileBytes, MB, percentile, runLoad } from './reliability-harness';

const REPO = 'reliability/load-GGUF';
const FILE = 'load-Q4_K_M.gguf';

describe('reliability: 20 concurrent chats and a download (real sidecar)', function () {
    this.timeout(600_000);
    let hub: FakeHub;
    let sidecar: SidecarProcess;
    const modelsPath = fs.mkdtempSync(path.join(tmpdir(), 'local-ai-load-'));
    const data = hubFileBytes(8 * MB);

    before(async () => {
        hub = await startFakeHub({ files: [{ repo: REPO, path: FILE, data }] });
        sidecar = await startSidecar({ modelsPath, settings: { threads: 1, gpu: 'off', contextSize: 2048, hubEndpoint: hub.url } });
    });
    after(async () => {
        await sidecar?.stop();
        await hub?.stop();
        fs.rmSync(modelsPath, { recursive: true, force: true });
    });

    it('@slow completes or cleanly cancels every chat, installs the download, and frees memory on unload', async () => {
        // The ~100 MB model, so the memory a load takes stands well above the process's own noise.
        const model = ensureFixtureModel(defaultFixtureDir(), benchModel);
        const run = await runLoad(sidecar, { model, chats: 20, maxTokens: 8, cancelEvery: 5, download: `hf:${REPO}/${FILE}` });
        assert.deepEqual(run.failed, []);
        assert.equal(run.completed + run.cancelled, 20);
        assert.equal(run.cancelled, 4);
        assert.ok(run.download?.downloaded, 'the download did not install');
        assert.equal(createHash('sha256').update(fs.readFileSync(run.download.path)).digest('hex'), createHash('sha256').update(data).digest('hex'));
        const held = run.rssLoaded - run.rssBeforeLoad;
        const kept = run.rssAfterUnload - run.rssBeforeLoad;
        console.log(
            `      20 chats: ${run.completed} completed, ${run.cancelled} cancelled; p50 ${percentile(run.latenciesMs, 50).toFixed(0)} ms, ` +
                `p95 ${percentile(run.latenciesMs, 95).toFixed(0)} ms; RSS before load ${mb(run.rssBeforeLoad)}, loaded ${mb(run.rssLoaded)}, after unload ${mb(run.rssAfterUnload)}`,
        );
        // The weights alone are the model file (mapped): an unload that frees the model gives back at least half
        // of that, whatever the allocator keeps. (What stays, ~110 MB, is the performance issue's to bring down.)
        const weights = fs.statSync(model).size;
        assert.ok(held - kept >= weights / 2, `unloading gave back ${mb(held - kept)} of the ${mb(held)} the load took; the weights alone are ${mb(weights)}`);
        // What stays after an unload (allocator arenas, llama.cpp's backend) is reported for a second,
        // smaller round too; it was seen to grow by ~18 MB per round (README, Reliability), not asserted yet.
        const again = await runLoad(sidecar, { model, chats: 2, maxTokens: 4, cancelEvery: 0 });
        console.log(`      second round: RSS loaded ${mb(again.rssLoaded)}, after unload ${mb(again.rssAfterUnload)}`);
        assert.ok(again.rssAfterUnload < again.rssLoaded, 'the second unload gave back nothing');
        await sidecar.connection.sendRequest(SidecarInfoRequest.type);
    });
});

const mb = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;
