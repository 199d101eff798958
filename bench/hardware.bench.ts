/**
 * What hardware detection and fit estimation cost, so the model list's fit badges stay instant:
 * - detection (systeminformation + node-llama-cpp's view), first and cached;
 * - a catalog fit estimate (no I/O), for every file of the catalog;
 * - a GGUF-header estimate of the ~100 MB fixture, against node-llama-cpp's bare header read (baseline).
 */
import { defaultSettings } from '../src/common/settings';
import { SidecarContext } from '../src/sidecar/context';
import { LlamaRuntime, importNodeLlamaCpp } from '../src/sidecar/llama/runtime';
import { HardwareService } from '../src/sidecar/hardware/index';
import { catalogEntries } from '../src/sidecar/models/catalog';
import { benchModel, defaultFixtureDir, ensureFixtureModel } from '../test/fixtures/gguf/model';
import { compare, elapsedMs, interleave, report, summarize, type BenchRow } from './lib';

async function main(): Promise<void> {
    const log = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
    const context = new SidecarContext({
        log,
        settings: { ...defaultSettings(), gpu: 'off' },
        secrets: { providerKeys: {} },
        defaultModelsPath: '',
        statePath: '',
    });
    const runtime = new LlamaRuntime({ log, gpu: 'off' });
    const hardware = new HardwareService({ context, llama: () => runtime.get() });
    const rows: BenchRow[] = [];
    try {
        rows.push({ name: 'hardware detection, first (loads llama.cpp)', value: await elapsedMs(() => hardware.report()), unit: 'ms' });
        const refreshes: number[] = [];
        for (let i = 0; i < 5; i++) refreshes.push(await elapsedMs(() => hardware.report(true)));
        rows.push({ name: 'hardware detection, refresh', unit: 'ms', ...summarize(refreshes) });

        const files = catalogEntries().flatMap((entry) => entry.files.map((file) => ({ entry, file })));
        const rounds = 200;
        const catalogMs = await elapsedMs(() => {
            for (let i = 0; i < rounds; i++) for (const { entry, file } of files) hardware.estimateCatalogFile(entry, file);
        });
        rows.push({
            name: `catalog fit estimate (${files.length} files)`,
            value: (catalogMs * 1000) / (rounds * files.length),
            unit: 'µs/file',
            target: '< 1 ms: a model list stays instant',
        });

        const modelPath = ensureFixtureModel(defaultFixtureDir(), benchModel);
        const { readGgufFileInfo } = await importNodeLlamaCpp();
        const [ours, bare] = await interleave(9, [
            () => elapsedMs(() => hardware.estimateFile({ path: modelPath })),
            () => elapsedMs(() => readGgufFileInfo(modelPath, { logWarnings: false })),
        ]);
        rows.push({
            name: 'GGUF-header fit estimate, ~100 MB model, vs the bare header read',
            unit: 'ms',
            target: 'header read + a few ms',
            ...compare(ours, bare),
        });
    } finally {
        hardware.dispose();
        await runtime.dispose();
    }
    report(rows);
}

main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
});
