/**
 * Answers that break halfway, as a user sees them in the real workbench. The tiny generated local model
 * is streaming when its sidecar is killed with SIGKILL: the partial answer stays on screen marked
 * "Interrupted:" with a Retry button, still so after Developer: Reload Window, and Retry then answers
 * in full. A cloud answer (a loopback OpenAI-compatible mock) whose connection is cut after its first
 * piece shows the same mark and Retry, and Retry gives the whole answer once the provider is back.
 */
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { startMockProvider, type MockProvider } from '../fixtures/mockProviders/server';
import { ask, openChat, openWorkbench, runCommand, sidecarPids, UI_TIMEOUT_MS, until, type Workbench } from './workbench';

/** Generous for a shared two-core machine; never asserted. */
const ANSWER_TIMEOUT_MS = 4 * 60_000;
const CLOUD_MODEL = 'cloud:openai-compatible:mock-model';
const CLOUD_ANSWER = ['Partial', ' answer,', ' then the rest', '.'];

/** The smoke-test driver VS Code installs on window with --enable-smoke-test-driver. */
interface WindowWithDriver {
    driver?: { whenWorkbenchRestored(): Promise<void> };
}

const isStreaming = (answer: Locator) => answer.evaluate((node) => node.classList.contains('streaming'));

/**
 * Waits until the last answer shows its first words, polled at every frame inside the chat's page so
 * that a kill right after it lands while the answer still streams; fails if the answer ended first.
 */
async function partlyAnswered(chat: FrameLocator): Promise<void> {
    const frame = await (await chat.locator('#messages').elementHandle())?.ownerFrame();
    assert.ok(frame, 'the chat page is gone');
    const seen = await frame.waitForFunction(
        () => {
            const last = [...document.querySelectorAll('.turn.assistant')].at(-1);
            if (!last) return false;
            if (!last.classList.contains('streaming')) return 'ended';
            // "Thinking…" stands in the answer's place until its first words arrive.
            const body = last.querySelector('.markdown-body');
            return !body?.querySelector('.thinking') && (body?.textContent ?? '').trim().length > 0 ? 'streaming' : false;
        },
        undefined,
        { polling: 'raf', timeout: ANSWER_TIMEOUT_MS },
    );
    assert.equal(await seen.jsonValue(), 'streaming', 'the answer ended before its first words could be seen streaming');
}

/** The sidecar process of this workbench, once there is exactly one (as test/e2e/sidecar.e2e.ts finds it). */
async function theSidecar(tag: string): Promise<number> {
    let pids: number[] = [];
    await until('exactly one sidecar process runs', async () => {
        pids = sidecarPids(tag);
        return pids.length === 1;
    });
    return pids[0];
}

/** Checks that `answer` shows `partial` marked as interrupted, with Retry, and returns what its error box says. */
async function assertInterrupted(answer: Locator, partial: string): Promise<string> {
    await until('the answer shows its error', async () => !(await isStreaming(answer)));
    assert.ok(partial.trim().length > 0, 'no partial text to keep');
    assert.ok(await answer.evaluate((node) => node.classList.contains('interrupted')), 'the partial answer is not marked interrupted');
    assert.equal((await answer.locator('.markdown-body').innerText()).trim(), partial.trim(), 'the text shown before the break was not kept');
    const box = answer.locator('.error-box');
    const said = await box.innerText();
    assert.match(said, /^Interrupted:/);
    assert.equal(await box.locator('button[data-error-action="retry"]').innerText(), 'Retry', `the error box offers: ${said}`);
    return said;
}

/** Clicks Retry and returns the answer that replaces the interrupted one, once it is complete. */
async function retry(chat: FrameLocator, interrupted: Locator): Promise<Locator> {
    const oldId = await interrupted.getAttribute('data-turn');
    await interrupted.locator('button[data-error-action="retry"]').click();
    const answer = chat.locator('.turn.assistant').last();
    await until('a new answer replaces the interrupted one', async () => (await answer.getAttribute('data-turn')) !== oldId);
    await until('the new answer is complete', async () => !(await isStreaming(answer)), ANSWER_TIMEOUT_MS);
    assert.equal(await answer.locator('.error-box').count(), 0, `Retry failed: ${await answer.innerText()}`);
    assert.equal(await chat.locator('.turn.interrupted').count(), 0, 'the interrupted answer is still shown');
    return answer;
}

async function reloadWindow(page: Page): Promise<void> {
    // Wait for the new page, not the old one about to go: the driver check would pass on the old one.
    const reloaded = page.waitForEvent('load', { timeout: UI_TIMEOUT_MS });
    await runCommand(page, 'Developer: Reload Window');
    await reloaded;
    await page.waitForFunction(() => !!(window as WindowWithDriver).driver, undefined, { timeout: UI_TIMEOUT_MS });
    await page.evaluate(() => (window as WindowWithDriver).driver!.whenWorkbenchRestored());
}

/** The questions shown, in order. */
const questions = (chat: FrameLocator) => chat.locator('.turn.user .user-text').allInnerTexts();

async function newChat(chat: FrameLocator): Promise<void> {
    await chat.locator('button[data-action="new-chat"]').click();
    await until('the new chat is empty', async () => (await chat.locator('.turn').count()) === 0);
}

/** Opens the conversation whose question is `question` from the history panel. */
async function openFromHistory(chat: FrameLocator, question: string): Promise<void> {
    const panel = chat.locator('.history');
    if (await panel.isHidden()) await chat.locator('button[data-action="toggle-history"]').click();
    await chat.locator('.history-row .history-open', { hasText: question }).click();
    await until(`"${question}" is shown`, async () => (await questions(chat)).join() === question && (await chat.locator('.turn.assistant').count()) === 1);
}

describe('Chat answers that break halfway, in the workbench', function () {
    this.timeout(15 * 60_000);
    const tag = randomUUID();
    let workbench: Workbench | undefined;
    let mock: MockProvider | undefined;

    before(async () => {
        const modelPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
        mock = await startMockProvider({ provider: 'openai-compatible', mode: 'stallAfterFirst', answer: CLOUD_ANSWER });
        workbench = await openWorkbench({
            folder: fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-chat-crash-e2e-')),
            settings: {
                'localAi.models': [{ source: modelPath, name: 'Tiny fixture' }],
                'localAi.defaultModel': modelPath,
                'localAi.threads': 1,
                'localAi.contextSize': 1024,
                'localAi.fallback.providers': [{ id: 'openai-compatible', baseUrl: mock.baseUrl, model: 'mock-model' }],
            },
            env: { LOCAL_AI_E2E_TAG: tag },
        });
    });

    afterEach(async function () {
        // What the user would have seen when a step failed.
        if (this.currentTest?.state === 'failed') await workbench?.screenshot(`chat-crash-failed-${this.currentTest.title.slice(0, 40).replace(/\W+/g, '-')}`);
    });

    after(async () => {
        await workbench?.close();
        await mock?.stop();
    });

    it('keeps a local answer cut off by kill -9 of the sidecar, marked, across a window reload; Retry answers in full', async () => {
        const { page } = workbench!;
        let chat = await openChat(page);
        const first = await ask(chat, 'What is a closure?');
        await until('the first answer is complete', async () => !(await isStreaming(first)), ANSWER_TIMEOUT_MS);
        const firstText = await first.locator('.markdown-body').innerText();

        // In a conversation of its own: a follow-up to a long answer leaves the model little room, and ends too soon to be cut.
        await newChat(chat);
        const pid = await theSidecar(tag);
        const answer = await ask(chat, 'Explain recursion step by step');
        await partlyAnswered(chat);
        process.kill(pid, 'SIGKILL');
        await until('the answer shows its error', async () => !(await isStreaming(answer)));
        const partial = await answer.locator('.markdown-body').innerText();
        const said = await assertInterrupted(answer, partial);
        assert.match(said, /local engine stopped while answering/);
        assert.deepEqual(await questions(chat), ['Explain recursion step by step']);
        await workbench!.screenshot('chat-crash-local-interrupted');

        await reloadWindow(page);
        chat = await openChat(page);
        // The view may draw its own saved copy first: a new chat, then each old one from the history, is the extension's.
        await newChat(chat);
        await openFromHistory(chat, 'What is a closure?');
        assert.equal(await chat.locator('.turn.assistant .markdown-body').innerText(), firstText, 'the other conversation changed');
        await openFromHistory(chat, 'Explain recursion step by step');
        const reloaded = chat.locator('.turn.assistant');
        assert.equal(await assertInterrupted(reloaded, partial), said, 'the error under the answer changed');
        await workbench!.screenshot('chat-crash-local-after-reload');

        const retried = await retry(chat, reloaded);
        assert.ok((await retried.locator('.markdown-body').innerText()).trim().length > 0, 'Retry gave an empty answer');
        assert.deepEqual(await questions(chat), ['Explain recursion step by step']);
        await workbench!.screenshot('chat-crash-local-retried');
    });

    it('keeps a cloud answer whose connection is cut, marked with Retry; Retry gives the whole answer', async () => {
        const { page } = workbench!;
        const chat = await openChat(page);
        await newChat(chat);
        await chat.locator('#model-picker').selectOption(CLOUD_MODEL);
        const answer = await ask(chat, 'Tell me a story');
        await partlyAnswered(chat);
        // Stopping the server closes the connection in the middle of the answer.
        const port = Number(new URL(mock!.url).port);
        await mock!.stop();
        await assertInterrupted(answer, CLOUD_ANSWER[0]);
        await workbench!.screenshot('chat-crash-cloud-interrupted');

        // The provider is back, on the address the settings name.
        mock = await startMockProvider({ provider: 'openai-compatible', port, answer: CLOUD_ANSWER });
        const retried = await retry(chat, answer);
        assert.equal(await retried.locator('.markdown-body').innerText(), CLOUD_ANSWER.join(''));
        assert.deepEqual(await questions(chat), ['Tell me a story']);
        await workbench!.screenshot('chat-crash-cloud-retried');
    });
});
