/**
 * GPU acceleration as the editor offers it, inside the real extension host with the real sidecar pretending
 * to be a Linux machine with an NVIDIA GPU, its driver, and llama.cpp's CPU build only (LOCAL_AI_HARDWARE_PROFILE,
 * read by the sidecar the client starts), and a loopback npm registry serving node-llama-cpp's real CUDA packages:
 * the offer (notification with Don't Ask Again, status bar tooltip, hardware report); Enable confirms what it
 * fetches, from where and how large, shows the fetch in the status bar, restarts the sidecar, and says why CUDA
 * did not load here, the offer turning into the fixes; offline mode refuses; Disable deletes the download.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { GpuDisableRequest, GpuOfferRequest, GpuStatusRequest } from '../../src/common/protocol';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { GPU_DONT_ASK_KEY, GpuAcceleration } from '../../src/extension/gpu/gpuAcceleration';
import { gpuBackendsPath } from '../../src/extension/sidecarClient';
import { StatusBar } from '../../src/extension/statusBar';
import { type FakeNpmRegistry, packInstalledPackage, startFakeNpmRegistry } from '../fixtures/fakeNpmRegistry/server';
import { escapeRegExp, localAi, nextStatus, setSettings, sidecarPid } from './harness';
import { Prompts } from './prompts';

const PROFILE_ENV = 'LOCAL_AI_HARDWARE_PROFILE';
const GPU_NAME = 'NVIDIA GeForce RTX 4070';
const CUDA_PACKAGES = ['@node-llama-cpp/linux-x64-cuda', '@node-llama-cpp/linux-x64-cuda-ext'];
const VULKAN_PACKAGE = '@node-llama-cpp/linux-x64-vulkan';

/** Tarballs downloaded so far (the offer reads their sizes with HEAD, which does not count). */
function tarballGets(registry: FakeNpmRegistry): number {
    return registry.requests.filter((request) => request.method === 'GET' && request.url.endsWith('.tgz')).length;
}

/** The tooltip's Markdown as it reads: MarkdownString.appendText writes spaces as &nbsp; and escapes punctuation. */
function readable(markdown: string): string {
    return markdown.replace(/&nbsp;/g, ' ').replace(/\\([\\`*_{}[\]()#+\-.!|<>])/g, '$1');
}

/** A Memento in memory, standing in for `context.globalState`. */
class MemoryMemento implements vscode.Memento {
    private readonly values = new Map<string, unknown>();
    keys(): readonly string[] {
        return [...this.values.keys()];
    }
    get<T>(key: string, defaultValue?: T): T | undefined {
        return this.values.has(key) ? (this.values.get(key) as T) : defaultValue;
    }
    update(key: string, value: unknown): Thenable<void> {
        if (value === undefined) this.values.delete(key);
        else this.values.set(key, value);
        return Promise.resolve();
    }
}

/** Resolves once `gpu` satisfies `check`, checked again on every change it fires (no polling). */
function untilGpu(gpu: GpuAcceleration, what: string, check: () => boolean, timeoutMs = 120_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            subscription.dispose();
            reject(new Error(`timed out waiting for ${what}; offer: ${JSON.stringify(gpu.offer)}, status: ${JSON.stringify(gpu.status)}`));
        }, timeoutMs);
        const subscription = gpu.onDidChange(() => {
            if (!check()) return;
            clearTimeout(timer);
            subscription.dispose();
            resolve();
        });
    });
}

describe('GPU acceleration in the editor', function () {
    this.timeout(420_000);
    let local: LocalAiTestApi;
    let registry: FakeNpmRegistry;
    let restoreSettings: () => Promise<void>;
    let prompts: Prompts;
    let dontAskBefore: unknown;

    /** Restarts the sidecar (it reads the environment at its start) and waits until it is ready again. */
    async function restartSidecar(): Promise<void> {
        await local.services.sidecar.restart();
        await nextStatus(local, (status) => status.health === 'ready');
        await local.services.gpu.refresh();
    }

    /** Deletes what a test installed, so the next test and file start from the CPU build. */
    async function removeBackends(): Promise<void> {
        const status = await local.services.sidecar.request0(GpuStatusRequest.type);
        if (status.installed.length > 0 || status.resolved.length > 0) {
            await local.services.sidecar.request0(GpuDisableRequest.type);
            await restartSidecar();
        }
    }

    before(async () => {
        local = await localAi();
        // The packages as `npm ci` installed them in this clone, packed as npm publishes them.
        const cwd = process.cwd();
        process.chdir(local.services.context.extensionPath);
        try {
            // Vulkan too: once CUDA failed, the offer turns to it, with its sizes from the registry.
            registry = await startFakeNpmRegistry([...CUDA_PACKAGES, VULKAN_PACKAGE].map(packInstalledPackage));
        } finally {
            process.chdir(cwd);
        }
        const { globalState } = local.services.context;
        dontAskBefore = globalState.get(GPU_DONT_ASK_KEY);
        // The extension's own notification stays quiet: the first test shows it through instances of its own.
        await globalState.update(GPU_DONT_ASK_KEY, true);
        restoreSettings = await setSettings({ gpuRegistry: registry.url, offline: false });
        process.env[PROFILE_ENV] = path.join(local.services.context.extensionPath, 'test', 'fixtures', 'hardware', 'linux-nvidia-cpu-build.json');
        await restartSidecar();
    });

    after(async () => {
        delete process.env[PROFILE_ENV];
        await removeBackends().catch(() => undefined);
        await restoreSettings?.();
        await local.services.context.globalState.update(GPU_DONT_ASK_KEY, dontAskBefore);
        await restartSidecar();
        await registry?.close();
    });

    beforeEach(() => (prompts = new Prompts()));
    afterEach(async function () {
        prompts.dispose(this.currentTest?.state === 'passed');
        await removeBackends();
    });

    it('offers the CUDA build in a notification, remembers Don’t Ask Again, and shows the offer in the status bar tooltip and the hardware report', async () => {
        const { services } = local;
        // The instances' own memory: the extension's instance, refreshing by itself, keeps to its Don't Ask Again.
        const globalState = new MemoryMemento();
        const options = { sidecar: services.sidecar, log: services.log, globalState, backendsPath: gpuBackendsPath(services.context) };
        const offerText = /can run models on the/;
        const first = new GpuAcceleration(options);
        try {
            prompts.answer('info', offerText, "Don't Ask Again");
            await first.refresh();
            const offered = await prompts.next('info', offerText);
            assert.match(offered.text, new RegExp(`^Local AI: CUDA can run models on the ${GPU_NAME}\\. Fetches ${escapeRegExp(CUDA_PACKAGES[0])}@\\S+ and`));
            assert.ok(offered.text.includes(`from ${registry.url}`), offered.text);
            assert.deepEqual(offered.items, ['Enable GPU Acceleration', "Don't Ask Again"]);
            await untilGpu(first, 'Don’t Ask Again remembered', () => globalState.get(GPU_DONT_ASK_KEY) === true);
        } finally {
            first.dispose();
        }
        // Another window (another instance) with the same offer does not ask again.
        const second = new GpuAcceleration(options);
        try {
            await second.refresh();
            assert.ok(second.offer?.offer, 'the second instance found no offer');
            const asked = prompts.shown.filter((shown) => offerText.test(shown.text));
            assert.equal(asked.length, 1, `asked again after Don’t Ask Again: ${JSON.stringify(asked)}`);
        } finally {
            second.dispose();
        }

        const bar = new StatusBar(services.sidecar, services.models, services.gpu, services.server);
        try {
            assert.match(readable(bar.tooltip), new RegExp(`\\*\\*GPU acceleration:\\*\\* CUDA can run models on the ${GPU_NAME}`));
            assert.match(readable(bar.tooltip), /\[Enable GPU Acceleration\]\(command:localAi\.enableGpu\?/);
        } finally {
            bar.dispose();
        }

        const uri = await vscode.commands.executeCommand<string>('localAi.showHardwareReport');
        const report = vscode.workspace.textDocuments.find((document) => document.uri.toString() === uri)?.getText() ?? '';
        assert.match(
            report,
            new RegExp(
                `^> \\*\\*GPU acceleration:\\*\\* CUDA can run models on the ${GPU_NAME}\\..* Run \\*\\*Local AI: Enable GPU Acceleration\\*\\*\\.$`,
                'm',
            ),
        );
        const summary = await prompts.next('info', /^Local AI: llama\.cpp runs on the CPU\.$/);
        assert.deepEqual(summary.items, ['Enable GPU Acceleration', 'Copy for a Bug Report']);
    });

    it('a refresh overtaken by a newer one resolves with the newer answers, so the hardware report never shows an old offer', async () => {
        // Seen in the workbench: Show Hardware Report's refresh was overtaken by the one the sidecar's restart
        // started, returned at once, and the report read the offer from before the restart.
        const { services } = local;
        let statusCalls = 0;
        let release: () => void = () => undefined;
        const gate = new Promise<void>((resolve) => (release = resolve));
        let firstAnswered: () => void = () => undefined;
        const firstDone = new Promise<void>((resolve) => (firstAnswered = resolve));
        // The real sidecar, but the second refresh's first question waits at the gate.
        const sidecar = new Proxy(services.sidecar, {
            get(target, property) {
                if (property === 'request0') {
                    return async (...args: Parameters<typeof target.request0>) => {
                        if (++statusCalls === 2) await gate;
                        return target.request0(...args);
                    };
                }
                if (property === 'request') {
                    // The offer is a refresh's last question: once the first refresh has it, its answers are in.
                    return async (...args: Parameters<typeof target.request>) => {
                        const answer = await target.request(...args);
                        if (args[0] === GpuOfferRequest.type) firstAnswered();
                        return answer;
                    };
                }
                const value = Reflect.get(target, property, target);
                return typeof value === 'function' ? value.bind(target) : value;
            },
        });
        const gpu = new GpuAcceleration({ sidecar, log: services.log, globalState: new MemoryMemento(), backendsPath: gpuBackendsPath(services.context) });
        try {
            let firstResolved = false;
            const first = gpu.refresh().then(() => (firstResolved = true));
            const second = gpu.refresh();
            await firstDone;
            // The first refresh's own answers are in; it must still wait for the second's.
            await new Promise((resolve) => setTimeout(resolve, 200));
            assert.equal(firstResolved, false, 'the overtaken refresh resolved before the newer one had its answers');
            release();
            await first;
            assert.ok(gpu.offer?.offer, 'the overtaken refresh resolved without the newer offer');
            assert.match(gpu.view?.headline ?? '', new RegExp(`CUDA can run models on the ${GPU_NAME}`));
            await second;
        } finally {
            release();
            gpu.dispose();
        }
    });

    it('Enable asks first, shows the fetch in the status bar, restarts the sidecar, then says why CUDA did not load and offers the fixes', async () => {
        const { services } = local;
        const bar = new StatusBar(services.sidecar, services.models, services.gpu, services.server);
        const texts: string[] = [];
        const watching = services.gpu.onDidChange(() => texts.push(bar.text));
        try {
            const pidBefore = await sidecarPid(local);
            const tarballsBefore = tarballGets(registry);
            prompts.answer('info', /^Enable GPU acceleration with CUDA/, 'Download and Enable');
            await vscode.commands.executeCommand('localAi.enableGpu');

            const confirm = await prompts.next('info', /^Enable GPU acceleration with CUDA/);
            assert.equal(confirm.text, `Enable GPU acceleration with CUDA on the ${GPU_NAME}?`);
            assert.equal(confirm.modal, true);
            const detail = String(confirm.options.detail);
            for (const name of CUDA_PACKAGES) assert.match(detail, new RegExp(`^${escapeRegExp(name)}@\\S+ \\(\\d+ MB download\\)$`, 'm'));
            assert.ok(detail.includes(`From: ${registry.url}`), detail);
            assert.match(detail, /^Size: \d+ MB to download, \d+ MB on disk once unpacked\.$/m);
            assert.ok(detail.includes(`Into: ${gpuBackendsPath(services.context)}`), detail);
            assert.ok(tarballGets(registry) > tarballsBefore, 'nothing was fetched after Download and Enable');

            assert.ok(
                texts.some((text) => /^\$\(cloud-download\) \d+% · CUDA GPU build/.test(text)),
                `the status bar never showed the fetch: ${[...new Set(texts)].join(' | ')}`,
            );
            const errors = prompts.shown.filter((shown) => shown.kind === 'error').map((shown) => shown.text);
            assert.deepEqual(errors, []);
            assert.notEqual(await sidecarPid(local), pidBefore, 'the sidecar was not restarted');
            const status = await services.sidecar.request0(GpuStatusRequest.type);
            assert.deepEqual(
                status.installed.map((installed) => installed.backend),
                ['cuda'],
            );
            assert.ok(
                status.resolved.some((resolved) => resolved.folder.startsWith(gpuBackendsPath(services.context))),
                `node-llama-cpp was not pointed at the fetched build: ${JSON.stringify(status.resolved)}`,
            );

            // No NVIDIA driver on this machine: the reason, and the fixes as buttons.
            const outcome = await prompts.next('warning', /^Local AI: CUDA is installed but did not load/);
            assert.ok(status.loadFailure && outcome.text.includes(status.loadFailure), `${outcome.text} does not quote ${status.loadFailure}`);
            assert.match(outcome.text, /Install or update the NVIDIA driver/);
            assert.deepEqual(outcome.items, ['Try Vulkan Instead', 'Install or Update the NVIDIA Driver', 'Disable GPU Acceleration', 'Show Hardware Report']);
            assert.match(readable(bar.tooltip), /\*\*GPU acceleration:\*\* CUDA did not load, so llama\.cpp runs on the CPU: /);
            assert.match(readable(bar.tooltip), /\[Try Vulkan Instead\]\(command:localAi\.enableGpu\?%5B%22vulkan%22%5D\)/);

            // Disable deletes it, after asking, and the sidecar goes back to the CPU build.
            prompts.answer('warning', /^Disable GPU acceleration and delete the CUDA build\?$/, 'Delete and Restart');
            await vscode.commands.executeCommand('localAi.disableGpu');
            await prompts.next('info', /^Local AI: the CUDA build was deleted; models run on the CPU\.$/);
            const after = await services.sidecar.request0(GpuStatusRequest.type);
            assert.deepEqual(after.installed, []);
            assert.equal(after.loadFailure, undefined);
        } finally {
            watching.dispose();
            bar.dispose();
        }
    });

    it('refuses in offline mode with a message, and fetches nothing', async () => {
        const restore = await setSettings({ offline: true });
        try {
            const requestsBefore = registry.requests.length;
            prompts.answer('warning', /offline mode is on/, undefined);
            await vscode.commands.executeCommand('localAi.enableGpu');
            const refused = await prompts.next('warning', /offline mode is on/);
            assert.equal(
                refused.text,
                'Local AI: offline mode is on (localAi.offline), so the GPU build of llama.cpp cannot be fetched. Turn offline mode off to enable GPU acceleration.',
            );
            assert.equal(registry.requests.length, requestsBefore, 'the registry was asked while offline');
            assert.deepEqual((await local.services.sidecar.request0(GpuStatusRequest.type)).installed, []);
        } finally {
            await restore();
        }
    });
});
