/**
 * One memory model, three readers: for every catalog file on every hardware profile, the fit badge, the
 * automatic configuration and the engine's load refusal agree. "Won't fit" means the load is refused
 * without force; "GPU" or "partial" means the automatic configuration picks the badge's layers and the
 * load is accepted; "CPU" means it is accepted with 0 layers. The files are not downloaded, so the
 * catalog's facts stand in for them, through the functions HardwareService, autoConfig and ModelHost call
 * (test/sidecar/memoryAgreement.test.ts runs the real ModelHost on a generated file).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode, LocalAiError } from '../../src/common/errors';
import type { FitClass, GpuMode } from '../../src/common/hardware';
import { defaultSettings } from '../../src/common/settings';
import { SidecarContext } from '../../src/sidecar/context';
import { settingsLoadOverrides } from '../../src/sidecar/local/index';
import { checkLoadFits } from '../../src/sidecar/local/modelHost';
import { planLoadConfig } from '../../src/sidecar/hardware/autoConfig';
import { HardwareService } from '../../src/sidecar/hardware/index';
import { DEFAULT_SEQUENCES, fitContextSize, memoryFromCatalog } from '../../src/sidecar/llama/memoryModel';
import { readHardwareProfile } from '../../src/sidecar/hardware/profiles';
import { catalogEntries } from '../../src/sidecar/models/catalog';
import { PROFILE_NAMES, profilePath, type ProfileName } from '../fixtures/hardware/profiles';

/** The classes each machine's badges show across the catalog, so the sweep cannot pass by judging every file alike. */
const CLASSES: Record<ProfileName, FitClass[]> = {
    'laptop-4gb-cpu': ['cpu', 'none'],
    'desktop-8gb-cpu': ['cpu', 'none'],
    'laptop-16gb-nvidia-6gb': ['gpu', 'none', 'partial'],
    'workstation-24gb-vram': ['gpu', 'partial'],
    // Unified memory: all on the GPU or not at all (a split gains nothing, and the GPU may wire two thirds of it).
    'apple-m2-16gb': ['gpu', 'none'],
    'vm-gpu-no-driver': ['cpu'],
};

const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

function refusalOf(check: () => void): LocalAiError | undefined {
    try {
        check();
        return undefined;
    } catch (error) {
        assert.ok(error instanceof LocalAiError, `expected a LocalAiError, got ${String(error)}`);
        return error;
    }
}

describe('memory model agreement: fit badges, automatic configuration and load refusals', () => {
    const cases: { profile: ProfileName; gpu: GpuMode }[] = [
        ...PROFILE_NAMES.map((profile) => ({ profile, gpu: 'auto' as const })),
        { profile: 'laptop-16gb-nvidia-6gb', gpu: 'off' },
    ];
    for (const { profile, gpu } of cases) {
        it(`agree for every catalog file on ${profile}${gpu === 'off' ? ' with the GPU turned off' : ''}`, async () => {
            const statePath = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-agreement-'));
            const settings = { ...defaultSettings(), gpu };
            const context = new SidecarContext({ log: silent, settings, secrets: { providerKeys: {} }, defaultModelsPath: '', statePath });
            // The profile is the machine: detection never asks llama.cpp.
            const service = new HardwareService({
                context,
                llama: () => Promise.reject(new Error('not detected')),
                profile: readHardwareProfile(profilePath(profile)),
            });
            try {
                const hardware = await service.report();
                const budget = await service.memoryBudget();
                const seen = new Set<FitClass>();
                for (const entry of catalogEntries()) {
                    for (const file of entry.files) {
                        const label = `${entry.id} ${file.quant} on ${profile}`;
                        const badge = service.estimateCatalogFile(entry, file);
                        const memory = memoryFromCatalog(entry, file);
                        // As ModelHost asks createLocalEngine's resolver: the settings' overrides, the catalog's context.
                        const config = planLoadConfig({
                            memory,
                            hardware,
                            overrides: settingsLoadOverrides(settings),
                            budget,
                            sequences: DEFAULT_SEQUENCES,
                            fitContextSize: fitContextSize(entry),
                            gpuOffload: true,
                        });
                        const refusal = refusalOf(() =>
                            checkLoadFits({ name: entry.name, file: file.file, memory, config, budget, sequences: DEFAULT_SEQUENCES }),
                        );
                        seen.add(badge.fit);
                        if (badge.fit === 'none') {
                            assert.equal(
                                refusal?.code,
                                ErrorCode.ModelDoesNotFit,
                                `${label}: the badge says it does not fit (${badge.reason}), yet the load is accepted with ${JSON.stringify(config)}`,
                            );
                            continue;
                        }
                        assert.equal(
                            refusal,
                            undefined,
                            `${label}: the badge says ${badge.fit} (${badge.reason}), yet the load is refused: ${refusal?.message}`,
                        );
                        assert.equal(
                            config.gpuLayers,
                            badge.fit === 'cpu' ? 0 : badge.gpuLayers,
                            `${label}: badge ${badge.fit} ${badge.gpuLayers}/${badge.totalLayers}, configuration ${config.gpuLayers}`,
                        );
                        assert.ok(
                            config.contextSize >= badge.contextSize,
                            `${label}: loads with ${config.contextSize} tokens of context, the badge promised ${badge.contextSize}`,
                        );
                    }
                }
                assert.deepEqual([...seen].sort(), gpu === 'off' ? ['cpu', 'none'] : CLASSES[profile], 'the badges across the catalog');
            } finally {
                service.dispose();
                fs.rmSync(statePath, { recursive: true, force: true });
            }
        });
    }
});
