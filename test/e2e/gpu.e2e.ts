// GPU acceleration in the workbench, on a pretend Linux machine with an NVIDIA GPU and llama.cpp's CPU build
// only (LOCAL_AI_HARDWARE_PROFILE reaches the sidecar through the server's environment), with a loopback npm
// registry serving node-llama-cpp's real GPU packages: the offer shows in a notification and in the Models
// view's title; Enable asks first, saying what it fetches, from where and how large, and fetches nothing
// before the user agrees; then the fetch shows in the status bar; the sidecar restarts on the fetched build,
// node-llama-cpp's binary test fails on this GPU-less machine, and the hardware report names the installed
// build, where it is, and why it did not load. (The warning with its fixes is asserted in the extension host:
// test/extension/gpu.test.ts.)
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { type FakeNpmRegistry, packInstalledPackage, startFakeNpmRegistry } from '../fixtures/fakeNpmRegistry/server';
import { openLocalAiView, openWorkbench, repoRoot, runCommand, statusBarText, UI_TIMEOUT_MS, until, waitForStatusBarItem, type Workbench } from './workbench';

const GPU_NAME = 'NVIDIA GeForce RTX 4070';

/** Tarballs downloaded so far (the offer reads their sizes with HEAD, which does not count). */
function tarballGets(registry: FakeNpmRegistry): number {
    return registry.requests.filter((request) => request.method === 'GET' && request.url.endsWith('.tgz')).length;
}

/** The notification in the notification center whose text matches (a toast may hide before it is looked at). */
async function notification(page: Page, text: string | RegExp, timeoutMs = 2 * UI_TIMEOUT_MS) {
    await runCommand(page, 'Notifications: Show Notifications');
    const item = page.locator('.notifications-center .notification-list-item', { hasText: text }).first();
    await item.waitFor({ timeout: timeoutMs });
    return item;
}

describe('GPU acceleration in the workbench', function () {
    this.timeout(10 * 60_000);
    let workbench: Workbench | undefined;
    let registry: FakeNpmRegistry | undefined;

    before(async () => {
        // node-llama-cpp's real CUDA and Vulkan packages, as `npm ci` installed them here, packed as npm publishes them.
        registry = await startFakeNpmRegistry(
            ['@node-llama-cpp/linux-x64-cuda', '@node-llama-cpp/linux-x64-cuda-ext', '@node-llama-cpp/linux-x64-vulkan'].map(packInstalledPackage),
        );
        workbench = await openWorkbench({
            // The views' title buttons show without hovering, as a screenshot should see them.
            settings: { 'localAi.gpuRegistry': registry.url, 'workbench.view.alwaysShowHeaderActions': true },
            env: { LOCAL_AI_HARDWARE_PROFILE: path.join(repoRoot, 'test/fixtures/hardware/linux-nvidia-cpu-build.json') },
        });
    });

    after(async () => {
        await workbench?.close();
        await registry?.close();
    });

    afterEach(async function () {
        if (this.currentTest?.state === 'failed') await workbench?.screenshot('gpu-failed').catch(() => undefined);
    });

    it('offers GPU acceleration for the pretend NVIDIA GPU, asks before fetching, shows the fetch in the status bar, then the report names the build and why it did not load', async () => {
        const { page } = workbench!;
        await waitForStatusBarItem(page, 'localAi.status');

        // The offer: a notification naming the GPU and what is fetched, and a button in the Models view's title.
        const offer = await notification(page, `can run models on the ${GPU_NAME}`);
        assert.match(await offer.innerText(), new RegExp(registry!.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
        await workbench!.screenshot('gpu-offer-notification');
        await runCommand(page, 'Notifications: Hide Notifications');
        await openLocalAiView(page);
        const titleAction = page.locator('.part.sidebar .pane-header .action-label[aria-label^="Enable GPU Acceleration"]');
        await titleAction.waitFor({ timeout: UI_TIMEOUT_MS });

        // Enable, from the view's title: the modal says what, from where and how large, before anything is fetched.
        const before = tarballGets(registry!);
        await titleAction.click();
        const dialog = page.locator('.monaco-dialog-box').filter({ has: page.locator('.dialog-message-text', { hasText: 'Enable GPU acceleration with' }) });
        await dialog.waitFor({ timeout: UI_TIMEOUT_MS });
        const detail = await dialog.locator('.dialog-message-detail').innerText();
        assert.match(detail, /@node-llama-cpp\/linux-x64-/);
        assert.ok(detail.includes(`From: ${registry!.url}`), detail);
        assert.match(detail, /Size: \d+ MB to download/);
        assert.equal(tarballGets(registry!), before, 'a tarball was fetched before the user agreed');
        await workbench!.screenshot('gpu-enable-confirm');
        await dialog.locator('.dialog-buttons .monaco-button', { hasText: 'Download and Enable' }).click();

        // The fetch, in the status bar.
        await until('the status bar shows the fetch', async () => /\d+% · CUDA GPU build/.test(await statusBarText(page, 'localAi.status')), 2 * UI_TIMEOUT_MS);
        await workbench!.screenshot('gpu-fetch-status-bar');

        // Once fetched, the sidecar restarts on it; the report (a Markdown preview) says what is installed and why it did not load.
        await until('the fetch is over', async () => !/CUDA GPU build/.test(await statusBarText(page, 'localAi.status')), 4 * UI_TIMEOUT_MS);
        await runCommand(page, 'Local AI: Show Hardware Report');
        let report = '';
        await until(
            'the hardware report names the fetched CUDA build and why it did not load',
            async () => {
                for (const frame of page.frames()) {
                    const text = await frame
                        .locator('body')
                        .innerText({ timeout: 1_000 })
                        .catch(() => '');
                    if (/GPU backends/.test(text) && /linux-x64-cuda/.test(text)) report = text;
                }
                return /did not load/.test(report);
            },
            2 * UI_TIMEOUT_MS,
        );
        assert.match(report, /The CUDA build of llama\.cpp was found but did not load: node-llama-cpp says/);
        assert.match(report, /NVIDIA driver/);
        // What to run next, as the Command Palette names it.
        assert.match(report, /Run Local AI: Enable GPU Acceleration or Local AI: Disable GPU Acceleration\./);
        await workbench!.screenshot('gpu-fallback-report');
    });
});
