/**
 * What the user is asked when a conversation would leave the machine, in the real workbench: no local
 * model is installed, fallback is `ask`, and two loopback providers are configured (an OpenAI-compatible
 * team server, then Ollama). The modal names the provider and the model; declining sends nothing,
 * allowing sends to exactly that provider. A provider that refuses its key (401) is reported with an
 * offer to set a new one, while the chain moves on to the next provider; the key set from that offer
 * goes with the next request.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { startMockProvider, type MockMode, type MockProvider } from '../fixtures/mockProviders/server';
import { ask, openChat, openWorkbench, runCommand, UI_TIMEOUT_MS, until, type Workbench } from './workbench';

const NEW_KEY = 'sk-team-after-401-7a6b5c4d';

/**
 * The modal dialog asking to send the conversation to `model` at `provider`, once it is shown. Found by
 * its question: when one provider fails, the dialog for the next may replace it at once.
 */
async function consentDialog(page: Page, model: string, provider: string): Promise<Locator> {
    const question = `No local model is installed yet. Send this conversation to ${model} at ${provider}?`;
    const dialog = page.locator('.monaco-dialog-box').filter({ has: page.locator('.dialog-message-text', { hasText: question }) });
    await dialog.waitFor({ timeout: UI_TIMEOUT_MS });
    assert.equal((await dialog.locator('.dialog-message-text').innerText()).trim(), question);
    assert.match(await dialog.locator('.dialog-message-detail').innerText(), /leaves this machine/);
    return dialog;
}

/** Clicks a button of the dialog and waits until that dialog is gone. */
async function answerDialog(dialog: Locator, button: string): Promise<void> {
    await dialog.locator('.dialog-buttons .monaco-button', { hasText: button }).click();
    await dialog.waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
}

/** Resolves once the answer's turn stops streaming. */
async function finished(answer: Locator): Promise<void> {
    await until('the answer is complete', async () => !(await answer.evaluate((node) => node.classList.contains('streaming'))));
}

describe('Cloud fallback prompts in the workbench (mode ask)', function () {
    this.timeout(10 * 60_000);
    let workbench: Workbench | undefined;
    let team: MockProvider | undefined;
    let ollama: MockProvider | undefined;
    let teamPort = 0;

    /** (Re)starts the team server on its port, failing or answering as `mode` says. */
    async function serveTeam(mode: MockMode | MockMode[]): Promise<MockProvider> {
        await team?.stop();
        team = await startMockProvider({ provider: 'openai-compatible', mode, port: teamPort, answer: ['Answered by ', 'the team server.'] });
        teamPort = Number(new URL(team.url).port);
        return team;
    }

    before(async () => {
        await serveTeam('ok');
        ollama = await startMockProvider({ provider: 'ollama', answer: ['Answered by ', 'Ollama.'] });
        const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-fallback-ask-e2e-'));
        const emptyModels = path.join(scratch, 'models');
        fs.mkdirSync(emptyModels);
        workbench = await openWorkbench({
            settings: {
                'localAi.modelsPath': emptyModels,
                'localAi.fallback.mode': 'ask',
                'localAi.fallback.providers': [
                    { id: 'openai-compatible', baseUrl: team!.baseUrl, model: 'team-model' },
                    { id: 'ollama', baseUrl: ollama.url, model: 'ollama-model' },
                ],
            },
            env: { LOCAL_AI_MODELS_PATH: emptyModels },
        });
    });

    afterEach(async function () {
        if (this.currentTest?.state === 'failed')
            await workbench?.screenshot(`fallback-ask-failed-${this.currentTest.title.slice(0, 20).replace(/\W+/g, '-')}`);
    });

    after(async () => {
        await workbench?.close();
        await team?.stop();
        await ollama?.stop();
    });

    it('declining the dialog sends nothing to any provider, and the chat says it was declined', async () => {
        const { page } = workbench!;
        const server = await serveTeam('ok');
        const ollamaBefore = ollama!.requests.length;
        const chat = await openChat(page);
        const answer = await ask(chat, 'What does /\\d+/ match?');
        const dialog = await consentDialog(page, 'team-model', 'OpenAI-compatible server');
        await workbench!.screenshot('fallback-ask-dialog');
        await answerDialog(dialog, 'Cancel');

        await finished(answer);
        assert.equal(server.requests.length, 0, 'the declined provider received the conversation');
        assert.equal(ollama!.requests.length, ollamaBefore, 'the next provider received the conversation');
        assert.match(
            await answer.locator('.error-box').innerText(),
            /No local model is installed yet\. Sending the conversation to OpenAI-compatible server was declined\./,
        );
    });

    it('allowing it sends the conversation to that provider, whose answer carries the cloud badge', async () => {
        const { page } = workbench!;
        const server = await serveTeam('ok');
        const ollamaBefore = ollama!.requests.length;
        const chat = await openChat(page);
        const answer = await ask(chat, 'What does /\\w+/ match?');
        await answerDialog(await consentDialog(page, 'team-model', 'OpenAI-compatible server'), 'Send to OpenAI-compatible server');
        await finished(answer);

        assert.equal((await answer.locator('.markdown-body').innerText()).trim(), 'Answered by the team server.');
        assert.match(await answer.locator('.engine-badge').innerText(), /team-model · cloud · openai-compatible/);
        assert.equal(server.requests.length, 1);
        const sent = (server.requests[0].body as { messages: { content: string }[] }).messages;
        assert.equal(sent.at(-1)?.content, 'What does /\\w+/ match?');
        assert.equal(ollama!.requests.length, ollamaBefore, 'only the allowed provider is asked');
    });

    it('a refused key (401) offers to set a new one while the chain moves on; the new key goes with the next request', async () => {
        const { page } = workbench!;
        // 401 to the first request, then answers.
        const server = await serveTeam(['unauthorized']);
        const ollamaBefore = ollama!.requests.length;
        const chat = await openChat(page);
        const first = await ask(chat, 'Who answers now?');
        await answerDialog(await consentDialog(page, 'team-model', 'OpenAI-compatible server'), 'Send to OpenAI-compatible server');
        // The chain moves on: the next provider is asked about in turn, and answers.
        await answerDialog(await consentDialog(page, 'ollama-model', 'Ollama'), 'Send to Ollama');
        await finished(first);
        assert.equal((await first.locator('.markdown-body').innerText()).trim(), 'Answered by Ollama.');
        assert.match(await first.locator('.engine-badge').innerText(), /ollama-model · cloud · ollama/);
        assert.equal(server.requests.length, 1);
        assert.equal(ollama!.requests.length, ollamaBefore + 1);

        // The offer waits in the notification center (a toast may already be hidden).
        await runCommand(page, 'Notifications: Show Notifications');
        const offer = page.locator('.notifications-center .notification-list-item', { hasText: 'OpenAI-compatible server refused the API key' });
        await offer.waitFor({ timeout: UI_TIMEOUT_MS });
        await workbench!.screenshot('fallback-key-offer');
        await offer.locator('.monaco-button', { hasText: 'Set API Key' }).click();
        const keyBox = page.locator('.quick-input-widget .quick-input-box input');
        await until('the key prompt is shown', async () => (await keyBox.getAttribute('type')) === 'password');
        assert.match(await page.locator('.quick-input-widget').innerText(), /OpenAI-compatible server refused the previous key\./);
        await keyBox.fill(NEW_KEY);
        await keyBox.press('Enter');
        await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
        await page
            .locator('.notifications-center .notification-list-item', { hasText: 'OpenAI-compatible server key is stored' })
            .waitFor({ timeout: UI_TIMEOUT_MS });
        await runCommand(page, 'Notifications: Hide Notifications');

        const second = await ask(chat, 'And now?');
        await answerDialog(await consentDialog(page, 'team-model', 'OpenAI-compatible server'), 'Send to OpenAI-compatible server');
        await finished(second);
        assert.equal((await second.locator('.markdown-body').innerText()).trim(), 'Answered by the team server.');
        assert.equal(server.requests.length, 2);
        assert.equal(server.requests[1].apiKey, NEW_KEY, 'the key set from the offer did not reach the provider');

        // Leave no key behind for the tests that follow in this workbench.
        await runCommand(page, 'Local AI: Clear Cloud API Key');
        await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'OpenAI-compatible server' }).first().click();
        await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
    });
});
