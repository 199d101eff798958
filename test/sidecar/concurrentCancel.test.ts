/**
 * Cancelling one of several chats at once (issue #21 §2's cancel bug), through the REAL sidecar over
 * JSON-RPC on a generated model. A `$/cancelRequest` can come at any moment of a request's life: in the
 * same read as the request itself (so the sidecar starts its handler with the token already cancelled),
 * or while it streams. Whatever the moment, the cancelled chat
 * ends cancelled (a Cancelled error, or finishReason 'cancelled' with the text so far), never at its
 * length, and the chats beside it finish as asked.
 */
import * as assert from 'node:assert/strict';
import { CancellationTokenSource, ResponseError } from 'vscode-jsonrpc/node';
import type { ChatChunk, ChatResult } from '../../src/common/chat';
import { ErrorCode } from '../../src/common/errors';
import { ChatChunkType, ChatRequest, LoadModelRequest } from '../../src/common/protocol';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';

/** Long enough that an answer run to its length takes seconds, not the moment a cancel takes. */
const LONG = 600;
/** What the chats beside the cancelled one generate. */
const SHORT = 40;

let nextToken = 0;

describe('cancelling one of several concurrent chats', function () {
    this.timeout(180_000);
    const modelPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    let sidecar: SidecarProcess;

    // One thread: the test machines have 2 shared cores, where more threads only contend.
    before(async () => {
        sidecar = await startSidecar({ settings: { threads: 1, gpu: 'off', contextSize: 4096 } });
        await sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath });
    });
    after(async () => {
        await sidecar?.stop();
    });

    type Outcome = { result: ChatResult } | { error: ResponseError<unknown> };

    /** Sends a chat; `onSent` runs in the same tick as the request is written, `onText` on each text chunk. */
    function chat(
        content: string,
        maxTokens: number,
        cancel?: CancellationTokenSource,
        extras: { onSent?: () => void; onText?: () => void } = {},
    ): Promise<Outcome> {
        const token = `cancel-${nextToken++}`;
        const subscription = sidecar.connection.onProgress(ChatChunkType, token, (chunk: ChatChunk) => {
            if (chunk.kind === 'text') extras.onText?.();
        });
        const params = {
            messages: [{ role: 'user', content }],
            model: modelPath,
            options: { maxTokens, seed: 3 },
            partialResultToken: token,
        };
        // An undefined token would be sent as a second parameter.
        const request = cancel
            ? sidecar.connection.sendRequest(ChatRequest.method, params, cancel.token)
            : sidecar.connection.sendRequest(ChatRequest.method, params);
        extras.onSent?.();
        return (request as Promise<ChatResult>)
            .then(
                (result) => ({ result }),
                (error: unknown) => {
                    if (error instanceof ResponseError) return { error };
                    throw error;
                },
            )
            .finally(() => subscription.dispose());
    }

    function assertCancelled(outcome: Outcome, when: string): void {
        if ('error' in outcome) {
            assert.equal(outcome.error.code, ErrorCode.Cancelled, `${when}: ${outcome.error.message}`);
            return;
        }
        const { finishReason, usage } = outcome.result;
        assert.equal(finishReason, 'cancelled', `${when}: the answer ran on to ${usage.completionTokens} tokens`);
    }

    function assertFinished(outcome: Outcome, when: string): void {
        assert.ok('result' in outcome, `${when}: a chat beside the cancelled one failed: ${'error' in outcome ? outcome.error.message : ''}`);
        assert.equal(outcome.result.usage.completionTokens, SHORT, `${when}: a chat beside the cancelled one`);
    }

    it('ends a chat cancelled in the same breath as it was sent as cancelled, with others running', async () => {
        for (let round = 0; round < 3; round++) {
            const others = [chat(`Neighbour ${round} a.`, SHORT), chat(`Neighbour ${round} b.`, SHORT)];
            const cancel = new CancellationTokenSource();
            // The request and its $/cancelRequest leave in one tick, so the sidecar reads them together.
            const cancelled = chat(`Cancelled at once ${round}.`, LONG, cancel, { onSent: () => cancel.cancel() });
            assertCancelled(await cancelled, `round ${round}`);
            for (const other of await Promise.all(others)) assertFinished(other, `round ${round}`);
            cancel.dispose();
        }
    });

    it('ends a chat cancelled mid-answer as cancelled while others stream beside it', async () => {
        for (let round = 0; round < 3; round++) {
            const others = [chat(`Streaming ${round} a.`, SHORT), chat(`Streaming ${round} b.`, SHORT)];
            const cancel = new CancellationTokenSource();
            let texts = 0;
            const cancelled = chat(`Cancelled mid-answer ${round}.`, LONG, cancel, {
                onText: () => {
                    if (++texts === round + 1) cancel.cancel();
                },
            });
            const outcome = await cancelled;
            assertCancelled(outcome, `round ${round}`);
            if ('result' in outcome) assert.ok(outcome.result.usage.completionTokens < LONG / 2, `${outcome.result.usage.completionTokens} tokens`);
            for (const other of await Promise.all(others)) assertFinished(other, `round ${round}`);
            cancel.dispose();
        }
    });
});
