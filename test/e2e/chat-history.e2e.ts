/**
 * The chat's history and answer buttons as a user clicks them in the real workbench, with the tiny
 * generated local model: conversations come back after Developer: Reload Window, a past one opens from
 * the history panel and a deleted one stays gone, Regenerate replaces the answer in place, the context
 * gauge reads out of the model's context size, and Copy on a code block puts exactly its code on the
 * clipboard. The code block comes from a loopback OpenAI-compatible mock (the tiny model writes no
 * code), so its text is known to the character.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { startMockProvider, type MockProvider } from '../fixtures/mockProviders/server';
import { ask, openChat, openWorkbench, runCommand, UI_TIMEOUT_MS, until, type Workbench } from './workbench';

/** Generous for a shared two-core machine; never asserted. */
const ANSWER_TIMEOUT_MS = 4 * 60_000;
/** Leading indentation, a tab, markup, entities and quotes: what a careless copy trims or escapes. */
const CODE = '  <div class="greeting">\n\t&amp; "hello" \'world\'\n  </div>';

/** The smoke-test driver VS Code installs on window with --enable-smoke-test-driver. */
interface WindowWithDriver {
    driver?: { whenWorkbenchRestored(): Promise<void> };
}

/** Asks in a new conversation with the model picked, and returns the answer's text once it is complete. */
async function askInNewChat(chat: FrameLocator, question: string, model = ''): Promise<{ answer: Locator; text: string }> {
    await chat.locator('button[data-action="new-chat"]').click();
    await until('the new chat is empty', async () => (await chat.locator('.turn').count()) === 0);
    await chat.locator('#model-picker').selectOption(model);
    const answer = await ask(chat, question);
    await until(
        `the answer to "${question}" is complete`,
        async () => !(await answer.evaluate((node) => node.classList.contains('streaming'))),
        ANSWER_TIMEOUT_MS,
    );
    assert.equal(await answer.locator('.error-box').count(), 0, `the answer to "${question}" failed`);
    const text = await answer.locator('.markdown-body').innerText();
    assert.ok(text.trim().length > 0, `no answer to "${question}"`);
    return { answer, text };
}

/** The question and answer the chat shows. */
async function shown(chat: FrameLocator): Promise<{ question: string; answer: string }[]> {
    const questions = await chat.locator('.turn.user .user-text').allInnerTexts();
    const answers = await chat.locator('.turn.assistant .markdown-body').allInnerTexts();
    return questions.map((question, i) => ({ question, answer: answers[i] }));
}

/** The titles in the history panel, which is opened for the look and left open. */
async function historyTitles(chat: FrameLocator): Promise<string[]> {
    const panel = chat.locator('.history');
    if (await panel.isHidden()) await chat.locator('button[data-action="toggle-history"]').click();
    await panel.waitFor({ state: 'visible' });
    return chat.locator('.history-row .history-open').allInnerTexts();
}

/** Opens the conversation titled `title` from the history panel. */
async function openFromHistory(chat: FrameLocator, title: string): Promise<void> {
    assert.ok((await historyTitles(chat)).includes(title), `"${title}" is not in the history`);
    await chat.locator('.history-row .history-open', { hasText: title }).click();
    await until(`"${title}" is shown`, async () => (await shown(chat))[0]?.question === title);
}

/** Deletes the conversation titled `title` with its trash button in the history panel. */
async function deleteFromHistory(chat: FrameLocator, title: string): Promise<void> {
    assert.ok((await historyTitles(chat)).includes(title), `"${title}" is not in the history`);
    await chat.locator('.history-row', { hasText: title }).locator('button[data-action="delete-conversation"]').click();
    await until(`"${title}" leaves the history`, async () => !(await historyTitles(chat)).includes(title));
}

async function reloadWindow(page: Page): Promise<void> {
    // Wait for the new page, not the old one about to go: the driver check would pass on the old one.
    const reloaded = page.waitForEvent('load', { timeout: UI_TIMEOUT_MS });
    await runCommand(page, 'Developer: Reload Window');
    await reloaded;
    await page.waitForFunction(() => !!(window as WindowWithDriver).driver, undefined, { timeout: UI_TIMEOUT_MS });
    await page.evaluate(() => (window as WindowWithDriver).driver!.whenWorkbenchRestored());
}

describe('Chat history and answer buttons in the workbench', function () {
    this.timeout(15 * 60_000);
    let workbench: Workbench | undefined;
    let mock: MockProvider | undefined;

    before(async () => {
        const modelPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
        mock = await startMockProvider({ provider: 'openai-compatible', answer: ['Here it is:\n\n```html\n', `${CODE}\n`, '```\n'] });
        const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-chat-history-e2e-'));
        workbench = await openWorkbench({
            folder,
            settings: {
                'localAi.models': [{ source: modelPath, name: 'Tiny fixture' }],
                'localAi.defaultModel': modelPath,
                'localAi.threads': 1,
                'localAi.contextSize': 1024,
                'localAi.fallback.providers': [{ id: 'openai-compatible', baseUrl: mock.baseUrl, model: 'mock-model' }],
            },
        });
        // VS Code's web clipboard is the browser's: let the page write it, and the test read it back.
        await workbench.page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    });

    afterEach(async function () {
        // What the user would have seen when a step failed.
        if (this.currentTest?.state === 'failed')
            await workbench?.screenshot(`chat-history-failed-${this.currentTest.title.slice(0, 40).replace(/\W+/g, '-')}`);
    });

    after(async () => {
        await workbench?.close();
        await mock?.stop();
    });

    it('keeps the conversations across a window reload; a past one opens from the history, a deleted one stays gone', async () => {
        const { page } = workbench!;
        let chat = await openChat(page);
        const closures = await askInNewChat(chat, 'How do closures work?');
        const recursion = await askInNewChat(chat, 'What is recursion?');
        await askInNewChat(chat, 'Forget this one');

        assert.deepEqual((await historyTitles(chat)).slice(0, 3), ['Forget this one', 'What is recursion?', 'How do closures work?']);
        await openFromHistory(chat, 'How do closures work?');
        assert.deepEqual(await shown(chat), [{ question: 'How do closures work?', answer: closures.text }]);
        // Deleted last, right before the reload: no later change saves the history for it.
        await deleteFromHistory(chat, 'Forget this one');
        assert.deepEqual(await shown(chat), [{ question: 'How do closures work?', answer: closures.text }], 'deleting another chat changed the open one');
        await workbench!.screenshot('chat-history-before-reload');

        await reloadWindow(page);
        chat = await openChat(page);
        // The conversation that was open is shown again, answer and all.
        await until('the conversation is shown after the reload', async () => (await shown(chat))[0]?.question === 'How do closures work?');
        assert.deepEqual(await shown(chat), [{ question: 'How do closures work?', answer: closures.text }]);
        // The view may draw its own saved copy first; opening another chat needs the extension's history.
        await openFromHistory(chat, 'What is recursion?');
        assert.deepEqual(await shown(chat), [{ question: 'What is recursion?', answer: recursion.text }]);
        const titles = await historyTitles(chat);
        assert.ok(titles.includes('How do closures work?') && titles.includes('What is recursion?'), `history after the reload: ${titles.join(', ')}`);
        assert.ok(!titles.includes('Forget this one'), 'the deleted chat came back after the reload');
        await workbench!.screenshot('chat-history-after-reload');
    });

    it("Regenerate replaces the last answer with a new one, and the context gauge reads out of the model's context", async () => {
        const { page } = workbench!;
        const chat = await openChat(page);
        const { answer, text } = await askInNewChat(chat, 'Name a sorting algorithm');
        // The gauge is counted once the answer is complete (a new chat hides it until then).
        await chat.locator('.gauge').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
        const gauge = await chat.locator('.gauge-text').innerText();
        const [, tokens, size] = /^([\d,]+) \/ ([\d,]+) tokens$/.exec(gauge) ?? [];
        assert.equal(size, '1,024', `the gauge reads "${gauge}"`);
        assert.ok(Number(tokens.replace(/,/g, '')) > 0, `the gauge reads "${gauge}"`);

        const oldId = await answer.getAttribute('data-turn');
        await answer.locator('button[data-action="regenerate"]').click();
        const regenerated = chat.locator('.turn.assistant').last();
        await until('a new answer replaces the old one', async () => (await regenerated.getAttribute('data-turn')) !== oldId);
        await until('the new answer is complete', async () => !(await regenerated.evaluate((node) => node.classList.contains('streaming'))), ANSWER_TIMEOUT_MS);
        const shownNow = await shown(chat);
        assert.equal(shownNow.length, 1, 'the old answer is still shown beside the new one');
        assert.equal(await chat.locator('.turn.assistant').count(), 1, 'two answers to one question');
        assert.equal(shownNow[0].question, 'Name a sorting algorithm');
        assert.ok(shownNow[0].answer.trim().length > 0, 'the new answer is empty');
        assert.notEqual(shownNow[0].answer, text, 'the answer did not change');
        await workbench!.screenshot('chat-regenerated');
    });

    it('Copy on a code block puts exactly its code on the clipboard', async () => {
        const { page } = workbench!;
        const chat = await openChat(page);
        const { answer } = await askInNewChat(chat, 'Show me some markup', 'cloud:openai-compatible:mock-model');
        await answer.locator('.code-block button[data-action="copy"]').click();
        let copied = '';
        await until(
            'the clipboard holds the code',
            async () => {
                copied = await page.evaluate(() => navigator.clipboard.readText());
                return copied === CODE;
            },
            UI_TIMEOUT_MS,
        ).catch(() => assert.equal(copied, CODE, 'the clipboard does not hold the code block'));
    });
});
