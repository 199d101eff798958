/**
 * What a user sees when the sidecar dies: the status bar turns to an error, then recovers by itself;
 * and when VS Code closes, no sidecar process is left behind.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { openWorkbench, sidecarPids, UI_TIMEOUT_MS, waitForStatusBarItem, type Workbench } from './workbench';

async function waitForPids(tag: string, matches: (pids: number[]) => boolean): Promise<number[]> {
    const deadline = Date.now() + UI_TIMEOUT_MS;
    for (;;) {
        const pids = sidecarPids(tag);
        if (matches(pids)) return pids;
        if (Date.now() > deadline) throw new Error(`sidecar processes: ${pids.join(', ') || 'none'}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

const STATUS = '[id*="localAi.status"]';

describe('Sidecar recovery as the user sees it', function () {
    this.timeout(5 * 60_000);
    const tag = randomUUID();
    let workbench: Workbench | undefined;

    before(async () => {
        workbench = await openWorkbench({ env: { LOCAL_AI_E2E_TAG: tag } });
    });

    after(async () => {
        await workbench?.close();
    });

    it('shows the crash in the status bar and recovers by itself after kill -9', async () => {
        const { page } = workbench!;
        await waitForStatusBarItem(page, 'localAi.status');
        const [first] = await waitForPids(tag, (pids) => pids.length === 1);
        // Watch for the error state from inside the page, so a fast restart cannot slip between two looks.
        await page.evaluate((selector) => {
            (window as unknown as { __localAiSawError: boolean }).__localAiSawError = false;
            const observer = new MutationObserver(() => {
                const item = document.querySelector(`.part.statusbar ${selector}`);
                if (item?.querySelector('.codicon-error')) (window as unknown as { __localAiSawError: boolean }).__localAiSawError = true;
            });
            observer.observe(document.querySelector('.part.statusbar')!, { subtree: true, childList: true, attributes: true, characterData: true });
        }, STATUS);
        process.kill(first, 'SIGKILL');
        await page.waitForFunction(() => (window as unknown as { __localAiSawError: boolean }).__localAiSawError, undefined, { timeout: UI_TIMEOUT_MS });
        const [second] = await waitForPids(tag, (pids) => pids.length === 1 && pids[0] !== first);
        assert.notEqual(second, first);
        await page.waitForFunction(
            (selector) => {
                const item = document.querySelector(`.part.statusbar ${selector}`);
                return !!item && !item.querySelector('.codicon-error') && !item.querySelector('.codicon-loading');
            },
            STATUS,
            { timeout: UI_TIMEOUT_MS },
        );
        await workbench!.screenshot('e2e-sidecar-recovered');
    });

    it('exits by itself when the extension host dies without a goodbye (kill -9)', async () => {
        const [sidecar] = await waitForPids(tag, (pids) => pids.length === 1);
        const extensionHost = Number(fs.readFileSync(`/proc/${sidecar}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
        assert.ok(fs.readFileSync(`/proc/${extensionHost}/cmdline`, 'utf8').length > 0);
        process.kill(extensionHost, 'SIGKILL');
        await waitForPids(tag, (pids) => !pids.includes(sidecar));
    });

    it('leaves no sidecar process behind when VS Code closes', async () => {
        await workbench!.close();
        workbench = undefined;
        await waitForPids(tag, (pids) => pids.length === 0);
    });
});
