/**
 * The chat's history inside the real extension host, with the real sidecar and the tiny generated
 * model: a past conversation opens with its turns and goes on where it stopped, a deleted one is gone
 * from the view, from a view opened afterwards and from what a reloaded window reads back
 * (workspaceState), and Regenerate replaces the last answer with a new one from the model instead of
 * adding a second. (The reload itself, in the workbench: test/e2e/chat-history.e2e.ts.)
 */
import * as assert from 'node:assert/strict';
import type { ChatViewState } from '../../src/common/webviewProtocol';
import { ChatHistory } from '../../src/extension/chat/history';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { api, recorder, releaseTinyModel, useTinyModel } from './chatHarness';

/** What workspaceState holds (the key and shape of src/extension/chat/history.ts). */
interface StoredHistory {
    conversations: { id: string; title: string; turns: { role: string; content: string }[] }[];
    activeId?: string;
}

describe('Chat history', function () {
    this.timeout(300_000);
    let local: LocalAiTestApi;

    before(async () => {
        local = await api();
        await useTinyModel(local);
    });

    after(() => releaseTinyModel(local));

    const stored = () => local.services.context.workspaceState.get<StoredHistory>('localAi.chat.history');
    const controller = () => local.services.chat!.controller;

    /** Starts a new conversation, asks `question` and returns the state once the model has answered. */
    async function conversation(question: string): Promise<ChatViewState> {
        await controller().newChat();
        await controller().send(question);
        const state = controller().state();
        const answer = state.turns.at(-1)!;
        assert.equal(answer.status, 'done', answer.error?.message ?? `the answer to "${question}" is ${answer.status}`);
        assert.ok(answer.content.length > 0, `the model gave no answer to "${question}"`);
        return structuredClone(state);
    }

    it('opens a past conversation with its turns, and the next question goes on in it', async () => {
        const first = await conversation('How do closures work?');
        const second = await conversation('What is recursion?');
        const surface = recorder();
        const detach = controller().attach(surface);
        try {
            await controller().handle(surface, { type: 'ready' });
            assert.equal(surface.lastState().conversationId, second.conversationId);
            assert.deepEqual(
                surface
                    .lastState()
                    .history.slice(0, 2)
                    .map((h) => h.title),
                ['What is recursion?', 'How do closures work?'],
            );

            await controller().handle(surface, { type: 'history/open', conversationId: first.conversationId });
            const opened = surface.lastState();
            assert.equal(opened.conversationId, first.conversationId, 'the view did not switch to the opened conversation');
            assert.deepEqual(
                opened.turns.map((t) => [t.role, t.content]),
                first.turns.map((t) => [t.role, t.content]),
            );
            assert.equal(stored()?.activeId, first.conversationId, 'a reload would not show the opened conversation');

            await controller().send('And in loops?');
            const continued = surface.lastState();
            assert.equal(continued.conversationId, first.conversationId);
            assert.deepEqual(
                continued.turns.map((t) => t.role),
                ['user', 'assistant', 'user', 'assistant'],
            );
            assert.equal(continued.turns[2].content, 'And in loops?');
            assert.equal(continued.turns[3].status, 'done');
            const kept = stored()!.conversations;
            assert.equal(kept.find((c) => c.id === first.conversationId)?.turns.length, 4);
            assert.equal(kept.find((c) => c.id === second.conversationId)?.turns.length, 2, 'the other conversation changed');
        } finally {
            detach.dispose();
        }
    });

    it('deletes a conversation: gone from the view, from a view opened later, and from what a reload reads', async () => {
        const kept = await conversation('Keep this chat');
        const doomed = await conversation('Delete this chat');
        const surface = recorder();
        const detach = controller().attach(surface);
        try {
            await controller().handle(surface, { type: 'history/delete', conversationId: doomed.conversationId });
            const after = surface.lastState();
            assert.ok(!after.history.some((h) => h.id === doomed.conversationId), 'the deleted chat is still listed');
            assert.ok(
                after.history.some((h) => h.id === kept.conversationId),
                'another chat went with it',
            );
            // It was the open one: the view moves on to another conversation rather than showing a deleted one.
            assert.notEqual(after.conversationId, doomed.conversationId);
            assert.ok(!after.turns.some((t) => t.content === 'Delete this chat'), 'the view still shows the deleted chat');
        } finally {
            detach.dispose();
        }

        // The view opened again (it is rebuilt each time it is shown) asks for the state on `ready`.
        const reopened = recorder();
        const detachReopened = controller().attach(reopened);
        try {
            await controller().handle(reopened, { type: 'ready' });
            assert.ok(!reopened.lastState().history.some((h) => h.id === doomed.conversationId), 'the reopened view lists the deleted chat');
        } finally {
            detachReopened.dispose();
        }

        // A reloaded window builds its history from workspaceState.
        assert.ok(!stored()!.conversations.some((c) => c.id === doomed.conversationId), 'workspaceState still holds the deleted chat');
        const reloaded = new ChatHistory(local.services.context.workspaceState);
        assert.ok(!reloaded.summaries().some((h) => h.id === doomed.conversationId), 'a reload would list the deleted chat');
        assert.ok(
            reloaded.summaries().some((h) => h.id === kept.conversationId),
            'a reload would lose the kept chat',
        );
    });

    it('regenerates the last answer: a new answer from the model replaces it, and the history keeps one', async () => {
        const asked = await conversation('Name a sorting algorithm');
        const old = asked.turns[1];
        const surface = recorder();
        const detach = controller().attach(surface);
        try {
            await controller().handle(surface, { type: 'chat/regenerate' });
            const state = surface.lastState();
            assert.equal(state.conversationId, asked.conversationId);
            assert.deepEqual(
                state.turns.map((t) => t.role),
                ['user', 'assistant'],
                'the old answer was kept beside the new one',
            );
            assert.equal(state.turns[0].content, 'Name a sorting algorithm');
            const answer = state.turns[1];
            assert.equal(answer.status, 'done', answer.error?.message);
            assert.notEqual(answer.id, old.id, 'the answer was not replaced');
            assert.equal(answer.engine?.kind, 'local');
            assert.ok(answer.content.length > 0, 'the new answer is empty');
            // The model samples afresh: the same long answer twice would mean nothing was generated.
            assert.notEqual(answer.content, old.content, 'the new answer is the old one');
            assert.ok(
                surface.messages.some((m) => m.type === 'chat/delta' && m.turnId === answer.id),
                'the new answer was not streamed',
            );
            const turns = stored()!.conversations.find((c) => c.id === asked.conversationId)!.turns;
            assert.deepEqual(
                turns.map((t) => [t.role, t.content]),
                [
                    ['user', 'Name a sorting algorithm'],
                    ['assistant', answer.content],
                ],
            );
        } finally {
            detach.dispose();
        }
    });
});
