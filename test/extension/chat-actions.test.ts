/**
 * What the chat does with the user's code, inside the real extension host with the real sidecar and
 * the tiny generated model: Copy puts a code block on the clipboard exactly, Apply to Selection
 * replaces the selection of the editor the user was in (after Accept, as one undo step), an attached
 * file reaches the model whole (seen in the sidecar's protocol trace), and the context gauge counts out of
 * the context the model was loaded with, never more than it holds. (The buttons themselves, clicked in
 * the workbench: test/e2e/chat-history.e2e.ts.)
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { api, CONTEXT_SIZE, recorder, releaseTinyModel, Samples, traceSidecar, tracedChat, until, useTinyModel } from './chatHarness';

describe('Chat actions', function () {
    this.timeout(300_000);
    let local: LocalAiTestApi;
    const samples = new Samples();

    before(async () => {
        local = await api();
        await useTinyModel(local);
    });

    after(async () => {
        await releaseTinyModel(local);
        samples.dispose();
    });

    afterEach(async () => {
        await local.services.chat?.review.reject();
        await samples.closeEditors();
    });

    const controller = () => local.services.chat!.controller;

    it('Copy puts the code block on the clipboard exactly', async () => {
        // Indentation, a tab, markup, quotes, non-ASCII and trailing whitespace: nothing may be trimmed or escaped.
        const code = '<div class="a">\n\t&amp; "x" \'y\' → ü  \n    return a + b;\n</div>\n';
        await vscode.env.clipboard.writeText('before the copy');
        await controller().handle(recorder(), { type: 'code/copy', code });
        assert.equal(await vscode.env.clipboard.readText(), code);
    });

    it('Apply to Selection replaces the selection of the editor the user was in after Accept, and one undo restores it', async () => {
        const other = await samples.open('const other = 0;\n', { preview: false });
        const original = 'function area(r) {\n    return 3.14 * r * r;\n}\n';
        const editor = await samples.open(original, { preview: false });
        editor.selection = new vscode.Selection(1, 4, 1, 24);
        // The user goes on in the chat opened beside it (Open Chat in Editor): no text editor is active now.
        await vscode.commands.executeCommand('localAi.openChatInEditor');
        await until('the chat editor is the active one', () => vscode.window.activeTextEditor === undefined);

        const { review } = local.services.chat!;
        const code = 'return Math.PI * r ** 2;';
        // Resolves once the user has chosen Accept or Reject.
        const applying = controller().handle(recorder(), { type: 'code/apply', code });
        await until('the change is proposed for review', () => review.current?.replacement === code);
        assert.equal(review.current!.document, editor.document, 'the proposal is for another document');
        assert.equal(review.current!.originalText, 'return 3.14 * r * r;');
        assert.equal(editor.document.getText(), original, 'the document changed before Accept');

        await vscode.commands.executeCommand('localAi.inlineChatAccept');
        await applying;
        assert.equal(editor.document.getText(), original.replace('return 3.14 * r * r;', code));
        assert.equal(other.document.getText(), 'const other = 0;\n', 'another editor was changed');
        await vscode.window.showTextDocument(editor.document);
        await vscode.commands.executeCommand('undo');
        assert.equal(editor.document.getText(), original, 'one undo did not restore the document');
    });

    describe('with the sidecar traced', () => {
        let untrace: () => Promise<void>;
        before(async () => (untrace = await traceSidecar()));
        after(async () => untrace());

        it('attaching the current file sends its whole content to the model with the question', async () => {
            const marker = `attached-${Date.now().toString(36)}`;
            const content = `// ${marker}\nexport function add(a: number, b: number): number {\n\treturn a + b;\n}\n`;
            const editor = await samples.open(content);
            // A selection does not narrow "Attach Current File".
            editor.selection = new vscode.Selection(1, 0, 1, 10);
            await controller().newChat();
            const surface = recorder();
            const detach = controller().attach(surface);
            try {
                await controller().handle(surface, { type: 'context/attach', kind: 'file' });
                const [attachment] = surface.lastState().pendingAttachments;
                assert.equal(attachment?.kind, 'file');
                assert.equal(attachment.content, content);
                assert.equal(attachment.label, vscode.workspace.asRelativePath(editor.document.uri));

                const question = `What does this file do? (${marker})`;
                await controller().send(question);
                const [asked, answer] = surface.lastState().turns;
                assert.equal(answer.status, 'done', answer.error?.message);
                assert.deepEqual(
                    asked.attachments?.map((a) => a.label),
                    [attachment.label],
                    'the question does not show what was attached',
                );
                assert.equal(surface.lastState().pendingAttachments.length, 0, 'the file stays attached to the next question');

                const sent = await tracedChat(local, (text) => text.endsWith(question), 'the question with the attached file');
                const prompt = sent.messages.at(-1)!.content;
                assert.ok(prompt.includes(content), `the sidecar was not sent the file's content; it got:\n${prompt}`);
                assert.equal(sent.result.text, answer.content, 'the answer shown is not the one the sidecar gave');
            } finally {
                detach.dispose();
            }
        });
    });

    it('the context gauge counts out of the context the model was loaded with, and never shows more than it holds', async () => {
        await controller().newChat();
        const surface = recorder();
        const detach = controller().attach(surface);
        try {
            assert.equal(surface.messages.length, 0);
            await controller().send('What is a hash map?');
            const first = await surface.stateWhere('a context gauge', (state) => state.gauge !== undefined);
            const answer = first.turns.at(-1)!;
            assert.equal(answer.status, 'done', answer.error?.message);
            assert.equal(first.gauge!.contextSize, CONTEXT_SIZE, 'the gauge is not out of the context size set for the model');
            assert.equal(first.gauge!.contextSize, answer.engine?.contextSize, 'the gauge and the answer disagree on the context size');
            assert.ok(first.gauge!.tokens > 0 && first.gauge!.tokens <= CONTEXT_SIZE, `the gauge shows ${first.gauge!.tokens} of ${CONTEXT_SIZE} tokens`);

            // The tiny model answers until the context is full, so the second question outgrows it: the oldest
            // messages are left out of the prompt, and the gauge shows a full context, not the whole conversation.
            await controller().send('And a binary tree?');
            const answered = await surface.stateWhere('the second answer', (state) => state.turns.length === 4 && !state.streaming);
            const second = answered.turns.at(-1)!;
            assert.equal(second.status, 'done', second.error?.message);
            assert.ok(second.truncation && second.truncation.droppedMessages > 0, 'the conversation did not outgrow the context');
            // The gauge is counted after the answer, and posted in a state of its own.
            const answeredAt = surface.messages.findIndex((message) => message.type === 'state' && message.state === answered);
            await surface.stateWhere('the gauge counted after the second answer', () => surface.messages.slice(answeredAt + 1).some((m) => m.type === 'state'));
            const gauge = surface.lastState().gauge!;
            assert.equal(gauge.contextSize, CONTEXT_SIZE);
            assert.ok(gauge.tokens > 0 && gauge.tokens <= CONTEXT_SIZE, `the gauge shows ${gauge.tokens} of ${CONTEXT_SIZE} tokens`);
        } finally {
            detach.dispose();
        }
    });
});
