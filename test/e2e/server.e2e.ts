/**
 * The local server as a user sets it up in the real workbench: "Local AI: Start Local Server" from the
 * command palette, "Local AI: Copy Server Address and Token", then a tool outside VS Code (curl, a child
 * process) pastes what was copied and gets an answer from the generated local model. The status bar's
 * tooltip then shows the address and the request. A second workbench opens an untrusted folder whose
 * settings turn the server on and move it: they are ignored, and the user's own setting is followed.
 */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { openWorkbench, runCommand, UI_TIMEOUT_MS, until, waitForStatusBarItem, type Workbench } from './workbench';
import { freePort } from '../fixtures/ports';

const run = promisify(execFile);

/** Waits until a notification with `text` is in the notification center (a toast may hide before it is seen). */
async function notificationShown(page: Page, text: string | RegExp, screenshot?: () => Promise<unknown>): Promise<void> {
    await runCommand(page, 'Notifications: Show Notifications');
    await page.locator('.notifications-center .notification-list-item', { hasText: text }).first().waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot?.();
    await runCommand(page, 'Notifications: Clear All Notifications');
}

/** curl, as any tool outside VS Code: the HTTP status and the body. */
async function curl(args: string[]): Promise<{ status: number; body: string }> {
    const { stdout } = await run('curl', ['-sS', '--max-time', '240', '-w', '\n%{http_code}', ...args]);
    const cut = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

/** The hover of Local AI's status bar item, as a user reads it. */
async function statusTooltip(page: Page, expected: RegExp): Promise<string> {
    const item = page.locator('.part.statusbar .statusbar-item[id*="localAi.status"]').first();
    let text = '';
    await until('the status bar tooltip shows the server', async () => {
        await item.hover();
        text =
            (await page
                .locator('.monaco-hover, .workbench-hover')
                .first()
                .innerText({ timeout: 2_000 })
                .catch(() => '')) ?? '';
        if (!expected.test(text)) await page.mouse.move(0, 0);
        return expected.test(text);
    });
    return text;
}

describe('Local server in the workbench', function () {
    this.timeout(10 * 60_000);
    const modelPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    const settings = {
        'localAi.models': [{ source: modelPath, name: 'Tiny fixture' }],
        'localAi.defaultModel': modelPath,
        'localAi.threads': 1,
        'localAi.contextSize': 512,
    };
    let workbench: Workbench | undefined;

    afterEach(async function () {
        if (this.currentTest?.state === 'failed') await workbench?.screenshot(`server-failed-${this.currentTest.title.slice(0, 30).replace(/\W+/g, '-')}`);
        await workbench?.close();
        workbench = undefined;
    });

    it('started from the palette, its copied address and token let curl chat with the local model', async () => {
        const port = await freePort();
        workbench = await openWorkbench({ settings: { ...settings, 'localAi.server.port': port } });
        const { page } = workbench;
        // VS Code's web clipboard is the browser's: let the page write it, and the test read it back.
        await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
        await waitForStatusBarItem(page, 'localAi.status');

        await runCommand(page, 'Local AI: Start Local Server');
        const address = `http://127.0.0.1:${port}/v1`;
        await notificationShown(page, `the local server runs at ${address}`, () => workbench!.screenshot('server-started'));

        await runCommand(page, 'Local AI: Copy Server Address and Token');
        await notificationShown(page, /copied OPENAI_BASE_URL=/, () => workbench!.screenshot('server-copied'));
        let copied = '';
        await until('the clipboard holds the address and token', async () => {
            copied = await page.evaluate(() => navigator.clipboard.readText());
            return copied.startsWith('OPENAI_BASE_URL=');
        });
        const match = /^OPENAI_BASE_URL=(\S+) OPENAI_API_KEY=(\S+)$/.exec(copied);
        assert.ok(match, `the clipboard holds ${copied}`);
        const [, baseUrl, token] = match;
        assert.equal(baseUrl, address);

        const answer = await curl([
            '-H',
            `Authorization: Bearer ${token}`,
            '-H',
            'Content-Type: application/json',
            '-d',
            JSON.stringify({ messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 8, seed: 1 }),
            `${baseUrl}/chat/completions`,
        ]);
        assert.equal(answer.status, 200, answer.body);
        const completion = JSON.parse(answer.body) as { object: string; choices: { message: { content: string } }[]; usage: { completion_tokens: number } };
        assert.equal(completion.object, 'chat.completion');
        assert.equal(typeof completion.choices[0].message.content, 'string');
        assert.ok(completion.usage.completion_tokens > 0, `no tokens generated: ${answer.body}`);
        assert.equal((await curl([`${baseUrl}/models`])).status, 401, 'answered without the token');

        const tooltip = await statusTooltip(page, /Local server: http:\/\/127\.0\.0\.1:\d+\/v1 · [1-9]\d* requests?/);
        assert.ok(tooltip.includes(address), tooltip);
        await workbench.screenshot('server-tooltip');
    });

    it("in an untrusted folder, the folder's settings neither turn the server on nor move it; the user's are followed", async () => {
        const userPort = await freePort();
        const folderPort = await freePort();
        const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-server-untrusted-'));
        fs.mkdirSync(path.join(folder, '.vscode'));
        fs.writeFileSync(
            path.join(folder, '.vscode', 'settings.json'),
            JSON.stringify({ 'localAi.server.enabled': true, 'localAi.server.port': folderPort, 'localAi.server.host': '0.0.0.0' }),
        );
        try {
            workbench = await openWorkbench({ folder, workspaceTrust: true, settings: { ...settings, 'localAi.server.port': userPort } });
            const { page } = workbench;
            await waitForStatusBarItem(page, 'localAi.status');
            // Started by the user (the command sets the user setting): it listens where the user said.
            await runCommand(page, 'Local AI: Start Local Server');
            await notificationShown(page, `the local server runs at http://127.0.0.1:${userPort}/v1`, () => workbench!.screenshot('server-untrusted-started'));
            assert.equal((await curl([`http://127.0.0.1:${userPort}/v1/models`])).status, 401);
            await assert.rejects(curl([`http://127.0.0.1:${folderPort}/v1/models`]), /Failed to connect|Connection refused/);
        } finally {
            fs.rmSync(folder, { recursive: true, force: true });
        }
    });
});
