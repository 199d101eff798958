import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { openLocalAiView, openWorkbench, statusBarText, waitForStatusBarItem, type Workbench } from './workbench';

describe('Workbench smoke', function () {
    // Starting the server, the browser and the extension host takes a while on shared machines.
    this.timeout(5 * 60_000);
    let workbench: Workbench | undefined;

    before(async () => {
        workbench = await openWorkbench();
    });

    after(async () => {
        await workbench?.close();
    });

    it('shows the Local AI view when its activity bar icon is clicked', async () => {
        assert.ok(workbench);
        const { page } = workbench;
        await openLocalAiView(page);
        const title = await page.locator('.part.sidebar .composite.title').innerText();
        assert.match(title, /local ai/i);
        // The status item appears once the extension has activated: the screenshot then
        // shows the view as a user sees it, not half-loaded.
        await waitForStatusBarItem(page, 'localAi.status');
        assert.match(await statusBarText(page, 'localAi.status'), /Local AI|·/);
        const file = await workbench.screenshot('e2e-smoke-local-ai-view');
        assert.ok(fs.statSync(file).size > 0);
    });
});
