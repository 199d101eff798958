/**
 * Code completion in the real extension host, against the real sidecar and generated models with
 * fill-in-the-middle tokens: the provider shows exactly what the sidecar answered for the window around
 * the cursor; a request VS Code cancels is cancelled in the sidecar (the protocol trace shows its answer);
 * a language turned off and a snooze or toggle ask nothing; the status bar says which.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { CompletionParams, CompletionResult } from '../../src/common/completion';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { benchCoderModel, defaultFixtureDir, ensureFixtureModel, tinyCoderModel } from '../fixtures/gguf/model';
import { api, logEntries, traceSidecar, until } from './chatHarness';
import { nextStatus, setSettings } from './harness';

/** Written into each test's document, so that the trace of an earlier run in the same log never matches. */
const RUN = Date.now().toString(36);
const EXPLICIT: vscode.InlineCompletionContext = { triggerKind: vscode.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined };

interface TracedCompletion {
    id: number;
    params: CompletionParams;
    /** The sidecar's answer: a result, or the error line the trace shows for a failed request. */
    result?: CompletionResult;
    error?: string;
}

/** The completion requests in the protocol trace, with their answers once logged. */
function tracedCompletions(local: LocalAiTestApi): TracedCompletion[] {
    const entries = logEntries(local);
    const byId = new Map<number, TracedCompletion>();
    entries.forEach((entry, i) => {
        const sent = /Sending request 'localAi\/completion\/complete - \((\d+)\)'/.exec(entry);
        if (sent && entries[i + 1]?.startsWith('Params: ')) {
            byId.set(Number(sent[1]), { id: Number(sent[1]), params: JSON.parse(entries[i + 1].slice('Params: '.length)) as CompletionParams });
        }
        const received = /Received response 'localAi\/completion\/complete - \((\d+)\)' in \d+ms\.(.*)/.exec(entry);
        const traced = received && byId.get(Number(received[1]));
        if (!traced) return;
        if (received[2].includes('Request failed')) traced.error = received[2].trim();
        else if (entries[i + 1]?.startsWith('Result: ')) traced.result = JSON.parse(entries[i + 1].slice('Result: '.length)) as CompletionResult;
    });
    return [...byId.values()];
}

/** The traced request whose prefix ends with `marker` (each test writes its own), once `done` holds for it. */
async function tracedRequest(local: LocalAiTestApi, marker: string, what: string, done: (traced: TracedCompletion) => boolean): Promise<TracedCompletion> {
    let found: TracedCompletion | undefined;
    await until(`the trace shows ${what}`, () => {
        found = tracedCompletions(local).find((traced) => traced.params.prefix.endsWith(marker) && done(traced));
        return found !== undefined;
    });
    return found!;
}

async function editorWith(language: string, content: string): Promise<vscode.TextEditor> {
    const document = await vscode.workspace.openTextDocument({ language, content });
    return vscode.window.showTextDocument(document);
}

function endOf(document: vscode.TextDocument): vscode.Position {
    return document.lineAt(document.lineCount - 1).range.end;
}

describe('Code completion in the editor', function () {
    this.timeout(300_000);
    let local: LocalAiTestApi;
    let restoreSettings: () => Promise<void>;
    let stopTrace: () => Promise<void>;

    before(async () => {
        local = await api();
        await nextStatus(local, (status) => status.health === 'ready', 120_000);
        stopTrace = await traceSidecar();
        // One thread: this machine has two cores.
        restoreSettings = await setSettings({ 'completion.model': ensureFixtureModel(defaultFixtureDir(), tinyCoderModel), threads: 1 });
        await until('the completion engine uses the tiny coder', async () => {
            await local.services.completion.refresh();
            return local.services.completion.state.engine?.model?.name.includes('tinycoder') === true;
        });
    });

    after(async () => {
        await vscode.commands.executeCommand('workbench.action.closeAllEditors');
        await restoreSettings?.();
        await stopTrace?.();
    });

    it('shows what the sidecar completed for the window around the cursor, and the status bar names the model', async () => {
        const { completion } = local.services;
        const editor = await editorWith('javascript', `function add(a, b) {\n    // first test ${RUN}\n    return a\n}\n`);
        const position = new vscode.Position(2, 12);
        const items = await completion.provider.provideInlineCompletionItems(editor.document, position, EXPLICIT, new vscode.CancellationTokenSource().token);
        const traced = await tracedRequest(local, `${RUN}\n    return a`, 'the first completion answered', (t) => t.result !== undefined);
        assert.equal(traced.params.prefix, `function add(a, b) {\n    // first test ${RUN}\n    return a`);
        assert.equal(traced.params.suffix, '\n}\n');
        assert.equal(traced.params.languageId, 'javascript');
        assert.equal(traced.params.trigger, 'explicit');
        assert.ok(traced.result!.text.length > 0, `the sidecar answered no text: ${JSON.stringify(traced.result)}`);
        assert.ok(items && items.items.length === 1, 'the provider showed nothing');
        const [item] = items.items;
        assert.equal(item.insertText, traced.result!.text);
        assert.ok(item.range?.isEqual(new vscode.Range(position, position)), `inserted at ${JSON.stringify(item.range)}`);
        assert.equal(completion.statusItem.display, 'ready');
        assert.equal(completion.statusItem.text, '$(sparkle) Completion');
        assert.match(completion.statusItem.tooltip, /tinycoder/);
    });

    it('cancels the request in the sidecar when VS Code cancels it (the next keystroke)', async () => {
        const { completion } = local.services;
        // The larger model answers in seconds on one thread: the cancellation comes while it works.
        const restore = await setSettings({ 'completion.model': ensureFixtureModel(defaultFixtureDir(), benchCoderModel) });
        try {
            await until('the completion engine uses the bench coder', async () => {
                await completion.refresh();
                return completion.state.engine?.model?.name.includes('benchcoder') === true;
            });
            const editor = await editorWith('python', `import os\n\n# cancelled test ${RUN}\n`);
            const cancelledBefore = completion.provider.counters.cancelled;
            const source = new vscode.CancellationTokenSource();
            const answer = completion.provider.provideInlineCompletionItems(editor.document, endOf(editor.document), EXPLICIT, source.token);
            const sent = await tracedRequest(local, `# cancelled test ${RUN}\n`, 'the request sent', () => true);
            assert.equal(sent.result ?? sent.error, undefined, 'the sidecar answered before the cancellation: the test needs a slower model');
            source.cancel();
            assert.equal(await answer, undefined);
            assert.equal(completion.provider.counters.cancelled, cancelledBefore + 1);
            const answered = await tracedRequest(
                local,
                `# cancelled test ${RUN}\n`,
                'the sidecar answering the cancelled request',
                (t) => t.id === sent.id && (t.result ?? t.error) !== undefined,
            );
            // Cancelled while loading the model is a cancellation error, while generating a result that says so.
            if (answered.error) assert.match(answered.error, /cancelled/i);
            else assert.equal(answered.result!.finishReason, 'cancelled', `the sidecar finished the request: ${JSON.stringify(answered.result)}`);
            assert.equal(completion.state.lastFailure, undefined, 'a cancellation is not a failure');
        } finally {
            await restore();
        }
    });

    it('asks nothing for a language turned off in localAi.completion.languages, and says so for its editor', async () => {
        const { completion } = local.services;
        const restore = await setSettings({ 'completion.languages': { '*': true, javascript: false } });
        try {
            const editor = await editorWith('javascript', 'const answer = \n');
            const requested = completion.provider.counters.requested;
            const none = await completion.provider.provideInlineCompletionItems(
                editor.document,
                new vscode.Position(0, 15),
                EXPLICIT,
                new vscode.CancellationTokenSource().token,
            );
            assert.equal(none, undefined);
            assert.equal(completion.provider.counters.requested, requested, 'a request was sent for a language that is off');
            await until('the status bar says completion is off for javascript', () => completion.statusItem.display === 'languageOff');
            assert.equal(completion.statusItem.text, '$(circle-slash) Completion off · javascript');

            // Other languages still complete ("*").
            const python = await editorWith('python', 'def main():\n    # other language\n    ');
            await completion.provider.provideInlineCompletionItems(
                python.document,
                endOf(python.document),
                EXPLICIT,
                new vscode.CancellationTokenSource().token,
            );
            assert.equal(completion.provider.counters.requested, requested + 1);
            await until('the status bar shows completion on for python', () => completion.statusItem.display === 'ready');
        } finally {
            await restore();
        }
    });

    it('Toggle Code Completion turns it off and on, Snooze for 5 Minutes pauses it until a click resumes it', async () => {
        const { completion } = local.services;
        const editor = await editorWith('typescript', 'export const value = \n');
        const position = new vscode.Position(0, 21);
        const ask = () => completion.provider.provideInlineCompletionItems(editor.document, position, EXPLICIT, new vscode.CancellationTokenSource().token);
        const restore = await setSettings({ 'completion.enabled': true });
        try {
            await vscode.commands.executeCommand('localAi.toggleCompletion');
            await until('completion is off', () => completion.statusItem.display === 'off');
            assert.equal(vscode.workspace.getConfiguration('localAi').get('completion.enabled'), false);
            assert.equal(completion.statusItem.text, '$(circle-slash) Completion off');
            const requested = completion.provider.counters.requested;
            assert.equal(await ask(), undefined);
            assert.equal(completion.provider.counters.requested, requested, 'a request was sent while completion is off');

            await vscode.commands.executeCommand('localAi.toggleCompletion');
            await until('completion is on again', () => completion.statusItem.display === 'ready');

            await vscode.commands.executeCommand('localAi.snoozeCompletion');
            assert.equal(completion.statusItem.display, 'snoozed');
            assert.match(completion.statusItem.tooltip, /snoozed until .*Click to resume/);
            const snoozedUntil = completion.state.snoozedUntil ?? 0;
            assert.ok(snoozedUntil - Date.now() > 4 * 60_000 && snoozedUntil - Date.now() <= 5 * 60_000, `snoozed for ${snoozedUntil - Date.now()} ms`);
            assert.equal(await ask(), undefined);
            assert.equal(completion.provider.counters.requested, requested, 'a request was sent while snoozed');

            // The status bar item's click (the toggle) ends a snooze rather than turning completion off.
            await vscode.commands.executeCommand('localAi.toggleCompletion');
            assert.equal(completion.statusItem.display, 'ready');
            assert.equal(vscode.workspace.getConfiguration('localAi').get('completion.enabled'), true);
            await ask();
            assert.equal(completion.provider.counters.requested, requested + 1);
        } finally {
            await restore();
        }
    });
});
