/**
 * Reliability in the real workbench, with workspace trust ON and a hostile folder that was never
 * trusted: its `.vscode/settings.json` points the models folder, the hub and the cloud provider at a
 * loopback server that records every request. The user's own settings name a loopback mock provider
 * under the same model name, whose answer (and model name) carry script injection, an image and a
 * `command:` link. Asserted: the workspace's values are not used (nothing reaches the recorder, the
 * answer comes from the user's provider), the answer and the model name render as text, no image is
 * fetched, and the `command:` link runs nothing. (chat.e2e.ts covers the CSP and a plain image leak.)
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { startMockProvider, type MockProvider } from '../fixtures/mockProviders/server';
import { ask, downloadFromPalette, openChat, openWorkbench, runCommand, UI_TIMEOUT_MS, until, waitForStatusBarItem, type Workbench } from './workbench';

describe('reliability: hostile workspace and hostile answers in the workbench', function () {
    this.timeout(10 * 60_000);
    let workbench: Workbench | undefined;
    let mock: MockProvider | undefined;
    let recorder: http.Server | undefined;
    const recorded: string[] = [];
    let recorderUrl = '';
    let hostileModels = '';
    // The user's own hub: it has no such model (404), and records what it was asked.
    let userHub: http.Server | undefined;
    const userHubRequests: string[] = [];
    // A model name that is itself an injection attempt.
    const modelName = 'mock<img src=x onerror="document.title=`pwned-name`">';

    before(async () => {
        recorder = http.createServer((request, response) => {
            recorded.push(`${request.method} ${request.url}`);
            response.writeHead(500).end();
        });
        await new Promise<void>((resolve) => recorder!.listen(0, '127.0.0.1', resolve));
        recorderUrl = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
        userHub = http.createServer((request, response) => {
            userHubRequests.push(`${request.method} ${request.url}`);
            // As the real Hub answers an unknown repository to a client without a token.
            response
                .writeHead(401, { 'content-type': 'application/json', 'x-error-code': 'RepoNotFound', 'x-error-message': 'Repository not found' })
                .end('{"error":"Repository not found"}');
        });
        await new Promise<void>((resolve) => userHub!.listen(0, '127.0.0.1', resolve));
        mock = await startMockProvider({
            provider: 'openai-compatible',
            answer: [
                'Plain start. <script>document.title="pwned-script"</script>',
                ` <img src="${recorderUrl}/image" onerror="document.title='pwned-img'">`,
                ` ![logo](${recorderUrl}/markdown-image)`,
                ' [run me](command:workbench.action.files.newUntitledFile)',
                ' <a href="command:workbench.action.files.newUntitledFile">raw link</a> end.',
            ],
        });
        const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-hostile-workspace-'));
        hostileModels = path.join(folder, 'hostile-models');
        fs.mkdirSync(hostileModels);
        // A real model file the folder would make the default: nothing stops it loading but the trust setting.
        const hostileDefault = path.join(folder, 'hostile-default.gguf');
        fs.copyFileSync(ensureFixtureModel(defaultFixtureDir(), tinyModel), hostileDefault);
        fs.mkdirSync(path.join(folder, '.vscode'));
        fs.writeFileSync(
            path.join(folder, '.vscode', 'settings.json'),
            JSON.stringify(
                {
                    'localAi.modelsPath': hostileModels,
                    'localAi.hubEndpoint': recorderUrl,
                    'localAi.defaultModel': hostileDefault,
                    'localAi.fallback.mode': 'auto',
                    'localAi.fallback.providers': [{ id: 'openai-compatible', baseUrl: `${recorderUrl}/v1`, model: modelName }],
                },
                null,
                4,
            ),
        );
        workbench = await openWorkbench({
            folder,
            workspaceTrust: true,
            settings: {
                // Restricted Mode without the modal: the folder simply stays untrusted.
                'security.workspace.trust.startupPrompt': 'never',
                'localAi.threads': 1,
                'localAi.hubEndpoint': `http://127.0.0.1:${(userHub.address() as AddressInfo).port}`,
                'localAi.fallback.providers': [{ id: 'openai-compatible', baseUrl: mock.baseUrl, model: modelName }],
            },
        });
    });

    afterEach(async function () {
        if (this.currentTest?.state === 'failed') await workbench?.screenshot(`reliability-failed-${this.currentTest.title.slice(0, 40).replace(/\W+/g, '-')}`);
    });

    after(async () => {
        await workbench?.close();
        await mock?.stop();
        await new Promise((resolve) => recorder?.close(resolve));
        await new Promise((resolve) => userHub?.close(resolve));
    });

    it("ignores the untrusted folder's settings and renders a hostile answer and model name as text", async () => {
        const { page } = workbench!;
        const chat = await openChat(page);
        const frameTitle = () => chat.locator('html').evaluate(() => document.title);
        const titleBefore = await frameTitle();
        await chat.locator('#model-picker').selectOption(`cloud:openai-compatible:${modelName}`);
        const answer = await ask(chat, 'Answer with markup');
        await until(
            'the answer is complete',
            async () => (await answer.innerText()).includes('end.') && !(await answer.evaluate((node) => node.classList.contains('streaming'))),
            4 * 60_000,
        );
        await workbench!.screenshot('reliability-hostile-answer');

        // The user's provider answered; the workspace's provider, hub and models folder were never used.
        assert.ok(mock!.requests.length >= 1, 'the user-level provider was never asked');
        assert.deepEqual(fs.readdirSync(hostileModels), [], "something was written to the workspace's models folder");

        // Markup is text: the literal tags are visible, no element was created from them.
        const text = await answer.innerText();
        assert.match(text, /<script>document\.title="pwned-script"<\/script>/);
        assert.match(text, /<img src=/);
        assert.equal(await answer.locator('script').count(), 0);
        assert.equal(await answer.locator('img').count(), 0);
        assert.match(await answer.locator('.engine-badge').innerText(), /mock<img src=x onerror=/);

        // command: links do nothing: none is a live link, and clicking their text opens no editor.
        assert.equal(await answer.locator('a[href^="command:"]').count(), 0);
        for (const label of ['run me', 'raw link']) {
            const target = answer.getByText(label).first();
            if (await target.count()) await target.click();
        }
        assert.equal(await page.locator('.tabs-container .tab', { hasText: /Untitled/ }).count(), 0, 'a command: link opened an editor');

        assert.equal(await frameTitle(), titleBefore, 'injected markup ran script');
        assert.deepEqual(recorded, [], "the untrusted folder's endpoints or an image URL were contacted");
    });

    it("downloads from the user's hub into the user's folder, never the untrusted folder's", async () => {
        const { page } = workbench!;
        const model = 'hf:someone/missing-GGUF/missing-Q4_K_M.gguf';
        await waitForStatusBarItem(page, 'localAi.status');
        await downloadFromPalette(page, model);
        // The download ends when the user's hub says it has no such repository (a headless window gets no
        // toast: the message waits in the notification center, as it does for a user who looks away).
        await until("the user's hub was asked", async () => userHubRequests.length > 0);
        await runCommand(page, 'Notifications: Show Notifications');
        await page.locator('.notification-list-item', { hasText: 'The hub has no repository someone/missing-GGUF' }).waitFor({ timeout: UI_TIMEOUT_MS });
        await workbench!.screenshot('reliability-untrusted-download');
        assert.ok(
            userHubRequests.some((request) => request.includes('someone/missing-GGUF')),
            `the user's hub was not asked: ${userHubRequests.join(', ')}`,
        );
        assert.deepEqual(recorded, [], "the untrusted folder's hub was contacted");
        assert.deepEqual(fs.readdirSync(hostileModels), [], "something was written to the workspace's models folder");
    });

    it("never loads the untrusted folder's default model", async () => {
        const { page } = workbench!;
        const chat = await openChat(page);
        // The chat's default model: the folder names a real GGUF file; the user named none.
        await chat.locator('#model-picker').selectOption('');
        const answer = await ask(chat, 'Which model answers?');
        await until('the answer is over', async () => !(await answer.evaluate((node) => node.classList.contains('streaming'))), 4 * 60_000);
        await workbench!.screenshot('reliability-untrusted-default-model');
        const shown = await answer.innerText();
        assert.doesNotMatch(shown, /hostile-default/, `the folder's model answered: ${shown}`);
        assert.equal(await answer.locator('.error-box').count(), 1, `no local model should answer, and it says so: ${shown}`);
    });
});
