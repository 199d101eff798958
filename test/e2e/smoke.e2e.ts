import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { openLocalAiView, openWorkbench, type Workbench } from './workbench';

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
        await openLocalAiView(workbench.page);
        const file = await workbench.screenshot('e2e-smoke-local-ai-view');
        assert.ok(fs.statSync(file).size > 0);
        const title = await workbench.page.locator('.part.sidebar .composite.title').innerText();
        assert.match(title, /local ai/i);
    });
});
