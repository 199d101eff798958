// A download survives a reload of the VS Code window: the reload ends the extension host and its sidecar
// mid-transfer; the new window starts the download again by itself, it resumes from the partial file
// with an HTTP Range request, and the status bar goes on to the installed model.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { startFakeHub, type FakeHub } from '../fixtures/fakeHub/server';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { openWorkbench, runCommand, statusBarText, UI_TIMEOUT_MS, waitForStatusBarItem, type Workbench } from './workbench';

const CODER = { repo: 'local-ai-test/Resume-Coder-GGUF', path: 'Resume-Coder-Q8_0.gguf', name: 'Resume Coder' };

/** The smoke-test driver VS Code installs on window with --enable-smoke-test-driver. */
interface WindowWithDriver {
    driver?: { whenWorkbenchRestored(): Promise<void> };
}

async function waitForStatus(page: Page, pattern: RegExp): Promise<string> {
    const started = Date.now();
    let text = '';
    while (Date.now() - started < 2 * UI_TIMEOUT_MS) {
        text = await statusBarText(page, 'localAi.status').catch(() => '');
        if (pattern.test(text)) return text;
        await page.waitForTimeout(200);
    }
    throw new Error(`status bar never matched ${pattern}; it says "${text}"`);
}

describe('Download across a window reload', function () {
    this.timeout(6 * 60_000);
    let workbench: Workbench | undefined;
    let hub: FakeHub | undefined;
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-resume-e2e-'));
    const modelsPath = path.join(scratch, 'models');
    let size = 0;

    before(async () => {
        const fixture = ensureFixtureModel(defaultFixtureDir(), tinyModel);
        size = fs.statSync(fixture).size;
        // The transfer stops at 40% and stays there until the window is reloaded.
        hub = await startFakeHub({
            files: [{ repo: CODER.repo, path: CODER.path, filePath: fixture }],
            faults: [{ kind: 'stall', path: CODER.path, times: 100, afterBytes: Math.floor(size * 0.4) }],
        });
        workbench = await openWorkbench({
            settings: {
                'localAi.hubEndpoint': hub.url,
                'localAi.modelsPath': modelsPath,
                'localAi.defaultModel': `hf:${CODER.repo}/${CODER.path}`,
                'localAi.models': [{ source: `hf:${CODER.repo}/${CODER.path}`, name: CODER.name }],
            },
        });
    });

    after(async () => {
        await workbench?.close();
        await hub?.stop();
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    it('resumes by itself after Developer: Reload Window, fetching only the missing bytes', async () => {
        const { page } = workbench!;
        // The extension is active (its status item shows) and the sidecar has listed the models.
        await waitForStatusBarItem(page, 'localAi.status');
        await waitForStatus(page, new RegExp(CODER.name));
        await runCommand(page, 'Local AI: Download Model…');
        const input = page.locator('.quick-input-widget .quick-input-box input');
        await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Download a model' }).waitFor({ timeout: UI_TIMEOUT_MS });
        await input.fill(CODER.name);
        await page.locator('.quick-input-widget .monaco-list-row', { hasText: CODER.name }).first().waitFor({ timeout: UI_TIMEOUT_MS });
        await input.press('Enter');
        await waitForStatus(page, /\d+%/);
        await new Promise<void>((resolve) =>
            hub!.bytesServed(CODER.path) >= Math.floor(size * 0.4) ? resolve() : hub!.events.once('stalled', () => resolve()),
        );
        await workbench!.screenshot('e2e-download-before-reload');
        const servedBefore = hub!.bytesServed(CODER.path);

        // Wait for the new page, not the old one about to go: the driver check would pass on the old one.
        const reloaded = page.waitForEvent('load', { timeout: UI_TIMEOUT_MS });
        await runCommand(page, 'Developer: Reload Window');
        hub!.clearFaults();
        await reloaded;
        await page.waitForFunction(() => !!(window as WindowWithDriver).driver, undefined, { timeout: UI_TIMEOUT_MS });
        await page.evaluate(() => (window as WindowWithDriver).driver!.whenWorkbenchRestored());

        const installed = path.join(modelsPath, CODER.repo, CODER.path);
        const deadline = Date.now() + 2 * UI_TIMEOUT_MS;
        while (!fs.existsSync(installed) && Date.now() < deadline) await page.waitForTimeout(250);
        assert.ok(fs.existsSync(installed), `not installed after the reload: ${installed}`);
        assert.equal(fs.statSync(installed).size, size);
        const resumed = hub!.requests.filter((request) => request.port === 'cdn' && request.range && !request.range.startsWith('bytes=0-'));
        assert.ok(resumed.length > 0, `no ranged request after the reload: ${JSON.stringify(hub!.requests.map((r) => r.range))}`);
        // Only the missing bytes came after the reload (a few KiB of slack for what was in flight).
        assert.ok(hub!.bytesServed(CODER.path) - servedBefore <= size - servedBefore + 64 * 1024, `served ${hub!.bytesServed(CODER.path)} of ${size}`);
        await waitForStatus(page, new RegExp(CODER.name));
        await workbench!.screenshot('e2e-download-resumed-after-reload');
    });
});
