/**
 * A chat answer that breaks halfway, inside the real extension host: the sidecar killed with SIGKILL
 * while the tiny generated model streams, and a cloud answer (a loopback OpenAI-compatible mock) whose
 * connection is cut after its first piece. In both the question stays in the history, the text that
 * arrived is kept with the error under it and a Retry that asks again, a view opened afterwards and a
 * history read back as a reloaded window reads it show the same, nothing else in the history changes,
 * and Retry gives a whole answer. (What the user sees, in the workbench: test/e2e/chatCrash.e2e.ts.)
 */
import * as assert from 'node:assert/strict';
import type { ChatTurn, ChatViewState } from '../../src/common/webviewProtocol';
import { ChatHistory, type Conversation } from '../../src/extension/chat/history';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { startMockProvider, type MockProvider } from '../fixtures/mockProviders/server';
import { api, recorder, releaseTinyModel, useTinyModel, type Recorder } from './chatHarness';
import { nextStatus, setSettings, sidecarPid, statusAfter } from './harness';

/** Where the chat keeps its history (src/extension/chat/history.ts). */
const STORAGE_KEY = 'localAi.chat.history';
const CLOUD_MODEL = 'cloud:openai-compatible:mock-model';
const CLOUD_ANSWER = ['Partial', ' answer,', ' then the rest', '.'];

/** A recorder that also resolves once the first piece of an answer has reached the view. */
function watchedView(): Recorder & { firstText: Promise<void> } {
    const surface = recorder();
    const post = surface.post.bind(surface);
    let sawText!: () => void;
    const firstText = new Promise<void>((resolve) => (sawText = resolve));
    surface.post = (message) => {
        post(message);
        if (message.type === 'chat/delta') sawText();
    };
    return Object.assign(surface, { firstText });
}

/** Resolves once the answer's first piece reached the view; fails if the answer ended before any did. */
async function textBeforeEnd(surface: Recorder & { firstText: Promise<void> }, answered: Promise<void>): Promise<void> {
    let arrived = false;
    const ended = answered.then(() => {
        if (arrived) return;
        const last = surface.lastState().turns.at(-1);
        assert.fail(`the answer ended (${last?.status}: ${last?.error?.message ?? 'no error'}) before any text reached the view`);
    });
    await Promise.race([surface.firstText.then(() => (arrived = true)), ended]);
}

/** The text the view was streamed for one turn, piece by piece. */
function streamedText(surface: Recorder, turnId: string): string {
    return surface.messages.map((m) => (m.type === 'chat/delta' && m.turnId === turnId ? m.text : '')).join('');
}

const shape = (turns: ChatTurn[]) => turns.map((t) => ({ role: t.role, content: t.content, status: t.status, error: t.error }));

describe('Chat answers that break halfway', function () {
    this.timeout(300_000);
    let local: LocalAiTestApi;

    before(async () => {
        local = await api();
        await useTinyModel(local);
    });

    after(async () => {
        await releaseTinyModel(local);
        // Forget the crash this file caused, so the crash policy of later suites starts from none.
        await local.services.sidecar.restart();
    });

    // Each test starts with a sidecar that answers, whatever the one before left behind.
    beforeEach(() => nextStatus(local, (status) => status.health === 'ready'));

    const controller = () => local.services.chat!.controller;
    const others = (id: string) =>
        structuredClone(local.services.context.workspaceState.get<{ conversations: Conversation[] }>(STORAGE_KEY)!.conversations.filter((c) => c.id !== id));

    /** What a view opened now (it is rebuilt each time it is shown) and a reloaded window would show. */
    async function reopened(conversationId: string): Promise<{ view: ChatViewState; reloaded: Conversation }> {
        const surface = recorder();
        const detach = controller().attach(surface);
        try {
            await controller().handle(surface, { type: 'ready' });
            const reloaded = new ChatHistory(local.services.context.workspaceState).active();
            assert.equal(reloaded.id, conversationId, 'a reloaded window would open another conversation');
            return { view: surface.lastState(), reloaded };
        } finally {
            detach.dispose();
        }
    }

    it('keeps the question and the partial answer, marked, when the sidecar is killed mid-answer; Retry answers once it is back', async () => {
        // The earlier exchange comes from a provider: a follow-up to a long local answer leaves the
        // model little room, and could end before the kill lands.
        const mock = await startMockProvider({ provider: 'openai-compatible' });
        const restore = await setSettings({ 'fallback.providers': [{ id: 'openai-compatible', baseUrl: mock.baseUrl, model: 'mock-model' }] });
        await controller().newChat();
        const conversationId = controller().state().conversationId;
        // Watches the local answer only, from the moment it is asked.
        const surface = watchedView();
        let detach = { dispose() {} };
        try {
            await controller().handle(surface, { type: 'model/select', modelId: CLOUD_MODEL });
            await controller().send('What is a closure?');
            const first = structuredClone(controller().state());
            assert.equal(first.turns.at(-1)?.status, 'done', first.turns.at(-1)?.error?.message);
            const untouched = others(conversationId);

            await controller().handle(surface, { type: 'model/select', modelId: '' });
            detach = controller().attach(surface);
            const pid = await sidecarPid(local);
            const answered = controller().send('Explain recursion step by step');
            await textBeforeEnd(surface, answered);
            const crashed = statusAfter(local, (status) => status.health === 'error');
            process.kill(pid, 'SIGKILL');
            await answered;
            await crashed;
            const back = statusAfter(local, (status) => status.health === 'ready');

            const state = controller().state();
            const broken = state.turns.at(-1)!;
            assert.equal(broken.status, 'error', `the answer ended as ${broken.status}: the crash did not interrupt it`);
            assert.ok(broken.content.length > 0, 'the partial answer was dropped');
            assert.equal(broken.content, streamedText(surface, broken.id), 'the kept text is not what the view was streamed');
            assert.equal(broken.error?.action, 'retry', `the chat offers ${broken.error?.action} instead of Retry`);
            assert.match(broken.error.message, /local engine stopped while answering/);
            assert.deepEqual(shape(state.turns.slice(0, 3)), [
                ...shape(first.turns),
                { role: 'user', content: 'Explain recursion step by step', status: 'done', error: undefined },
            ]);
            assert.equal(state.streaming, false, 'the view still shows the answer as streaming');

            const { view, reloaded } = await reopened(state.conversationId);
            assert.deepEqual(shape(view.turns), shape(state.turns), 'a reopened view shows another history');
            assert.deepEqual(shape(reloaded.turns), shape(state.turns), 'a reloaded window would show another history');
            assert.deepEqual(others(state.conversationId), untouched, 'another conversation changed');

            await back;
            await controller().handle(surface, { type: 'chat/action', action: 'retry' });
            const retried = controller().state();
            assert.deepEqual(
                retried.turns.map((t) => t.role),
                ['user', 'assistant', 'user', 'assistant'],
                'the interrupted answer was kept beside the new one',
            );
            const answer = retried.turns[3];
            assert.equal(answer.status, 'done', answer.error?.message);
            assert.equal(answer.engine?.kind, 'local');
            assert.ok(answer.content.length > 0, 'Retry gave an empty answer');
            assert.deepEqual(shape((await reopened(state.conversationId)).reloaded.turns), shape(retried.turns));
        } finally {
            detach.dispose();
            await controller().handle(recorder(), { type: 'history/delete', conversationId });
            await restore();
            await mock.stop();
        }
    });

    it('keeps a cloud answer cut off mid-stream, marked with an error and Retry, and Retry gives the whole answer', async () => {
        let mock: MockProvider = await startMockProvider({ provider: 'openai-compatible', mode: 'stallAfterFirst', answer: CLOUD_ANSWER });
        const restore = await setSettings({ 'fallback.providers': [{ id: 'openai-compatible', baseUrl: mock.baseUrl, model: 'mock-model' }] });
        const surface = watchedView();
        const detach = controller().attach(surface);
        let conversationId = '';
        try {
            await controller().newChat();
            conversationId = controller().state().conversationId;
            await controller().handle(surface, { type: 'model/select', modelId: CLOUD_MODEL });
            assert.equal(controller().state().selectedModel, CLOUD_MODEL, 'the mock provider is not offered in the chat');
            const untouched = others(conversationId);

            const answered = controller().send('Tell me a story');
            await textBeforeEnd(surface, answered);
            // Stopping the server closes the connection in the middle of the answer.
            const port = Number(new URL(mock.url).port);
            await mock.stop();
            await answered;

            const state = controller().state();
            const broken = state.turns.at(-1)!;
            assert.equal(broken.status, 'error', `a cut stream ended as ${broken.status}`);
            assert.equal(broken.content, CLOUD_ANSWER[0], 'the text that arrived was not kept');
            assert.equal(broken.engine?.kind, 'cloud');
            assert.equal(broken.error?.action, 'retry', `the chat offers ${broken.error?.action} instead of Retry`);
            assert.deepEqual(shape(state.turns.slice(0, 1)), [{ role: 'user', content: 'Tell me a story', status: 'done', error: undefined }]);

            const { view, reloaded } = await reopened(conversationId);
            assert.deepEqual(shape(view.turns), shape(state.turns), 'a reopened view shows another history');
            assert.deepEqual(shape(reloaded.turns), shape(state.turns), 'a reloaded window would show another history');
            assert.deepEqual(others(conversationId), untouched, 'another conversation changed');

            // The provider is back, on the address the settings name.
            mock = await startMockProvider({ provider: 'openai-compatible', port, answer: CLOUD_ANSWER });
            await controller().handle(surface, { type: 'chat/action', action: 'retry' });
            const retried = controller().state();
            assert.deepEqual(shape(retried.turns), [
                { role: 'user', content: 'Tell me a story', status: 'done', error: undefined },
                { role: 'assistant', content: CLOUD_ANSWER.join(''), status: 'done', error: undefined },
            ]);
            // The broken answer was not sent back to the provider as if the model had said it.
            const resent = mock.requests.at(-1)?.body as { messages: { role: string; content: string }[] };
            assert.deepEqual(
                resent.messages.filter((m) => m.role !== 'system').map((m) => [m.role, m.content]),
                [['user', 'Tell me a story']],
            );
        } finally {
            detach.dispose();
            if (conversationId) await controller().handle(recorder(), { type: 'history/delete', conversationId });
            await restore();
            await mock.stop();
        }
    });
});
