/**
 * Code completion as a user meets it in the real workbench, from a generated local model with
 * fill-in-the-middle tokens: ghost text appears as they type, Tab accepts it, typing something else
 * dismisses it and the request then in flight is cancelled in the sidecar (its answer in the protocol
 * trace says so), and the status-bar item turns completion off and on again.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import type { CompletionParams, CompletionResult } from '../../src/common/completion';
import { benchCoderModel, defaultFixtureDir, ensureFixtureModel } from '../fixtures/gguf/model';
import { openWorkbench, statusBarText, UI_TIMEOUT_MS, until, type Workbench } from './workbench';

const SAMPLE = 'import os\n\n\ndef main():\n    return 0\n\n\n';
const ITEM = 'localAi.completion';

interface Traced {
    id: number;
    params: CompletionParams;
    result?: CompletionResult;
    error?: string;
}

/** The completion requests in the protocol trace (the Local AI log under the server's data folder), with their answers once logged. */
function tracedCompletions(serverDataDir: string): Traced[] {
    const logs = fs
        .readdirSync(serverDataDir, { recursive: true, encoding: 'utf8' })
        .filter((file) => path.basename(file).endsWith('Local AI.log'))
        .map((file) => path.join(serverDataDir, file));
    const entries = logs.flatMap((log) => fs.readFileSync(log, 'utf8').split(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[\w+\] /m));
    const byId = new Map<number, Traced>();
    entries.forEach((entry, i) => {
        const next = entries[i + 1]?.trimEnd() ?? '';
        const sent = /Sending request 'localAi\/completion\/complete - \((\d+)\)'/.exec(entry);
        if (sent && next.startsWith('Params: '))
            byId.set(Number(sent[1]), { id: Number(sent[1]), params: JSON.parse(next.slice('Params: '.length)) as CompletionParams });
        const received = /Received response 'localAi\/completion\/complete - \((\d+)\)' in \d+ms\.(.*)/.exec(entry);
        const traced = received && byId.get(Number(received[1]));
        if (!traced) return;
        if (received[2].includes('Request failed')) traced.error = received[2].trim();
        else if (next.startsWith('Result: ')) traced.result = JSON.parse(next.slice('Result: '.length)) as CompletionResult;
    });
    return [...byId.values()].sort((a, b) => a.id - b.id);
}

/** The text of the editor that has the focus (visible lines; enough for the small sample). */
async function editorText(page: Page): Promise<string> {
    const text = await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().innerText();
    return text.replace(/\u00a0/g, ' ');
}

/** The ghost text the editor shows now: its part on the cursor's line, then the lines below it. */
async function ghostText(page: Page): Promise<string> {
    const inline = await page.locator('.monaco-editor .ghost-text-decoration').allInnerTexts();
    const lines = await page.locator('.monaco-editor .ghost-text .view-line').allInnerTexts();
    return [inline.join(''), ...lines]
        .join('\n')
        .replace(/\u00a0/g, ' ')
        .trimEnd();
}

describe('Code completion in the workbench', function () {
    this.timeout(15 * 60_000);
    let workbench: Workbench | undefined;

    before(async () => {
        const modelPath = ensureFixtureModel(defaultFixtureDir(), benchCoderModel);
        const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-completion-e2e-'));
        fs.writeFileSync(path.join(folder, 'sample.py'), SAMPLE);
        workbench = await openWorkbench({
            folder,
            settings: {
                'localAi.completion.model': modelPath,
                'localAi.threads': 1,
                'localAi.trace.server': 'verbose',
            },
        });
    });

    afterEach(async function () {
        if (this.currentTest?.state === 'failed') await workbench?.screenshot(`completion-failed-${this.currentTest.title.slice(0, 40).replace(/\W+/g, '-')}`);
    });

    after(async () => {
        await workbench?.close();
    });

    it('shows ghost text from the local model, Tab accepts it, another character dismisses it and cancels the request in flight', async () => {
        const { page, server } = workbench!;
        await until('the status bar shows completion ready', async () => (await statusBarText(page, ITEM)) === 'Completion', 2 * UI_TIMEOUT_MS);
        await page.keyboard.press('Control+P');
        await page.locator('.quick-input-widget .quick-input-box input').fill('sample.py');
        await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'sample.py' }).first().click();
        await until('sample.py has the focus', async () => (await editorText(page)).includes('def main():'));
        await page.keyboard.press('Control+End');

        // Typing asks (after the debounce); the answer shows as ghost text.
        await page.keyboard.type('def ');
        await until('ghost text appears', async () => (await ghostText(page)).trim().length > 0, 3 * UI_TIMEOUT_MS);
        const shown = await ghostText(page);
        const answered = tracedCompletions(server.serverDataDir).filter((traced) => traced.result && traced.result.text.length > 0);
        assert.ok(answered.length > 0, 'no answered completion in the trace');
        const answer = answered.at(-1)!;
        assert.ok(answer.params.prefix.endsWith('def '), `the last answer was for ${JSON.stringify(answer.params.prefix.slice(-20))}`);
        assert.equal(answer.result!.engine.kind, 'local');
        await workbench!.screenshot('completion-ghost-text');

        // Tab accepts it: the ghost text is in the document now, and shows no more.
        await page.keyboard.press('Tab');
        const firstLine = shown.split('\n').find((line) => line.trim() !== '')!;
        await until(
            'the accepted text is in the editor',
            async () => (await editorText(page)).includes(firstLine) && !(await ghostText(page)).includes(firstLine),
        );
        await workbench!.screenshot('completion-accepted');

        // A new line, then ghost text again; a character it does not start with dismisses it.
        await page.keyboard.press('Enter');
        await until('ghost text appears on the new line', async () => (await ghostText(page)).trim().length > 0, 3 * UI_TIMEOUT_MS);
        const next = await ghostText(page);
        const other = next.startsWith('x') ? 'y' : 'x';
        const before = tracedCompletions(server.serverDataDir).at(-1)!.id;
        await page.keyboard.type(other);
        await until('the ghost text is dismissed', async () => !(await ghostText(page)).startsWith(next));

        // That keystroke asked again; the next one, while the model works on it, cancels it in the sidecar.
        let inFlight: Traced | undefined;
        await until('the keystroke sends a request', async () => {
            inFlight = tracedCompletions(server.serverDataDir).find((traced) => traced.id > before && traced.params.prefix.endsWith(other));
            return inFlight !== undefined;
        });
        await page.keyboard.type(other === 'x' ? 'q' : 'z');
        await until(
            'the sidecar answers the cancelled request',
            async () => {
                const traced = tracedCompletions(server.serverDataDir).find((candidate) => candidate.id === inFlight!.id);
                inFlight = traced;
                return traced?.result !== undefined || traced?.error !== undefined;
            },
            2 * UI_TIMEOUT_MS,
        );
        if (inFlight!.error) assert.match(inFlight!.error, /cancelled/i);
        else assert.equal(inFlight!.result!.finishReason, 'cancelled', `the request ran to its end: ${JSON.stringify(inFlight!.result)}`);
    });

    it('turns off and on from the status bar: nothing is asked while it is off', async () => {
        const { page, server } = workbench!;
        const item = page.locator(`.part.statusbar .statusbar-item[id*="${ITEM}"]`).first();
        // Back to the editor's end after each click on the status bar.
        const focusEditor = async () => {
            await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
            await page.keyboard.press('Control+End');
        };
        await item.click();
        await until('the status bar says completion is off', async () => (await statusBarText(page, ITEM)) === 'Completion off');
        await workbench!.screenshot('completion-off');
        // Typed while off: no request may carry it.
        await focusEditor();
        await page.keyboard.press('Enter');
        await page.keyboard.type('zzoff');
        await page.keyboard.press('Alt+\\');

        await item.click();
        await until('the status bar says completion is on', async () => (await statusBarText(page, ITEM)) === 'Completion');
        await focusEditor();
        await page.keyboard.type('on');
        await until('a request is sent again once it is on', async () =>
            tracedCompletions(server.serverDataDir).some((traced) => traced.params.prefix.endsWith('zzoffon')),
        );
        const whileOff = tracedCompletions(server.serverDataDir).filter((traced) => /zzof{0,2}$/.test(traced.params.prefix));
        assert.deepEqual(
            whileOff.map((traced) => traced.params.prefix.slice(-8)),
            [],
            'completions were requested while completion was off',
        );
        await workbench!.screenshot('completion-on-again');
    });
});
