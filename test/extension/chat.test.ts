/**
 * The chat inside the real extension host, with the real sidecar and a generated local model: the
 * controller speaks the webview protocol (state on `ready`, deltas while streaming, attachments on the
 * message), answers stream and stop, history is kept in workspaceState, and edits proposed by the
 * inline chat or "Apply to Selection" leave the document untouched until Accept, which is one undo step.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ErrorCode } from '../../src/common/errors';
import type { ChatViewState, ErrorAction, ExtensionToWebview } from '../../src/common/webviewProtocol';
import { describeChatError } from '../../src/extension/chat/chatErrors';
import { proposalTabs } from '../../src/extension/chat/editReview';
import type { ChatSurface } from '../../src/extension/chat/chatController';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { SidecarError } from '../../src/extension/sidecarClient';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { localChatModel } from './chatHarness';

const EXTENSION_ID = 'local-ai.local-ai';

async function api(): Promise<LocalAiTestApi> {
    const extension = vscode.extensions.getExtension<LocalAiTestApi>(EXTENSION_ID);
    assert.ok(extension, 'Local AI is not installed in this extension host');
    return extension.activate();
}

/** A surface that records what a webview would receive. */
function recorder(): ChatSurface & { messages: ExtensionToWebview[]; lastState(): ChatViewState } {
    const messages: ExtensionToWebview[] = [];
    return {
        messages,
        post: (message) => messages.push(structuredClone(message)),
        lastState() {
            const states = messages.filter((m): m is Extract<ExtensionToWebview, { type: 'state' }> => m.type === 'state');
            assert.ok(states.length > 0, 'no state was posted');
            return states[states.length - 1].state;
        },
    };
}

/** Resolves once the proposal document VS Code shows has this text (it is refreshed asynchronously). */
async function proposalReads(uri: vscode.Uri, expected: string): Promise<void> {
    const document = await vscode.workspace.openTextDocument(uri);
    if (document.getText() === expected) return;
    await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
            subscription.dispose();
            reject(new Error(`the proposal still reads ${JSON.stringify(document.getText())}`));
        }, 30_000);
        const subscription = vscode.workspace.onDidChangeTextDocument((event) => {
            if (event.document.uri.toString() !== uri.toString() || event.document.getText() !== expected) return;
            clearTimeout(timer);
            subscription.dispose();
            resolve();
        });
    });
}

const samples = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-chat-samples-'));
let sampleCount = 0;

/**
 * A new file with `text`, opened in an editor. Each sample is a file of its own name: VS Code gives an
 * untitled document the name of one just closed (`Untitled-1` again), and under load the extension host
 * can still hold the closed document under that name and hand it back, old text and all.
 */
async function openSample(text: string, options: vscode.TextDocumentShowOptions = {}): Promise<vscode.TextEditor> {
    const file = path.join(samples, `sample-${++sampleCount}.ts`);
    fs.writeFileSync(file, text);
    const document = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    const editor = await vscode.window.showTextDocument(document, options);
    assert.equal(vscode.window.activeTextEditor?.document, document, 'the sample is not the active editor');
    assert.equal(document.getText(), text);
    return editor;
}

describe('Chat', function () {
    this.timeout(180_000);
    let local: LocalAiTestApi;

    before(async () => {
        local = await api();
        const modelPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
        const config = vscode.workspace.getConfiguration('localAi');
        // One thread and a small context: this machine has two cores.
        await config.update('models', [{ source: modelPath, name: 'Tiny fixture' }], vscode.ConfigurationTarget.Global);
        await config.update('defaultModel', modelPath, vscode.ConfigurationTarget.Global);
        await config.update('threads', 1, vscode.ConfigurationTarget.Global);
        await config.update('contextSize', 1024, vscode.ConfigurationTarget.Global);
        // Settings reach the sidecar asynchronously; chat only once it lists the fixture as the active model.
        const deadline = Date.now() + 60_000;
        for (;;) {
            await local.services.models.refresh();
            if (local.services.models.list?.activeModelId === modelPath) break;
            assert.ok(Date.now() < deadline, `the sidecar never took the settings; active model: ${local.services.models.list?.activeModelId}`);
            await new Promise<void>((resolve) => {
                const subscription = local.services.models.onDidChange(() => {
                    subscription.dispose();
                    resolve();
                });
                setTimeout(() => {
                    subscription.dispose();
                    resolve();
                }, 1_000);
            });
        }
    });

    after(async () => {
        // Other suites in this extension host expect the settings they started with.
        const config = vscode.workspace.getConfiguration('localAi');
        for (const key of ['models', 'defaultModel', 'threads', 'contextSize']) await config.update(key, undefined, vscode.ConfigurationTarget.Global);
        fs.rmSync(samples, { recursive: true, force: true });
    });

    afterEach(async () => {
        await local.services.chat?.review.reject();
        // Revert before closing: an edited sample would otherwise ask to be saved and stay open.
        for (let i = 0; i < 10 && vscode.window.tabGroups.all.some((group) => group.tabs.length > 0); i++) {
            await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
        }
    });

    describe('webview protocol', () => {
        it('answers `ready` with the whole state, and shows an attached selection on the message', async () => {
            const chat = local.services.chat!;
            const surface = recorder();
            const detach = chat.controller.attach(surface);
            try {
                await chat.controller.handle(surface, { type: 'ready' });
                const first = surface.lastState();
                assert.equal(first.streaming, false);
                assert.ok(
                    first.models.some((m) => m.id === ''),
                    'the default model is always offered',
                );

                const editor = await openSample('const a = 1;\nconst b = 2;\nconst c = 3;\n');
                editor.selection = new vscode.Selection(0, 0, 1, 12);
                await chat.controller.handle(surface, { type: 'context/attach', kind: 'selection' });
                const attached = surface.lastState().pendingAttachments;
                assert.equal(attached.length, 1);
                assert.equal(attached[0].kind, 'selection');
                assert.equal(attached[0].content, 'const a = 1;\nconst b = 2;');
                assert.match(attached[0].label, /:1-2$/);
                await chat.controller.handle(surface, { type: 'context/remove', index: 0 });
                assert.equal(surface.lastState().pendingAttachments.length, 0);
            } finally {
                detach.dispose();
            }
        });

        it('streams an answer from the local model as deltas, badges it, and keeps it in workspace history', async () => {
            const chat = local.services.chat!;
            await chat.controller.newChat();
            const surface = recorder();
            const detach = chat.controller.attach(surface);
            try {
                await chat.controller.send('Say hello');
                const deltas = surface.messages.filter((m) => m.type === 'chat/delta');
                const state = surface.lastState();
                const answer = state.turns.at(-1)!;
                assert.equal(answer.role, 'assistant');
                assert.equal(answer.error, undefined, answer.error?.message);
                assert.equal(answer.status, 'done');
                assert.ok(deltas.length > 0, 'no token was streamed');
                assert.equal(answer.engine?.kind, 'local');
                assert.match(answer.engine?.device ?? '', /^(CPU|GPU)$/);
                assert.ok(state.history.some((h) => h.id === state.conversationId && h.title === 'Say hello'));
                const stored = local.services.context.workspaceState.get<{ conversations: { id: string; turns: unknown[] }[] }>('localAi.chat.history');
                assert.equal(stored?.conversations.find((c) => c.id === state.conversationId)?.turns.length, 2);
            } finally {
                detach.dispose();
            }
        });

        it('stops mid-answer when asked, and the next question still gets an answer', async () => {
            const chat = local.services.chat!;
            const surface = recorder();
            let stopped = false;
            const detach = chat.controller.attach({
                post: (message) => {
                    surface.post(message);
                    if (message.type === 'chat/delta' && !stopped) {
                        stopped = true;
                        void chat.controller.handle(surface, { type: 'chat/stop' });
                    }
                },
            });
            try {
                await chat.controller.send('Write a long story');
                const stoppedTurn = surface.lastState().turns.at(-1)!;
                assert.ok(stopped, 'no token arrived before the answer ended');
                assert.equal(stoppedTurn.status, 'stopped');
                assert.equal(surface.lastState().streaming, false);
                const stoppedLength = stoppedTurn.content.length;
                stopped = true;
                await chat.controller.send('And now?');
                assert.equal(surface.lastState().turns.at(-1)!.status, 'done');
                // The stopped answer kept what had arrived and grew no further.
                assert.equal(surface.lastState().turns.at(-3)!.content.length, stoppedLength);
            } finally {
                detach.dispose();
            }
        });

        it('turns failures into the action that fixes them', () => {
            const cases: [Error, ErrorAction][] = [
                [
                    // It restarts by itself: the chat asks again rather than restarting it once more.
                    new SidecarError('The Local AI sidecar is not running; it is being restarted.', ErrorCode.NoEngineAvailable, undefined, true),
                    'retry',
                ],
                [new SidecarError('No local model, and the cloud fallback is off.', ErrorCode.NoEngineAvailable), 'downloadModel'],
                [new SidecarError('Model qwen is not installed.', ErrorCode.ModelNotInstalled), 'downloadModel'],
                [new SidecarError('The prompt is larger than the context.', ErrorCode.ContextOverflow), 'newChat'],
                [new SidecarError('Key refused.', ErrorCode.Unauthorized, { provider: 'openai' }), 'setApiKey'],
                [new Error('socket hang up'), 'retry'],
            ];
            for (const [error, action] of cases) assert.equal(describeChatError(error).action, action, error.message);
        });

        it('inserts a code block at the cursor of the editor the user was in', async () => {
            const chat = local.services.chat!;
            const editor = await openSample('first\nlast\n');
            editor.selection = new vscode.Selection(1, 0, 1, 0);
            await chat.controller.handle(recorder(), { type: 'code/insert', code: 'middle\n' });
            assert.equal(editor.document.getText(), 'first\nmiddle\nlast\n');
        });
    });

    describe('native chat', () => {
        it("offers the installed local model in VS Code's model picker and answers through it", async function () {
            const lm: Partial<typeof vscode.lm> = vscode.lm;
            if (typeof lm.registerLanguageModelChatProvider !== 'function') {
                assert.equal(local.services.chat!.languageModelsRegistered, false);
                this.skip();
            }
            assert.equal(local.services.chat!.languageModelsRegistered, true);
            // The list follows the settings written in before(): wait for the sidecar to pick them up.
            const model = await localChatModel('Tiny fixture');
            assert.ok(model.maxInputTokens > 0);
            const response = await model.sendRequest([vscode.LanguageModelChatMessage.User('Hello')], {}, new vscode.CancellationTokenSource().token);
            let text = '';
            for await (const piece of response.text) text += piece;
            assert.ok(text.length > 0, 'the local model streamed nothing through the language-model API');
        });
    });

    describe('edit review', () => {
        it('writes nothing until Accept, then applies the change as a single undo step', async () => {
            const { review } = local.services.chat!;
            const original = 'function add(a, b) {\n    return a + b;\n}\n';
            const editor = await openSample(original);
            const range = new vscode.Range(1, 4, 1, 17);
            await review.begin({ document: editor.document, range, title: 'test' });
            review.update('return a');
            review.update('return a + b + 0;');
            assert.equal(editor.document.getText(), original, 'the proposal touched the document before Accept');
            // The diff shows the proposal as it streams: VS Code re-reads the virtual document on each change.
            await proposalReads(review.current!.proposalUri, original.replace('return a + b;', 'return a + b + 0;'));

            const proposalUri = review.current!.proposalUri;
            assert.equal(proposalTabs(proposalUri).length, 1, 'the proposal is not shown as a diff');
            await vscode.commands.executeCommand('localAi.inlineChatAccept');
            assert.equal(review.current, undefined);
            assert.equal(proposalTabs(proposalUri).length, 0, 'the diff stayed open after Accept');
            assert.equal(editor.document.getText(), original.replace('return a + b;', 'return a + b + 0;'));
            await vscode.window.showTextDocument(editor.document);
            await vscode.commands.executeCommand('undo');
            assert.equal(editor.document.getText(), original, 'one undo did not restore the document');
        });

        it('leaves the document exactly as it was on Reject', async () => {
            const { review } = local.services.chat!;
            const original = 'let x = 1;\n';
            const editor = await openSample(original);
            const version = editor.document.version;
            await review.begin({ document: editor.document, range: new vscode.Range(0, 0, 0, 10), title: 'test' });
            review.update('let x = 2;');
            await vscode.commands.executeCommand('localAi.inlineChatReject');
            assert.equal(review.current, undefined);
            assert.equal(editor.document.getText(), original);
            assert.equal(editor.document.version, version);
        });

        it('a review closed while the user works in another editor leaves that editor in front, and inline chat acts on it', async () => {
            const { review } = local.services.chat!;
            const reviewed = await openSample('let first = 1;\n');
            await review.begin({ document: reviewed.document, range: new vscode.Range(0, 0, 0, 14), title: 'test' });
            review.update('let first = 2;');
            // The user moves on to another file while the diff waits, selects code there, then rejects the
            // first proposal from its notification and at once asks for an inline edit of the selection.
            const current = await openSample('const second = 2;\n', { preview: false });
            current.selection = new vscode.Selection(0, 0, 0, 17);
            await vscode.commands.executeCommand('localAi.inlineChatReject');
            assert.equal(vscode.window.activeTextEditor?.document, current.document, 'closing the review took the focus back to the reviewed file');
            await vscode.commands.executeCommand('localAi.inlineChat', { instruction: 'rename it' });
            const pending = review.current;
            assert.ok(pending, 'no proposal is waiting for review (did the model answer?)');
            assert.equal(pending.document, current.document, 'the inline chat acted on another document than the one in front');
            assert.equal(pending.originalText, 'const second = 2;');
            assert.equal(reviewed.document.getText(), 'let first = 1;\n');
        });

        it('inline chat streams a proposal from the model for the selection, then Accept and one Undo', async () => {
            const { review } = local.services.chat!;
            const original = 'const total = items.length;\nconsole.log(total);\n';
            const editor = await openSample(original);
            editor.selection = new vscode.Selection(0, 0, 0, 27);
            await vscode.commands.executeCommand('localAi.inlineChat', { instruction: 'use reduce' });
            const pending = review.current;
            assert.ok(pending, 'no proposal is waiting for review (did the model answer?)');
            assert.equal(pending.originalText, 'const total = items.length;');
            assert.equal(editor.document.getText(), original, 'the document changed before Accept');
            const proposed = pending.replacement;

            await vscode.commands.executeCommand('localAi.inlineChatAccept');
            assert.equal(editor.document.getText(), original.replace('const total = items.length;', proposed));
            await vscode.window.showTextDocument(editor.document);
            await vscode.commands.executeCommand('undo');
            assert.equal(editor.document.getText(), original);
        });

        it('inline chat without a selection works on the current line', async () => {
            const editor = await openSample('alpha\nbeta\n');
            editor.selection = new vscode.Selection(1, 2, 1, 2);
            await vscode.commands.executeCommand('localAi.inlineChat', { instruction: 'uppercase' });
            const pending = local.services.chat!.review.current;
            assert.ok(pending);
            assert.equal(pending.originalText, 'beta');
            await vscode.commands.executeCommand('localAi.inlineChatReject');
            assert.equal(editor.document.getText(), 'alpha\nbeta\n');
        });
    });
});
