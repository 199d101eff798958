/**
 * Cloud fallback as a user meets it in the real workbench: no local model is installed, fallback is
 * `auto` with an OpenAI-compatible server configured (a loopback mock speaking the real SSE format),
 * and the key is set through "Local AI: Set Cloud API Key…". A question in the Chat view is answered
 * by the provider, the answer carries the cloud badge and says why, and the first fallback of the
 * session shows a notice, the next one none.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { startMockProvider, type MockProvider } from '../fixtures/mockProviders/server';
import { ask, openWorkbench, runCommand, UI_TIMEOUT_MS, waitForStatusBarItem, type Workbench, until, chatFrame } from './workbench';

const KEY = 'sk-team-e2e-4d3c2b1a';

/**
 * Waits until a notification with `text` is listed in the notification center. The center, not the
 * toasts: a toast may be hidden before it is looked at (or never shown while a quick input is open).
 */
async function notificationShown(page: Page, text: string, screenshot?: () => Promise<unknown>): Promise<void> {
    await runCommand(page, 'Notifications: Show Notifications');
    await page.locator('.notifications-center .notification-list-item', { hasText: text }).first().waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot?.();
    await runCommand(page, 'Notifications: Hide Notifications');
}

describe('Cloud fallback in the workbench', function () {
    this.timeout(10 * 60_000);
    let workbench: Workbench | undefined;
    let mock: MockProvider | undefined;

    before(async () => {
        mock = await startMockProvider({ provider: 'openai-compatible', answer: ['It matches ', 'one or more ', 'digits.'] });
        const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-fallback-e2e-'));
        const emptyModels = path.join(scratch, 'models');
        fs.mkdirSync(emptyModels);
        workbench = await openWorkbench({
            settings: {
                'localAi.modelsPath': emptyModels,
                'localAi.fallback.mode': 'auto',
                'localAi.fallback.providers': [{ id: 'openai-compatible', baseUrl: mock.baseUrl, model: 'team-model' }],
            },
            env: { LOCAL_AI_MODELS_PATH: emptyModels },
        });
    });

    afterEach(async function () {
        if (this.currentTest?.state === 'failed') await workbench?.screenshot('fallback-failed');
    });

    after(async () => {
        await workbench?.close();
        await mock?.stop();
    });

    it('with no local model and mode auto, the Chat view answers from the provider with a cloud badge, and says so once', async () => {
        const { page } = workbench!;
        await waitForStatusBarItem(page, 'localAi.status');

        // The key goes in through the command, as a user would set it: SecretStorage, never settings.
        await runCommand(page, 'Local AI: Set Cloud API Key');
        await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'OpenAI-compatible server' }).first().click();
        const keyBox = page.locator('.quick-input-widget .quick-input-box input');
        await until('the key prompt is shown', async () => (await keyBox.getAttribute('type')) === 'password');
        await keyBox.fill(KEY);
        await keyBox.press('Enter');
        await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
        await notificationShown(page, 'OpenAI-compatible server key is stored');

        await runCommand(page, 'Local AI: Open Chat');
        const chat = chatFrame(page);
        const box = chat.locator('#question');
        await box.waitFor({ timeout: UI_TIMEOUT_MS });
        await box.fill('What does /\\d+/ match?');
        await box.press('Enter');
        const answer = chat.locator('.turn.assistant').last();
        await answer.waitFor({ timeout: UI_TIMEOUT_MS });
        await until('the answer is complete', async () => !(await answer.evaluate((node) => node.classList.contains('streaming'))));

        assert.equal((await answer.locator('.markdown-body').innerText()).trim(), 'It matches one or more digits.');
        const badge = answer.locator('.engine-badge');
        assert.ok(await badge.evaluate((node) => node.classList.contains('cloud')), 'the badge is the cloud one');
        assert.match(await badge.innerText(), /team-model · cloud · openai-compatible/);
        assert.match(await answer.innerText(), /No local model is installed yet\./);

        // The first fallback of the session says so, once.
        await workbench!.screenshot('fallback-cloud-answer');
        await notificationShown(page, 'This answer comes from OpenAI-compatible server', () => workbench!.screenshot('fallback-first-notice'));

        assert.equal(mock!.requests.length, 1);
        assert.equal(mock!.requests[0].apiKey, KEY, 'the key from SecretStorage reached the provider');
        assert.equal((mock!.requests[0].body as { model: string }).model, 'team-model');

        // Once per session: with the first notice cleared away, the next fallback shows none. (The center
        // replaces a notification by an identical one, so counting them would not tell.)
        await runCommand(page, 'Notifications: Clear All Notifications');
        const second = await ask(chat, 'And /\\s+/?');
        await until('the second answer is complete', async () => !(await second.evaluate((node) => node.classList.contains('streaming'))));
        assert.equal((await second.locator('.markdown-body').innerText()).trim(), 'It matches one or more digits.');
        assert.ok(
            await second.locator('.engine-badge').evaluate((node) => node.classList.contains('cloud')),
            'the second answer did not come from the provider',
        );
        assert.equal(mock!.requests.length, 2);
        await runCommand(page, 'Notifications: Show Notifications');
        await page.locator('.notifications-center').waitFor({ timeout: UI_TIMEOUT_MS });
        assert.equal(
            await page.locator('.notifications-center .notification-list-item', { hasText: 'This answer comes from' }).count(),
            0,
            'the notice was shown again',
        );
        await runCommand(page, 'Notifications: Hide Notifications');
    });
});
