/**
 * What the command tests share: the extension's services, user settings set and put back, waits on the
 * model list and the sidecar's status (events, never sleeps), and a fake hub (test/fixtures/fakeHub)
 * serving generated GGUF files under the repositories and names a test gives them.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import * as vscode from 'vscode';
import type { ModelEntry, ModelFile } from '../../src/common/models';
import { SidecarInfoRequest, type StatusParams } from '../../src/common/protocol';
import type { LocalAiTestApi } from '../../src/extension/extension';
import type { ModelsModel } from '../../src/extension/views/modelsModel';
import { startFakeHub, type FakeHub, type FakeHubFile, type Fault } from '../fixtures/fakeHub/server';

const EXTENSION_ID = 'local-ai.local-ai';

export async function localAi(): Promise<LocalAiTestApi> {
    const extension = vscode.extensions.getExtension<LocalAiTestApi>(EXTENSION_ID);
    assert.ok(extension, 'Local AI is not installed in this extension host');
    return extension.activate();
}

/**
 * Sets `localAi.*` user settings and resolves once this extension host has seen each change (the
 * sidecar client's own listener, registered at activation, has pushed it by then). Resolves to a
 * function that puts the previous values back the same way.
 */
export async function setSettings(values: Record<string, unknown>): Promise<() => Promise<void>> {
    const config = vscode.workspace.getConfiguration('localAi');
    const previous = Object.fromEntries(Object.keys(values).map((key) => [key, config.inspect(key)?.globalValue]));
    await applySettings(values);
    return () => applySettings(previous);
}

async function applySettings(values: Record<string, unknown>): Promise<void> {
    for (const [key, value] of Object.entries(values)) {
        const config = vscode.workspace.getConfiguration('localAi');
        if (isDeepStrictEqual(config.inspect(key)?.globalValue, value)) continue;
        const seen = new Promise<void>((resolve) => {
            const subscription = vscode.workspace.onDidChangeConfiguration((event) => {
                if (!event.affectsConfiguration(`localAi.${key}`)) return;
                subscription.dispose();
                resolve();
            });
        });
        await config.update(key, value, vscode.ConfigurationTarget.Global);
        await seen;
    }
}

/** Waits for the model list to satisfy `check`, refreshing on every change the sidecar reports. */
export async function untilModels(models: ModelsModel, what: string, check: () => boolean, timeoutMs = 90_000): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
            subscription.dispose();
            const states = models.models
                .filter((m) => m.source !== 'catalog' || m.files.some((f) => f.state !== 'available'))
                .map((m) => `${m.id}[${m.files.map((f) => `${f.quant}:${f.state}`).join(',')}]`);
            reject(new Error(`timed out waiting for ${what}; last error: ${models.error ?? 'none'}; models: ${states.join(' ')}`));
        }, timeoutMs);
        const subscription = models.onDidChange(() => {
            if (!check()) return;
            clearTimeout(timer);
            subscription.dispose();
            resolve();
        });
        void models.refresh();
    });
}

/** Resolves with the current status if it matches, else the first the sidecar pushes that does (no polling, no sleeps). */
export function nextStatus(local: LocalAiTestApi, matches: (status: StatusParams) => boolean, timeoutMs = 60_000): Promise<StatusParams> {
    if (matches(local.services.sidecar.status)) return Promise.resolve(local.services.sidecar.status);
    return statusAfter(local, matches, timeoutMs);
}

/** Resolves with the first status pushed from now on that matches (the current one does not count). */
export function statusAfter(local: LocalAiTestApi, matches: (status: StatusParams) => boolean, timeoutMs = 60_000): Promise<StatusParams> {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            subscription.dispose();
            reject(new Error(`no matching status; last was ${JSON.stringify(local.services.sidecar.status)}`));
        }, timeoutMs);
        const subscription = local.services.sidecar.onStatus((status) => {
            if (!matches(status)) return;
            clearTimeout(timer);
            subscription.dispose();
            resolve(status);
        });
    });
}

export async function sidecarPid(local: LocalAiTestApi): Promise<number> {
    return (await local.services.sidecar.request0(SidecarInfoRequest.type)).pid;
}

/**
 * Polls a condition that has no event to await (a file another process writes, a view the workbench
 * resolves when it likes); fails with `what`.
 */
export async function pollUntil(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
    }
}

export function escapeRegExp(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function sizeOf(file: string): number | undefined {
    return fs.existsSync(file) ? fs.statSync(file).size : undefined;
}

/** The current entry and file for a model id and quantization, as the views see them now. */
export function fileOf(models: ModelsModel, modelId: string, quant: string): { entry: ModelEntry; file: ModelFile } {
    const entry = models.find(modelId);
    const file = entry?.files.find((candidate) => candidate.quant === quant);
    assert.ok(entry && file, `${modelId} ${quant} is not in the model list`);
    return { entry, file };
}

/** A fake hub with these files, the hub endpoint pointed at it; `close()` puts the endpoint back and stops it. */
export async function hubWith(files: FakeHubFile[], faults: Fault[] = []): Promise<FakeHub & { close(): Promise<void> }> {
    const hub = await startFakeHub({ files, faults });
    const restore = await setSettings({ hubEndpoint: hub.url, offline: false });
    return Object.assign(hub, {
        close: async () => {
            await restore();
            await hub.stop();
        },
    });
}
