/**
 * Every conversation keeps its KV cache (issue #21 §1). Through the REAL sidecar over JSON-RPC on a
 * generated model, each answer says how many prompt tokens llama.cpp evaluated for it
 * (usage.evaluatedPromptTokens), so reuse is asserted on token counts, never on times: a follow-up, a
 * conversation taken up again after others, three in rotation, one evicted beyond the sequences (saved and
 * loaded again, or evaluated again when too short to save, with the same greedy answer either way). The
 * sequence pool on a real context, for what the protocol cannot show: requests at once never share a
 * sequence, a cancelled request leaves the line, and chat never takes code completion's sequence.
 */
import * as assert from 'node:assert/strict';
import type { LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import type { ChatMessage, ChatResult } from '../../src/common/chat';
import { ChatRequest, LoadModelRequest, type LoadedModel } from '../../src/common/protocol';
import { LlamaRuntime } from '../../src/sidecar/llama/runtime';
import { SequencePool } from '../../src/sidecar/local/sequencePool';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';

const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
/** About 300 tokens of the tiny model's tokenizer after a tag of its own, so conversations share no more than the template's opening. */
const filler = 'the keeper climbs the stairs of the lighthouse and trims the wick before the storm '.repeat(12);

describe('conversations keep their KV cache', function () {
    this.timeout(120_000);
    const modelPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    let sidecar: SidecarProcess;
    /** Sequences the sidecar chose for the model (auto: as many as memory allows, up to 4). */
    let sequences: number;

    // One thread: the test machines have 2 shared cores, where more threads only contend.
    before(async () => {
        sidecar = await startSidecar({ settings: { threads: 1, gpu: 'off', contextSize: 1024 } });
        const loaded = (await sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath })) as LoadedModel;
        sequences = loaded.config.sequences ?? 0;
    });
    after(async () => {
        await sidecar?.stop();
    });

    async function chat(messages: ChatMessage[]): Promise<ChatResult> {
        return (await sidecar.connection.sendRequest(ChatRequest.method, {
            messages,
            model: modelPath,
            options: { maxTokens: 8, temperature: 0 },
        })) as ChatResult;
    }

    /** A conversation that grows by a turn at a time, remembering each answer. */
    function conversation(tag: string) {
        const messages: ChatMessage[] = [{ role: 'user', content: `${tag}: ${filler}` }];
        let turns = 0;
        return {
            messages,
            async turn(): Promise<ChatResult> {
                if (messages.at(-1)?.role === 'assistant') messages.push({ role: 'user', content: `Go on, ${tag} (${++turns}).` });
                const result = await chat(messages);
                messages.push({ role: 'assistant', content: result.text });
                return result;
            },
        };
    }

    /**
     * A turn that found its conversation in the cache evaluates at most what was added since its last turn
     * (a prompt already whole in the cache still evaluates its last token, for the next token's odds).
     */
    function assertReused(turn: ChatResult, previous: ChatResult, what: string): void {
        const added = Math.max(1, turn.usage.promptTokens - previous.usage.promptTokens);
        assert.ok(previous.usage.promptTokens > 250, `the conversation is long enough to tell (${previous.usage.promptTokens} tokens)`);
        assert.ok(
            turn.usage.evaluatedPromptTokens !== undefined && turn.usage.evaluatedPromptTokens <= added,
            `${what}: ${turn.usage.evaluatedPromptTokens} prompt tokens evaluated, ${added} were new (of ${turn.usage.promptTokens})`,
        );
    }

    it('chooses more than one sequence for a small model, and says so', () => {
        assert.ok(sequences >= 3, `${sequences} sequences`);
    });

    it('evaluates a first turn whole, and only the new tokens of a follow-up', async () => {
        const a = conversation('Follow-up');
        const first = await a.turn();
        assert.equal(first.usage.evaluatedPromptTokens, first.usage.promptTokens);
        assertReused(await a.turn(), first, 'follow-up');
    });

    it('takes conversation A up again after B without evaluating A again', async () => {
        const a = conversation('Back A');
        const b = conversation('Back B');
        const firstA = await a.turn();
        await b.turn();
        assertReused(await a.turn(), firstA, 'back to A');
    });

    it('keeps three conversations in rotation', async () => {
        const talks = ['Rotation A', 'Rotation B', 'Rotation C'].map(conversation);
        let last = [];
        for (const talk of talks) last.push(await talk.turn());
        for (let round = 0; round < 2; round++) {
            const next = [];
            for (const [index, talk] of talks.entries()) {
                const turn = await talk.turn();
                assertReused(turn, last[index], `round ${round}, conversation ${index}`);
                next.push(turn);
            }
            last = next;
        }
    });

    it('saves the least recently used conversation when the sequences run out, and loads it back with the same answer', async () => {
        const a = conversation('Evicted');
        await a.turn();
        const asked = [...a.messages, { role: 'user' as const, content: 'And then?' }];
        const before = await chat(asked);
        // One conversation more than there are sequences: the oldest, A, has to give its sequence up.
        const logged = sidecar.logs.length;
        for (let i = 0; i < sequences; i++) await conversation(`Newer ${i}`).turn();
        const saved = statesLogged('Saved', logged);
        assert.ok(
            saved.some((tokens) => tokens >= before.usage.promptTokens),
            `A (${before.usage.promptTokens} tokens) was saved; saved: ${saved.join(', ')}`,
        );
        const after = await chat(asked);
        assert.equal(after.text, before.text);
        assertReused(after, before, 'A after its eviction');
        assert.ok(
            statesLogged('Loaded', logged).some((tokens) => tokens >= before.usage.promptTokens),
            "A's state was loaded back",
        );
    });

    /** Token counts of the states saved or loaded since log line `from` (the pool logs each one). */
    function statesLogged(what: 'Saved' | 'Loaded', from: number): number[] {
        const pattern = new RegExp(`${what} a conversation's state \\((\\d+) tokens\\)`);
        return sidecar.logs
            .slice(from)
            .map((line) => pattern.exec(line)?.[1])
            .filter((count) => count !== undefined)
            .map(Number);
    }

    it('evaluates again a conversation too short to save, with the same answer', async () => {
        const asked: ChatMessage[] = [{ role: 'user', content: 'Short one.' }];
        const before = await chat(asked);
        assert.ok(before.usage.promptTokens < 32, `${before.usage.promptTokens} tokens`);
        for (let i = 0; i < sequences; i++) await conversation(`Pushing ${i}`).turn();
        const after = await chat(asked);
        assert.equal(after.text, before.text);
        // Not the single token of a prompt whole in the cache: evaluated again (but for the template's opening, which any conversation shares).
        assert.ok((after.usage.evaluatedPromptTokens ?? 0) > 1, `${after.usage.evaluatedPromptTokens} tokens evaluated`);
    });
});

describe('the sequence pool on a real context', function () {
    this.timeout(60_000);
    const runtime = new LlamaRuntime({ log: silent, gpu: 'off' });
    let model: LlamaModel;
    let context: LlamaContext;

    before(async () => {
        const llama = await runtime.get();
        model = await llama.loadModel({ modelPath: ensureFixtureModel(defaultFixtureDir(), tinyModel) });
    });
    beforeEach(async () => {
        context = await model.createContext({ contextSize: 256, sequences: 3, threads: 1 });
    });
    afterEach(async () => {
        await context?.dispose();
    });
    // The Llama stays: its native binding is process-wide and other test files in this mocha run use it.
    after(async () => {
        await model?.dispose();
    });

    it('never hands a sequence to two requests at once; the next in line gets the first one released', async () => {
        const pool = new SequencePool(context);
        try {
            const held = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
            assert.equal(new Set(held).size, 3);
            const waiting = pool.acquire();
            assert.equal(pool.queued, 1);
            pool.release(held[1]);
            assert.equal(await waiting, held[1]);
            assert.equal(pool.queued, 0);
        } finally {
            pool.dispose();
        }
    });

    it('lets a cancelled request leave the line', async () => {
        const pool = new SequencePool(context);
        try {
            const held = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
            const cancel = new AbortController();
            const waiting = pool.acquire({ signal: cancel.signal });
            cancel.abort();
            await assert.rejects(waiting, /cancelled|aborted/i);
            assert.equal(pool.queued, 0);
            pool.release(held[0]);
            assert.equal(await pool.acquire(), held[0]);
        } finally {
            pool.dispose();
        }
    });

    it("never gives chat the code completion's last sequence", async () => {
        const pool = new SequencePool(context);
        try {
            const completion = await pool.acquire({ lane: 'completion' });
            pool.release(completion);
            const chats: LlamaContextSequence[] = [await pool.acquire(), await pool.acquire()];
            assert.ok(!chats.includes(completion));
            // Both chat sequences busy: a third chat waits rather than take completion's free one.
            const third = pool.acquire();
            assert.equal(pool.queued, 1);
            pool.release(chats[0]);
            assert.equal(await third, chats[0]);
            // Completion, though, may take a chat sequence when chat keeps another.
            pool.release(chats[1]);
            pool.release(chats[0]);
            const busyCompletion = await pool.acquire({ lane: 'completion' });
            assert.equal(busyCompletion, completion);
            assert.ok(chats.includes(await pool.acquire({ lane: 'completion' })));
        } finally {
            pool.dispose();
        }
    });
});
