/**
 * `@local` in VS Code's own Chat view, driven the way VS Code's commands let an extension drive it:
 * `workbench.action.chat.open` types the question into the real Chat view, sends it, and returns what
 * the participant returned once the answer is complete (`blockOnResponse`). The sidecar's protocol
 * trace shows the question reaching the local model and its answer, and the follow-up question shows
 * that VS Code's chat kept exactly that answer as the conversation (it hands it back as history).
 *
 * VS Code runs a participant only with a language model picked in the Chat view. Without a Copilot
 * sign-in its model picker offers nothing to click (it asks to sign in), and only Copilot's models can
 * be the default, so the test picks the local model with the command's `modelSelector`, as an
 * extension can. (By hand, a user without Copilot gets "Language model unavailable" from VS Code.)
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { EngineInfo } from '../../src/common/chat';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { api, localChatModel, MODEL_NAME, releaseTinyModel, traceSidecar, tracedChat, useTinyModel } from './chatHarness';

/** VS Code's Chat view renders every streamed piece, and the tiny model's answers fill the context: keep it small. */
const SHORT_CONTEXT = 256;

/** What `workbench.action.chat.open` resolves to with `blockOnResponse`: the participant's ChatResult. */
type OpenChatResult = vscode.ChatResult & { metadata?: { engine?: EngineInfo } };

describe("Chat: @local in VS Code's Chat view", function () {
    this.timeout(300_000);
    let local: LocalAiTestApi;
    let untrace: () => Promise<void>;

    before(async function () {
        if (typeof vscode.chat?.createChatParticipant !== 'function') this.skip();
        local = await api();
        await useTinyModel(local, SHORT_CONTEXT);
        untrace = await traceSidecar();
    });

    after(async () => {
        await untrace?.();
        if (local) await releaseTinyModel(local);
        await vscode.commands.executeCommand('workbench.action.closeAuxiliaryBar');
    });

    it('answers a question from the local model, and keeps that answer in the conversation', async () => {
        const model = await localChatModel(MODEL_NAME);
        const question = `Say hello ${Date.now().toString(36)}`;
        const result = await vscode.commands.executeCommand<OpenChatResult>('workbench.action.chat.open', {
            query: `@local ${question}`,
            modelSelector: { vendor: model.vendor, id: model.id },
            blockOnResponse: true,
        });
        assert.equal(result?.errorDetails, undefined, result?.errorDetails?.message);
        assert.equal(result?.metadata?.engine?.kind, 'local', `not answered by the local model: ${JSON.stringify(result)}`);
        assert.equal(result.metadata.engine.modelName, MODEL_NAME);
        assert.equal(result.metadata.engine.contextSize, SHORT_CONTEXT, 'the model was not loaded with the small context this test set');

        // The participant asked the sidecar the question without "@local", and the model answered.
        const asked = await tracedChat(local, (text) => text === question, 'the @local question');
        assert.deepEqual(asked.messages, [{ role: 'user', content: question }]);
        assert.ok(asked.result.text.length > 0, 'the local model answered nothing');

        // A follow-up in the same Chat view: VS Code hands the participant the conversation it kept.
        const followUp = `And again ${Date.now().toString(36)}`;
        const second = await vscode.commands.executeCommand<OpenChatResult>('workbench.action.chat.open', {
            query: `@local ${followUp}`,
            blockOnResponse: true,
        });
        assert.equal(second?.errorDetails, undefined, second?.errorDetails?.message);
        const continued = await tracedChat(local, (text) => text === followUp, 'the @local follow-up');
        assert.deepEqual(
            continued.messages,
            [
                { role: 'user', content: question },
                { role: 'assistant', content: asked.result.text },
                { role: 'user', content: followUp },
            ],
            'the Chat view did not keep the answer the local model gave',
        );
    });
});
