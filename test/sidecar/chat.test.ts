/**
 * Chat through the REAL sidecar process over real JSON-RPC, as the extension talks to it:
 * streaming on a partialResultToken, `$/cancelRequest`, concurrent chats, context overflow,
 * typed errors for broken files, token counts, embeddings; and the CLI streaming an answer.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CancellationTokenSource, ResponseError } from 'vscode-jsonrpc/node';
import type { ChatChunk, ChatMessage, ChatResult, SamplingOptions } from '../../src/common/chat';
import { ErrorCode } from '../../src/common/errors';
import {
    ChatChunkType,
    ChatRequest,
    CountTokensRequest,
    EmbeddingsRequest,
    LoadedModelsRequest,
    LoadModelRequest,
    UnloadModelRequest,
    type LoadedModel,
} from '../../src/common/protocol';
import { writeMalformedFixtures } from '../fixtures/gguf/malformed';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { repoRoot, startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';
import { expectResponseError } from '../fixtures/localAiErrors';

let nextToken = 0;

describe('chat through the sidecar', function () {
    this.timeout(120_000);
    const modelPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    let sidecar: SidecarProcess;

    // One thread: the test machines have 2 shared cores, where more threads only contend.
    before(async () => {
        sidecar = await startSidecar({ settings: { threads: 1, gpu: 'off', contextSize: 1024 } });
    });
    after(async () => {
        await sidecar?.stop();
    });

    async function chat(
        messages: ChatMessage[],
        options: SamplingOptions,
        onChunk: (chunk: ChatChunk) => void = () => undefined,
        cancel?: CancellationTokenSource,
    ): Promise<ChatResult> {
        const token = `chat-${nextToken++}`;
        const subscription = sidecar.connection.onProgress(ChatChunkType, token, onChunk);
        try {
            const params = { messages, model: modelPath, options, partialResultToken: token };
            // An undefined token would be sent as a second parameter.
            const request = cancel
                ? sidecar.connection.sendRequest(ChatRequest.method, params, cancel.token)
                : sidecar.connection.sendRequest(ChatRequest.method, params);
            return (await request) as ChatResult;
        } finally {
            subscription.dispose();
        }
    }

    it('loads a model and lists it', async () => {
        const loaded = (await sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath })) as LoadedModel;
        assert.equal(loaded.path, modelPath);
        assert.equal(loaded.device, 'CPU');
        assert.equal(loaded.config.threads, 1);
        const { models } = (await sidecar.connection.sendRequest(LoadedModelsRequest.method)) as { models: LoadedModel[] };
        assert.deepEqual(
            models.map((m) => m.path),
            [modelPath],
        );
    });

    it('streams a start chunk and the text on the partialResultToken', async () => {
        const chunks: ChatChunk[] = [];
        const result = await chat([{ role: 'user', content: 'Hello!' }], { maxTokens: 24, seed: 5 }, (chunk) => chunks.push(chunk));
        assert.equal(chunks[0]?.kind, 'start');
        const streamed = chunks
            .filter((c) => c.kind === 'text')
            .map((c) => (c.kind === 'text' ? c.text : ''))
            .join('');
        assert.equal(streamed, result.text);
        // Batched by time (stream.test.ts holds the bounds): 24 tokens of the tiny model may fit in one batch.
        assert.ok(chunks.length >= 2, `only ${chunks.length} chunks`);
        assert.equal(result.usage.completionTokens, 24);
        assert.equal(result.engine.kind, 'local');
    });

    it('stops generating when the request is cancelled', async () => {
        const cancel = new CancellationTokenSource();
        let textChunks = 0;
        let afterCancel = 0;
        const outcome = await chat(
            [{ role: 'user', content: 'Talk forever.' }],
            { maxTokens: 3000 },
            (chunk) => {
                if (chunk.kind !== 'text') return;
                if (cancel.token.isCancellationRequested) afterCancel++;
                else if (++textChunks === 5) cancel.cancel();
            },
            cancel,
        ).then(
            (result) => result,
            (error: unknown) => error,
        );
        if (outcome instanceof ResponseError) {
            assert.equal(outcome.code, ErrorCode.Cancelled);
        } else {
            assert.equal((outcome as ChatResult).finishReason, 'cancelled');
            assert.ok((outcome as ChatResult).usage.completionTokens < 300, `${(outcome as ChatResult).usage.completionTokens} tokens were generated`);
        }
        assert.ok(afterCancel < 200, `${afterCancel} chunks arrived after the cancel`);
        // The sequence is free again: the next chat is answered.
        const next = await chat([{ role: 'user', content: 'Still there?' }], { maxTokens: 5, seed: 1 });
        assert.equal(next.finishReason, 'length');
        assert.equal(next.usage.completionTokens, 5);
    });

    it('answers 4 concurrent chats completely', async () => {
        const results = await Promise.all([0, 1, 2, 3].map((i) => chat([{ role: 'user', content: `Question ${i}` }], { maxTokens: 20, seed: i })));
        assert.deepEqual(
            results.map((r) => r.usage.completionTokens),
            [20, 20, 20, 20],
        );
    });

    it('reports the overflow strategy when old turns are dropped', async () => {
        await sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath, config: { contextSize: 512 } });
        const messages: ChatMessage[] = [{ role: 'system', content: 'Be brief.' }];
        const filler = 'Words that take up room in the context window. '.repeat(10);
        for (let i = 0; i < 6; i++) messages.push({ role: 'user', content: filler }, { role: 'assistant', content: 'Noted.' });
        messages.push({ role: 'user', content: 'Summarise.' });
        const chunks: ChatChunk[] = [];
        const result = await chat(messages, { maxTokens: 8 }, (chunk) => chunks.push(chunk));
        assert.equal(result.truncation?.strategy, 'dropOldest');
        assert.ok(result.truncation!.droppedMessages > 0);
        assert.deepEqual(chunks[0]?.kind === 'start' && chunks[0].truncation, result.truncation);
    });

    it('answers ContextOverflow with the numbers for a prompt that cannot fit', async () => {
        const error = await expectResponseError(chat([{ role: 'user', content: 'long '.repeat(2000) }], { maxTokens: 8 }), ErrorCode.ContextOverflow);
        const data = error.data as { needed: number; available: number; unit: string };
        assert.equal(data.unit, 'tokens');
        assert.ok(data.needed > data.available);
    });

    it('counts tokens and creates embeddings', async () => {
        const count = (await sidecar.connection.sendRequest(CountTokensRequest.method, { model: modelPath, text: 'Hello, world!' })) as {
            tokens: number;
            contextSize: number;
        };
        assert.ok(count.tokens > 1 && count.contextSize >= 512);
        const { vectors } = (await sidecar.connection.sendRequest(EmbeddingsRequest.method, { model: modelPath, input: ['one', 'two'] })) as {
            vectors: number[][];
        };
        assert.equal(vectors.length, 2);
        assert.equal(vectors[0].length, tinyModel.nEmbd);
    });

    it('answers InvalidModelFile naming the file for a non-GGUF and a truncated file', async () => {
        const files = writeMalformedFixtures(path.join(defaultFixtureDir(), 'malformed'), ['notGguf', 'truncatedTensorData']);
        for (const file of Object.values(files)) {
            const error = await expectResponseError(sidecar.connection.sendRequest(LoadModelRequest.method, { model: file }), ErrorCode.InvalidModelFile);
            assert.ok(error.message.includes(path.basename(file)), error.message);
        }
    });

    it('unloads the model', async () => {
        await sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath });
        const { unloaded } = (await sidecar.connection.sendRequest(UnloadModelRequest.method, {})) as { unloaded: string[] };
        assert.deepEqual(unloaded, [modelPath]);
    });

    it('streams an answer from the CLI', async () => {
        const cli = path.join(repoRoot(), 'dist', 'cli.mjs');
        assert.ok(fs.existsSync(cli), 'dist/cli.mjs is built');
        const child = spawn(
            process.execPath,
            [cli, 'chat', 'Hello from the command line', '--model', modelPath, '--max-tokens', '12', '--seed', '1', '--threads', '1', '--json'],
            { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (data: Buffer) => {
            stdout += data.toString();
        });
        child.stderr.on('data', (data: Buffer) => {
            stderr += data.toString();
        });
        const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
        assert.equal(code, 0, stderr);
        const lines = stdout
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line) as { kind: string; text?: string; result?: ChatResult });
        assert.equal(lines[0].kind, 'start');
        const result = lines.at(-1)!.result!;
        assert.equal(result.usage.completionTokens, 12);
        assert.equal(
            lines
                .filter((l) => l.kind === 'text')
                .map((l) => l.text)
                .join(''),
            result.text,
        );
    });
});
