import * as assert from 'node:assert/strict';
import { parseExtensionMessage, parseWebviewMessage, type ChatViewState } from '../../src/common/webviewProtocol';

const state: ChatViewState = {
    conversationId: 'c1',
    turns: [
        {
            id: 't1',
            role: 'user',
            content: 'Why?',
            status: 'done',
            attachments: [{ kind: 'selection', label: 'a.ts:1-2', uri: 'file:///a.ts', languageId: 'typescript', content: 'x' }],
        },
        {
            id: 't2',
            role: 'assistant',
            content: 'Because.',
            status: 'error',
            engine: { kind: 'local', model: 'tiny', modelName: 'Tiny', device: 'CPU', contextSize: 2048 },
            error: { message: 'The sidecar stopped', action: 'restartSidecar' },
        },
    ],
    history: [{ id: 'c1', title: 'Why?', updatedAt: 1 }],
    models: [{ id: '', label: 'Default model', detail: 'Local' }],
    selectedModel: '',
    pendingAttachments: [],
    streaming: false,
    gauge: { tokens: 12, contextSize: 2048 },
};

describe('webview protocol', () => {
    describe('messages from the webview', () => {
        it('accepts every well-formed message', () => {
            const valid: unknown[] = [
                { type: 'ready' },
                { type: 'chat/send', text: 'hello' },
                { type: 'chat/stop' },
                { type: 'chat/regenerate' },
                { type: 'chat/new' },
                { type: 'chat/action', action: 'downloadModel' },
                { type: 'model/select', modelId: 'cloud:openai:gpt-4o-mini' },
                { type: 'context/attach', kind: 'file' },
                { type: 'context/remove', index: 0 },
                { type: 'history/open', conversationId: 'c1' },
                { type: 'history/delete', conversationId: 'c1' },
                { type: 'code/copy', code: 'x' },
                { type: 'code/insert', code: 'x' },
                { type: 'code/apply', code: 'x' },
            ];
            for (const message of valid) assert.deepEqual(parseWebviewMessage(message), { ok: true, message }, JSON.stringify(message));
        });

        it('rejects unknown types, missing fields and wrong field types with the reason', () => {
            const cases: [unknown, RegExp][] = [
                [null, /must be an object/],
                ['chat/send', /must be an object/],
                [{ type: 'chat/exec', text: 'rm -rf' }, /unknown message type/],
                [{ type: '__proto__' }, /unknown message type/],
                [{ type: 'chat/send' }, /chat\/send\.text must be a string/],
                [{ type: 'chat/send', text: 42 }, /text must be a string/],
                [{ type: 'chat/action', action: 'runCommand' }, /action must be one of/],
                [{ type: 'context/attach', kind: 'workspace' }, /kind must be one of/],
                [{ type: 'context/remove', index: Number.NaN }, /finite number/],
            ];
            for (const [message, reason] of cases) {
                const parsed = parseWebviewMessage(message);
                assert.equal(parsed.ok, false, JSON.stringify(message));
                if (!parsed.ok) assert.match(parsed.problem, reason);
            }
        });
    });

    describe('messages from the extension', () => {
        it('accepts a full state, deltas and focus', () => {
            for (const message of [{ type: 'state', state }, { type: 'chat/delta', turnId: 't2', text: 'more' }, { type: 'focus' }]) {
                assert.equal(parseExtensionMessage(message).ok, true, JSON.stringify(message));
            }
        });

        it('rejects a state whose nested turn is malformed, naming the field', () => {
            const broken = { ...state, turns: [{ ...state.turns[0], status: 'exploded' }] };
            const parsed = parseExtensionMessage({ type: 'state', state: broken });
            assert.equal(parsed.ok, false);
            if (!parsed.ok) assert.match(parsed.problem, /state\.turns\[0\]\.status/);
            const badAttachment = { ...state, pendingAttachments: [{ kind: 'file', label: 'a' }] };
            assert.equal(parseExtensionMessage({ type: 'state', state: badAttachment }).ok, false);
        });
    });
});
