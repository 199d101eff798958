/**
 * The local OpenAI-compatible server as other tools use it: the official `openai` SDK against the REAL
 * `local-ai serve` on the generated tiny model. Models, chat (streaming and not, with usage), stop
 * sequences, embeddings, cancellation when the client disconnects, and 20 concurrent streams.
 */
import * as assert from 'node:assert/strict';
import { MAX_AUTO_SEQUENCES } from '../../src/sidecar/llama/memoryModel';
import { defaultFixtureDir, ensureFixtureModel, tinyCoderModel, tinyModel } from '../fixtures/gguf/model';
import { startServe, type ServeProcess } from '../fixtures/serveProcess';

describe('local server through the openai SDK', function () {
    this.timeout(180_000);
    let serve: ServeProcess;

    before(async () => {
        serve = await startServe(ensureFixtureModel(defaultFixtureDir(), tinyModel));
    });
    after(async () => {
        await serve?.stop();
    });

    /** The same question each time: with a seed and temperature 0 the answer is the same too. */
    const question = (content = 'Tell me about the sea.') => [{ role: 'user' as const, content }];

    it('lists the installed model by its id and by its file', async () => {
        const ids = [];
        for await (const model of serve.client().models.list()) ids.push(model.id);
        assert.deepEqual(ids.sort(), [serve.modelId, serve.modelPath].sort());
    });

    it('answers a chat with the model named by id, and reports the usage', async () => {
        const answer = await serve.client().chat.completions.create({ model: serve.modelId, messages: question(), max_tokens: 6, seed: 7, temperature: 0 });
        assert.equal(answer.object, 'chat.completion');
        assert.equal(answer.choices[0].finish_reason, 'length');
        assert.ok(answer.choices[0].message.content, 'an empty answer');
        assert.equal(answer.usage?.completion_tokens, 6);
        assert.ok((answer.usage?.prompt_tokens ?? 0) > 0);
        assert.equal(answer.usage?.total_tokens, (answer.usage?.prompt_tokens ?? 0) + 6);
    });

    it('streams the same answer, with the usage last when asked', async () => {
        const request = { model: serve.modelPath, messages: question(), max_completion_tokens: 8, seed: 3, temperature: 0 };
        const whole = await serve.client().chat.completions.create(request);
        const stream = await serve.client().chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
        let text = '';
        const finishReasons: (string | null)[] = [];
        let usage: { completion_tokens: number } | undefined | null;
        for await (const chunk of stream) {
            text += chunk.choices[0]?.delta.content ?? '';
            if (chunk.choices[0]?.finish_reason) finishReasons.push(chunk.choices[0].finish_reason);
            if (chunk.usage) usage = chunk.usage;
        }
        assert.equal(text, whole.choices[0].message.content);
        assert.deepEqual(finishReasons, ['length']);
        assert.equal(usage?.completion_tokens, 8);
    });

    it('stops before a stop sequence', async () => {
        const request = { model: serve.modelPath, messages: question('Count with me.'), max_tokens: 16, seed: 11, temperature: 0 };
        const full = (await serve.client().chat.completions.create(request)).choices[0].message.content ?? '';
        // Three characters from the middle of the answer: it must end just before their first occurrence.
        const stop = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 3);
        assert.equal(stop.length, 3, `the answer is too short: ${JSON.stringify(full)}`);
        const stopped = await serve.client().chat.completions.create({ ...request, stop: [stop] });
        assert.equal(stopped.choices[0].message.content, full.slice(0, full.indexOf(stop)));
        assert.equal(stopped.choices[0].finish_reason, 'stop');
    });

    it('completes a prompt, filling in the middle before a suffix', async () => {
        const coder = ensureFixtureModel(defaultFixtureDir(), tinyCoderModel);
        const request = { model: coder, prompt: 'def add(a, b):\n    return ', max_tokens: 8, seed: 2, temperature: 0 };
        const suffix = '\n\nprint(add(1, 2))\n';
        const plain = await serve.client().completions.create(request);
        const filled = await serve.client().completions.create({ ...request, suffix });
        assert.equal(filled.object, 'text_completion');
        assert.equal(filled.choices[0].finish_reason, 'length');
        assert.equal(filled.usage?.completion_tokens, 8);
        // The suffix is in the prompt the model saw, after FIM tokens of its own.
        assert.ok((filled.usage?.prompt_tokens ?? 0) > (plain.usage?.prompt_tokens ?? 0) + 3, JSON.stringify([filled.usage, plain.usage]));
        let streamed = '';
        for await (const chunk of await serve.client().completions.create({ ...request, suffix, stream: true })) streamed += chunk.choices[0]?.text ?? '';
        assert.equal(streamed, filled.choices[0].text);
        // A model without FIM tokens cannot fill in the middle: a 400 that says so.
        await assert.rejects(
            serve.client().completions.create({ ...request, model: serve.modelPath, suffix }),
            (error: unknown) => error instanceof Error && 'status' in error && error.status === 400 && /fill-in-the-middle/.test(error.message),
        );
    });

    it('creates embeddings, in both encodings', async () => {
        const input = ['the sea', 'a mountain'];
        // The SDK asks for base64 by default and decodes it into floats.
        const encoded = await serve.client().embeddings.create({ model: serve.modelId, input });
        const floats = await serve.client().embeddings.create({ model: serve.modelId, input, encoding_format: 'float' });
        assert.deepEqual(
            encoded.data.map((each) => each.index),
            [0, 1],
        );
        assert.equal(encoded.data[0].embedding.length, tinyModel.nEmbd);
        assert.notDeepEqual(encoded.data[0].embedding, encoded.data[1].embedding);
        for (const [i, vector] of floats.data.entries()) {
            assert.deepEqual(
                vector.embedding.map((value) => Math.fround(value)),
                encoded.data[i].embedding,
            );
        }
        assert.ok(encoded.usage.prompt_tokens >= 2);
    });

    it('stops generating within 100 ms when the client disconnects', async () => {
        const stream = await serve
            .client()
            .chat.completions.create({ model: serve.modelPath, messages: question('Talk forever.'), max_tokens: 3000, seed: 5, stream: true });
        let chunks = 0;
        for await (const chunk of stream) {
            if (chunk.choices[0]?.delta.content && ++chunks === 5) break;
        }
        // Leaving the loop aborts the request: the socket closes.
        const line = await serve.logLine(/client left/);
        const stoppedMs = Number(/generation stopped (\d+) ms later/.exec(line)?.[1]);
        assert.ok(stoppedMs <= 100, line);
        const generated = Number(/tokens=\d+\+(\d+)/.exec(line)?.[1]);
        assert.ok(generated < 3000, line);
    });

    it('completes 20 concurrent streams, first come first served', async () => {
        const client = serve.client();
        const firstTokens: number[] = [];
        const consume = async (stream: AsyncIterable<{ choices: { delta: { content?: string | null }; finish_reason: string | null }[] }>, i: number) => {
            let finish: string | null = null;
            for await (const chunk of stream) {
                if (chunk.choices[0]?.delta.content && !firstTokens.includes(i)) firstTokens.push(i);
                finish = chunk.choices[0]?.finish_reason ?? finish;
            }
            return finish;
        };
        // Each stream is accepted (its headers arrive) before the next is sent, so the order they arrived in is
        // known; each is read from then on. Long enough answers that most wait for a sequence.
        const reading: Promise<string | null>[] = [];
        for (let i = 0; i < 20; i++) {
            const stream = await client.chat.completions.create({
                model: serve.modelPath,
                messages: question(`Stream ${i}.`),
                max_tokens: 200,
                seed: i,
                stream: true,
            });
            reading.push(consume(stream, i));
        }
        assert.deepEqual(await Promise.all(reading), Array(20).fill('length'));
        // FIFO: a stream starts no later than those that arrived after it, give or take the ones generated beside it.
        for (const [rank, i] of firstTokens.entries())
            assert.ok(Math.abs(rank - i) < MAX_AUTO_SEQUENCES, `stream ${i} got its first token ${rank}th: ${firstTokens.join(',')}`);
    });
});
