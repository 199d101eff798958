// What the user reads when the sidecar refuses: each error code becomes a sentence with numbers and
// the buttons that fix it (src/extension/errors.ts).
import * as assert from 'node:assert/strict';
import { ErrorCode } from '../../src/common/errors';
import { describeChatError } from '../../src/extension/chat/chatErrors';
import { explainError } from '../../src/extension/errors';
import { SidecarError } from '../../src/extension/sidecarClient';

const GB = 1024 ** 3;

describe('Error messages', () => {
    it('quotes the memory a model needs and offers a smaller quantization', () => {
        const error = new SidecarError('Qwen2.5 7B Q8_0 does not fit this machine.', ErrorCode.ModelDoesNotFit, {
            needed: 9.1 * GB,
            available: 6.2 * GB,
            unit: 'bytes',
        });
        const explained = explainError(error, { model: 'qwen2.5-7b' });
        assert.match(explained.message, /needs 9\.1 GB, 6\.2 GB is free/);
        assert.deepEqual(
            explained.actions.map((action) => action.title),
            ['Choose Quantization'],
        );
        assert.equal(explained.show, true);
    });

    it('sends a gated model to its page and asks for a token', () => {
        const error = new SidecarError('meta-llama/Llama-3.2-3B needs you to accept its license.', ErrorCode.Unauthorized, {
            url: 'https://huggingface.co/meta-llama/Llama-3.2-3B',
        });
        const explained = explainError(error);
        assert.match(explained.message, /accept its license on Hugging Face, then set a token/);
        assert.deepEqual(
            explained.actions.map((action) => action.title),
            ['Open Model Page', 'Set Token'],
        );
    });

    it('says a failed download resumes, and offers to try again', () => {
        const explained = explainError(new SidecarError('The hub stopped answering.', ErrorCode.DownloadFailed), { retry: () => undefined });
        assert.match(explained.message, /downloading again resumes it/);
        assert.deepEqual(
            explained.actions.map((action) => action.title),
            ['Try Again', 'Show Logs'],
        );
    });

    it('adds the sidecar’s own hint, and keeps quiet about a cancellation the user asked for', () => {
        const offline = explainError(new SidecarError('Offline mode is on.', ErrorCode.NetworkError, { hint: 'Turn off localAi.offline to reach the hub.' }));
        assert.match(offline.message, /Turn off localAi\.offline to reach the hub\.$/);
        assert.equal(explainError(new SidecarError('Request cancelled', ErrorCode.Cancelled)).show, false);
    });

    it('offers to restart a sidecar that went away, whatever code the request failed with', () => {
        const explained = explainError(
            new SidecarError('The Local AI sidecar stopped while answering and is restarting.', ErrorCode.LoadFailed, undefined, true),
        );
        assert.deepEqual(
            explained.actions.map((action) => action.title),
            ['Restart Sidecar', 'Show Logs'],
        );
    });

    it('gives the notification and the chat the same sentence for the same error', () => {
        const error = new SidecarError('The prompt is larger than the context.', ErrorCode.ContextOverflow, { needed: 5000, available: 4096, unit: 'tokens' });
        const chat = describeChatError(error);
        assert.equal(chat.message, explainError(error).message);
        assert.match(chat.message, /The prompt has 5,000 tokens, the model takes 4,096 tokens\. Shorten it, start a new chat/);
        assert.equal(chat.action, 'newChat');
        assert.deepEqual(
            explainError(error).actions.map((action) => action.title),
            ['Open Settings'],
        );
    });
});
