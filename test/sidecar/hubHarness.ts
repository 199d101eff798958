/**
 * What the hub-client tests share: the model services of one "process" against a fake hub that answers as the
 * real Hub does, with small timeouts and caps injected, a log that is kept, and cleanup after each test.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LocalAiError } from '../../src/common/errors';
import { defaultSettings, type SidecarSettings } from '../../src/common/settings';
import { SidecarContext } from '../../src/sidecar/context';
import type { DownloadManagerOptions } from '../../src/sidecar/models/download';
import type { HubLimits } from '../../src/sidecar/models/hubHttp';
import { createModelServices, type ModelServices } from '../../src/sidecar/models';
import { startFakeHub, type FakeHub, type FakeHubFile, type FakeHubOptions } from '../fixtures/fakeHub/server';

export const REPO = 'test/hub-GGUF';
export const FILE = 'hub-Q4_K_M.gguf';
export const SIZE = 2 * 1024 * 1024;

export interface HubHarness {
    hub: FakeHub;
    models: ModelServices;
    context: SidecarContext;
    dir: string;
    data: Buffer;
    /** Every line the services logged, at any level. */
    logs: string[];
}

export interface HubHarnessOptions extends Partial<Omit<FakeHubOptions, 'files'>> {
    /** Extra files besides REPO/FILE. */
    files?: FakeHubFile[];
    token?: string;
    /** Settings besides the endpoint (the proxy). */
    settings?: Partial<SidecarSettings>;
    /** The endpoint setting; default the fake hub's URL. `(url) => …` builds one from it. */
    endpoint?: (hubUrl: string) => string;
    limits?: Partial<HubLimits>;
    downloads?: Partial<DownloadManagerOptions>;
}

const open: { hub: FakeHub; models: ModelServices; dir: string }[] = [];

export async function hubHarness(options: HubHarnessOptions = {}): Promise<HubHarness> {
    const data = randomBytes(SIZE);
    const { files = [], token, endpoint, limits, downloads, settings, ...rules } = options;
    const hub = await startFakeHub({ ...rules, files: [{ repo: REPO, path: FILE, data }, ...files] });
    const dir = mkdtempSync(path.join(tmpdir(), 'local-ai-hub-'));
    const logs: string[] = [];
    const keep = (line: string) => logs.push(line);
    const context = new SidecarContext({
        log: { error: keep, warn: keep, info: keep, debug: keep },
        settings: { ...defaultSettings(), ...settings, hubEndpoint: endpoint ? endpoint(hub.url) : hub.url },
        secrets: { providerKeys: {}, huggingFaceToken: token },
        defaultModelsPath: dir,
        statePath: dir,
    });
    const models = createModelServices(context, {
        discoveryFolders: () => ({ huggingFaceCache: path.join(dir, 'no-hf-cache'), lmStudio: [], extra: [] }),
        downloads: { retryBaseDelayMs: 10, stallTimeoutMs: 2000, ...downloads },
        hub: { requestTimeoutMs: 2000, retryBaseDelayMs: 10, ...limits },
    });
    open.push({ hub, models, dir });
    return { hub, models, context, dir, data, logs };
}

/** Stops every hub and service the test started and removes its folders. */
export async function closeHarnesses(): Promise<void> {
    for (const { hub, models, dir } of open.splice(0)) {
        await models.dispose();
        await hub.stop();
        rmSync(dir, { recursive: true, force: true });
    }
}

export async function rejection(promise: Promise<unknown>): Promise<LocalAiError> {
    try {
        await promise;
    } catch (error) {
        assert.ok(error instanceof LocalAiError, `expected a LocalAiError, got ${error instanceof Error ? error.stack : String(error)}`);
        return error;
    }
    assert.fail('expected a refusal');
}
