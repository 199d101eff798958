/**
 * Load figures for the README's Reliability section: 20 chats sent at once to the real sidecar while a
 * download runs, on the ~100 MB fixture model. Reports how many completed (4 are cancelled on purpose),
 * p50/p95 latency of the completed ones, and the sidecar's resident memory before the load, loaded,
 * and after unload.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startFakeHub } from '../test/fixtures/fakeHub/server';
import { benchModel, defaultFixtureDir, ensureFixtureModel } from '../test/fixtures/gguf/model';
import { startSidecar } from '../test/fixtures/sidecarProcess';
import { hubFileBytes, MB, percentile, runLoad } from '../test/sidecar/reliability-harness';
import { report } from './lib';

async function main(): Promise<void> {
    const model = ensureFixtureModel(defaultFixtureDir(), benchModel);
    const hub = await startFakeHub({ files: [{ repo: 'bench/load-GGUF', path: 'load-Q4_K_M.gguf', data: hubFileBytes(32 * MB) }] });
    const modelsPath = fs.mkdtempSync(path.join(tmpdir(), 'local-ai-bench-load-'));
    const sidecar = await startSidecar({ modelsPath, settings: { threads: 1, gpu: 'off', contextSize: 2048, hubEndpoint: hub.url } });
    try {
        const run = await runLoad(sidecar, { model, chats: 20, maxTokens: 16, cancelEvery: 5, download: 'hf:bench/load-GGUF/load-Q4_K_M.gguf' });
        if (run.failed.length > 0) throw new Error(`chats failed: ${run.failed.join('; ')}`);
        report([
            {
                name: 'load: chats completed of 20 (4 cancelled on purpose), with a download',
                value: run.completed,
                unit: 'chats',
                target: '16, the other 4 cancelled cleanly',
            },
            { name: 'load: chat latency p50, 20 concurrent, 16 tokens', value: percentile(run.latenciesMs, 50), unit: 'ms' },
            { name: 'load: chat latency p95, 20 concurrent, 16 tokens', value: percentile(run.latenciesMs, 95), unit: 'ms' },
            { name: 'load: sidecar RSS before the model load', value: run.rssBeforeLoad / MB, unit: 'MB' },
            { name: 'load: sidecar RSS with the model loaded', value: run.rssLoaded / MB, unit: 'MB' },
            {
                name: 'load: sidecar RSS after unload',
                value: run.rssAfterUnload / MB,
                unit: 'MB',
                baseline: run.rssBeforeLoad / MB,
                target: 'back to about the baseline',
            },
        ]);
    } finally {
        await sidecar.stop();
        await hub.stop();
        fs.rmSync(modelsPath, { recursive: true, force: true });
    }
}

main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
