/**
 * The chat as a user drives it in the real workbench: a question in the Chat view streams tokens from
 * a generated local model, Escape stops it mid-answer, a code block goes into the editor with one
 * click, the inline chat proposes an edit that is accepted then undone, and a markdown image in an
 * answer never reaches the server it points at. The cloud answer comes from a loopback
 * OpenAI-compatible mock, so it is exactly the text the test needs.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { benchModel, defaultFixtureDir, ensureFixtureModel } from '../fixtures/gguf/model';
import { startMockProvider, type MockProvider } from '../fixtures/mockProviders/server';
import { ask, chatFrame, openChat, openWorkbench, UI_TIMEOUT_MS, until, type Workbench } from './workbench';

/** A generated model answers slowly on two cores; generous, never asserted. */
const ANSWER_TIMEOUT_MS = 4 * 60_000;
const SAMPLE = 'export function add(a: number, b: number): number {\n    return a + b;\n}\n';

/** The text of the editor that has the focus (visible lines; enough for the small sample). */
async function editorText(page: Page): Promise<string> {
    const text = await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().innerText();
    return text.replace(/\u00a0/g, ' ');
}

/** Quick Open (Ctrl+P) sample.ts, which gives its editor the focus. */
async function openSample(page: Page): Promise<void> {
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget .quick-input-box input').fill('sample.ts');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'sample.ts' }).first().click();
    await until('sample.ts has the focus', async () => (await editorText(page)).includes('return a + b;'));
}

/** Shows the editor whose tab is `name` and returns its text. */
async function editorTextOf(page: Page, name: string): Promise<string> {
    await page.locator('.tabs-container .tab', { hasText: name }).first().click();
    return editorText(page);
}

describe('Chat in the workbench', function () {
    this.timeout(15 * 60_000);
    let workbench: Workbench | undefined;
    let mock: MockProvider | undefined;
    let leakServer: http.Server | undefined;
    const leaks: string[] = [];

    before(async () => {
        const modelPath = ensureFixtureModel(defaultFixtureDir(), benchModel);
        leakServer = http.createServer((request, response) => {
            leaks.push(`${request.method} ${request.url}`);
            response.end();
        });
        await new Promise<void>((resolve) => leakServer!.listen(0, '127.0.0.1', resolve));
        const leakPort = (leakServer.address() as AddressInfo).port;
        mock = await startMockProvider({
            provider: 'openai-compatible',
            answer: ['Here is the fix. ', `![x](http://127.0.0.1:${leakPort}/leak?chat=secret)`, '\n\n```ts\n', 'const inserted = 42;\n', '```\n'],
        });
        const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-chat-e2e-'));
        fs.writeFileSync(path.join(folder, 'sample.ts'), SAMPLE);
        workbench = await openWorkbench({
            folder,
            settings: {
                'localAi.models': [{ source: modelPath, name: 'Bench fixture' }],
                'localAi.defaultModel': modelPath,
                'localAi.threads': 1,
                'localAi.contextSize': 1024,
                'localAi.fallback.providers': [{ id: 'openai-compatible', baseUrl: mock.baseUrl, model: 'mock-model' }],
            },
        });
    });

    afterEach(async function () {
        // What the user would have seen when a step failed.
        if (this.currentTest?.state === 'failed') await workbench?.screenshot(`chat-failed-${this.currentTest.title.slice(0, 40).replace(/\W+/g, '-')}`);
    });

    after(async () => {
        await workbench?.close();
        await mock?.stop();
        await new Promise((resolve) => leakServer?.close(resolve));
    });

    it('streams an answer from the local model into the Chat view, with the engine badge', async () => {
        const { page } = workbench!;
        const chat = await openChat(page);
        const csp = await chat.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
        assert.match(csp ?? '', /default-src 'none'/);
        assert.match(csp ?? '', /script-src 'nonce-[^']+'/);
        // The codicons that the build copies from @vscode/codicons reach the page: its buttons show icons, not empty boxes.
        await until('the codicon font is loaded in the chat', () =>
            chat.locator('body').evaluate(() => [...document.fonts].some((face) => face.family.replace(/"/g, '') === 'codicon' && face.status === 'loaded')),
        );
        // What the page receives, beside the page's own handling: the text pieces and the last state.
        await chat.locator('body').evaluate(() => {
            const received = { pieces: [] as string[], answer: undefined as string | undefined };
            (window as unknown as { received: typeof received }).received = received;
            window.addEventListener('message', (event: MessageEvent<{ type?: string; text?: string; state?: { turns: { content: string }[] } }>) => {
                if (event.data?.type === 'chat/delta') received.pieces.push(event.data.text ?? '');
                if (event.data?.type === 'state') received.answer = event.data.state?.turns.at(-1)?.content;
            });
        });
        const answer = await ask(chat, 'Tell me about adding numbers');
        // Streaming: the text is seen growing while the answer is still marked as streaming. The answer's
        // own text only: until the first token it shows a "Thinking…" placeholder (which, counted as text,
        // made this test see 9, 6, 122 characters in one soak run).
        const lengths: number[] = [];
        await until(
            'the answer has streamed in several steps',
            async () => {
                const { streaming, length } = await answer.evaluate((node) => {
                    const body = node.querySelector('.markdown-body')!.cloneNode(true) as HTMLElement;
                    body.querySelector('.thinking')?.remove();
                    return { streaming: node.classList.contains('streaming'), length: body.textContent!.trim().length };
                });
                if (streaming && length > 0 && length !== lengths.at(-1)) lengths.push(length);
                return lengths.length >= 3 || !streaming;
            },
            ANSWER_TIMEOUT_MS,
        );
        assert.ok(lengths.length >= 2, `saw the streaming text at lengths ${lengths.join(', ')}`);
        await workbench!.screenshot('chat-streaming');
        await until('the answer is complete', async () => !(await answer.evaluate((node) => node.classList.contains('streaming'))), ANSWER_TIMEOUT_MS);
        const badge = await answer.locator('.engine-badge').innerText();
        assert.match(badge, /Bench fixture · (CPU|GPU)/);
        assert.ok(
            lengths.every((length, i) => i === 0 || length > lengths[i - 1]),
            `text shrank while streaming: ${lengths.join(', ')}`,
        );
        // Nothing was lost or reordered on the way: the pieces, in order, are the whole answer.
        const received = await chat.locator('body').evaluate(() => (window as unknown as { received: { pieces: string[]; answer?: string } }).received);
        assert.ok(received.pieces.length >= 3, `the answer came in ${received.pieces.length} pieces`);
        assert.ok(received.answer, 'no state carried the finished answer');
        assert.equal(received.pieces.join(''), received.answer);
    });

    it('stops mid-answer with Escape', async () => {
        const { page } = workbench!;
        const chat = chatFrame(page);
        const answer = await ask(chat, 'Write a very long story');
        await until('the first tokens arrive', async () => (await answer.locator('.markdown-body').innerText()).trim().length > 0, ANSWER_TIMEOUT_MS);
        await chat.locator('#question').press('Escape');
        await until('the answer is marked stopped', async () => answer.evaluate((node) => node.classList.contains('stopped')));
        assert.equal(await chat.locator('button[data-action="stop"]').isHidden(), true);
        assert.equal(await chat.locator('button[data-action="send"]').isVisible(), true);
        await workbench!.screenshot('chat-stopped');
    });

    it('renders a cloud answer without fetching its image, and inserts its code block at the cursor', async () => {
        const { page } = workbench!;
        await openSample(page);
        await page.keyboard.press('Control+End');

        const chat = chatFrame(page);
        await chat.locator('#model-picker').selectOption('cloud:openai-compatible:mock-model');
        const answer = await ask(chat, 'Fix it');
        const block = answer.locator('.code-block');
        await block.waitFor({ timeout: ANSWER_TIMEOUT_MS });
        await until('the answer is complete', async () => !(await answer.evaluate((node) => node.classList.contains('streaming'))));
        assert.match(await answer.locator('.engine-badge').innerText(), /mock-model · cloud · openai-compatible/);
        assert.match(await answer.locator('.blocked-image').innerText(), /\[image: x\]/);
        assert.equal(await answer.locator('img').count(), 0);

        await block.locator('button[data-action="insert"]').click();
        await until('the code is in the editor', async () => (await editorText(page)).includes('const inserted = 42;'));
        await workbench!.screenshot('chat-inserted-code');
        assert.deepEqual(leaks, [], "the answer's image was fetched");
        assert.ok(mock!.requests.length >= 1, 'the mock provider was never asked');
    });

    it('runs the inline chat on a selection: the proposal streams into a diff, Accept applies it, one Undo restores', async () => {
        const { page } = workbench!;
        await openSample(page);
        const original = await editorText(page);
        // Click into the line to edit, then select it.
        await page.locator('.editor-group-container.active .view-line', { hasText: 'return a + b;' }).click();
        await page.keyboard.press('End');
        await page.keyboard.press('Shift+Home');
        await page.keyboard.press('Control+Alt+I');
        const input = page.locator('.quick-input-widget .quick-input-box input');
        await input.waitFor({ timeout: UI_TIMEOUT_MS });
        await input.fill('multiply instead');
        await input.press('Enter');

        // The editor title offers Accept once the whole proposal has streamed in (Reject all along).
        await page.locator('.editor-actions [aria-label*="Reject Inline Edit"]').first().waitFor({ timeout: UI_TIMEOUT_MS });
        const accept = page.locator('.editor-actions [aria-label*="Accept Inline Edit"]').first();
        await accept.waitFor({ timeout: ANSWER_TIMEOUT_MS });
        // The diff editor may still be opening when Accept appears: wait for it rather than look once.
        await page
            .locator('.monaco-diff-editor')
            .first()
            .waitFor({ timeout: UI_TIMEOUT_MS })
            .catch(() => undefined);
        assert.ok((await page.locator('.monaco-diff-editor').count()) > 0, 'the proposal is not shown as a diff');
        await workbench!.screenshot('chat-inline-review');
        // The file itself is untouched until Accept (the buttons stay on its editor's title too).
        assert.equal(await editorTextOf(page, 'sample.ts'), original, 'the file changed before Accept');
        await accept.click();
        await until(
            'the diff is closed and the edit applied',
            async () => (await page.locator('.tabs-container .tab', { hasText: 'Inline Chat' }).count()) === 0 && (await editorText(page)) !== original,
        );
        await workbench!.screenshot('chat-inline-accepted');

        await page.keyboard.press('Control+Z');
        await until('one undo restores the file', async () => (await editorText(page)) === original);
    });
});
