/**
 * Conversations through the real sidecar (JSON-RPC, as the extension talks to it), on a generated
 * ~170 MB f16 model with 1 thread, as issue #21 measured:
 * - time to first token of a follow-up ÷ the first turn's (target ≤ 0.1×), of coming back to a
 *   conversation after another one (≤ 0.15×), and of three conversations in rotation (≤ 0.15×);
 * - the follow-up's time to first token at 500 / 1,500 / 3,000 tokens of conversation (it should stay flat);
 * - 1 / 4 / 16 chats at once: total tokens/s and the p95 time to first token.
 * Each ratio's baseline is the first turn of a conversation of the same length in the same round: the
 * whole prompt evaluated, which is what every turn cost before the cache was kept.
 */
import type { ChatMessage, ChatResult } from '../src/common/chat';
import { ChatRequest, CountTokensRequest, LoadModelRequest } from '../src/common/protocol';
import { defaultFixtureDir, ensureFixtureModel, type FixtureModelParams } from '../test/fixtures/gguf/model';
import { startSidecar, type SidecarProcess } from '../test/fixtures/sidecarProcess';
import { compare, median, report, summarize, runBench } from './lib';

/** About 173 MB of f16 weights: the size issue #21 measured on. */
const conversationModel: FixtureModelParams = { name: 'conv170m', nLayer: 16, nEmbd: 512, nHead: 8, nFf: 1536, nVocab: 32000, quant: 'F16' };
const threads = 1;
/** Holds the longest conversation (3,000 tokens) and its answers. */
const contextSize = 4096;
/** Tokens of each answer: enough to follow up on, few enough to keep the rounds short. */
const answerTokens = 8;
/** Rounds; `LOCAL_AI_BENCH_ROUNDS` lowers it for a quick look. */
const rounds = Number(process.env.LOCAL_AI_BENCH_ROUNDS) || 5;

function progress(message: string): void {
    process.stderr.write(`[conversations bench] ${message}\n`);
}

class Conversations {
    private tokenText: { words: string; tokens: number } | undefined;

    constructor(
        private readonly sidecar: SidecarProcess,
        private readonly modelPath: string,
    ) {}

    async chat(messages: ChatMessage[], maxTokens = answerTokens): Promise<ChatResult> {
        return (await this.sidecar.connection.sendRequest(ChatRequest.method, {
            messages,
            model: this.modelPath,
            options: { maxTokens, temperature: 0 },
        })) as ChatResult;
    }

    /** A first message of about `tokens` tokens whose very first words are its own, so no two share a prefix. */
    async opening(tag: string, tokens: number): Promise<ChatMessage[]> {
        if (!this.tokenText) {
            const words = 'the keeper climbs the stairs of the lighthouse and trims the wick before the storm comes in from the sea ';
            const counted = (await this.sidecar.connection.sendRequest(CountTokensRequest.method, { model: this.modelPath, text: words.repeat(20) })) as {
                tokens: number;
            };
            this.tokenText = { words, tokens: counted.tokens / 20 };
        }
        const repeats = Math.max(1, Math.round(tokens / this.tokenText.tokens));
        return [{ role: 'user', content: `${tag}: ${this.tokenText.words.repeat(repeats)}` }];
    }
}

/** A conversation that grows by one turn at a time; each turn returns its time to first token. */
class Conversation {
    private messages: ChatMessage[] = [];
    private turns = 0;

    constructor(
        private readonly chats: Conversations,
        private readonly tag: string,
    ) {}

    async start(tokens: number): Promise<number> {
        this.messages = await this.chats.opening(this.tag, tokens);
        return this.turn();
    }

    followUp(): Promise<number> {
        this.messages.push({ role: 'user', content: `Go on (${this.tag}, turn ${++this.turns}).` });
        return this.turn();
    }

    private async turn(): Promise<number> {
        const result = await this.chats.chat(this.messages);
        this.messages.push({ role: 'assistant', content: result.text });
        return result.timings.timeToFirstTokenMs;
    }
}

/** Follow-up, back to A after B, and three in rotation, at ~1,500 tokens each. */
async function switching(chats: Conversations) {
    const first: number[] = [];
    const followUp: number[] = [];
    const back: number[] = [];
    const rotation: number[] = [];
    for (let round = 0; round < rounds; round++) {
        const [a, b, c] = ['A', 'B', 'C'].map((name) => new Conversation(chats, `Conversation ${name}, round ${round}`));
        const firstA = await a.start(1500);
        const followA = await a.followUp();
        const firstB = await b.start(1500);
        const backA = await a.followUp();
        const firstC = await c.start(1500);
        // Each one after the other two.
        const turns = [await a.followUp(), await b.followUp(), await c.followUp()];
        const firstTurn = median([firstA, firstB, firstC]);
        first.push(firstTurn);
        followUp.push(followA);
        back.push(backA);
        rotation.push(median(turns));
        progress(
            `round ${round}: first ${firstTurn.toFixed(0)} ms, follow-up ${followA.toFixed(0)} ms, back to A ${backA.toFixed(0)} ms, rotation ${turns.map((t) => t.toFixed(0)).join('/')} ms`,
        );
    }
    return [
        {
            name: 'follow-up time to first token ÷ first turn, ~1,500-token conversation',
            unit: 'ms',
            target: '≤ 0.1×',
            ...compare(followUp, first),
        },
        {
            name: 'back to conversation A after B ÷ first turn, ~1,500 tokens',
            unit: 'ms',
            target: '≤ 0.15×',
            ...compare(back, first),
        },
        {
            name: 'three conversations in rotation (median turn) ÷ first turn, ~1,500 tokens',
            unit: 'ms',
            target: '≤ 0.15×',
            ...compare(rotation, first),
        },
    ];
}

/** The follow-up's time to first token at 500 / 1,500 / 3,000 tokens of conversation. */
async function byLength(chats: Conversations) {
    const lengths = [500, 1500, 3000];
    const samples = lengths.map(() => [] as number[]);
    const firsts = lengths.map(() => [] as number[]);
    for (let round = 0; round < Math.min(rounds, 3); round++) {
        for (const [index, length] of lengths.entries()) {
            const conversation = new Conversation(chats, `Length ${length}, round ${round}`);
            firsts[index].push(await conversation.start(length));
            samples[index].push(await conversation.followUp());
            progress(`${length} tokens, round ${round}: first ${firsts[index].at(-1)!.toFixed(0)} ms, follow-up ${samples[index].at(-1)!.toFixed(0)} ms`);
        }
    }
    return lengths.map((length, index) => ({
        name: `follow-up time to first token at ~${length.toLocaleString('en')} tokens of conversation (baseline: its first turn)`,
        unit: 'ms',
        target: 'flat',
        ...compare(samples[index], firsts[index]),
    }));
}

/** 1 / 4 / 16 short chats sent at once: total tokens/s and the p95 time to first token. */
async function concurrent(chats: Conversations) {
    const rows = [];
    for (const count of [1, 4, 16]) {
        const throughput: number[] = [];
        const p95: number[] = [];
        for (let round = 0; round < Math.min(rounds, 3); round++) {
            const started = performance.now();
            const results = await Promise.all(
                Array.from({ length: count }, async (_, index) => chats.chat(await chats.opening(`Chat ${index} of ${count}, round ${round}`, 60), 32)),
            );
            const seconds = (performance.now() - started) / 1000;
            throughput.push(results.reduce((sum, r) => sum + r.usage.completionTokens, 0) / seconds);
            const ttfts = results.map((r) => r.timings.timeToFirstTokenMs).sort((x, y) => x - y);
            p95.push(ttfts[Math.min(ttfts.length - 1, Math.ceil(ttfts.length * 0.95) - 1)]);
        }
        progress(`${count} at once: ${median(throughput).toFixed(1)} tokens/s, p95 TTFT ${median(p95).toFixed(0)} ms`);
        rows.push({ name: `${count} chats at once: total tokens/s`, unit: 'tokens/s', target: 'informational', ...summarize(throughput) });
        rows.push({ name: `${count} chats at once: p95 time to first token`, unit: 'ms', target: 'informational', ...summarize(p95) });
    }
    return rows;
}

async function main(): Promise<void> {
    const modelPath = ensureFixtureModel(defaultFixtureDir(), conversationModel);
    const sidecar = await startSidecar({ settings: { threads, gpu: 'off', contextSize } });
    try {
        const loaded = await sidecar.connection.sendRequest(LoadModelRequest.method, { model: modelPath });
        progress(`loaded: ${JSON.stringify((loaded as { config?: unknown }).config ?? loaded)}`);
        const chats = new Conversations(sidecar, modelPath);
        // Each section reports as soon as it ends. LOCAL_AI_BENCH_CONVERSATIONS=switching,length,concurrent picks sections.
        const sections = process.env.LOCAL_AI_BENCH_CONVERSATIONS?.split(',') ?? ['switching', 'length', 'concurrent'];
        if (sections.includes('switching')) report(await switching(chats));
        if (sections.includes('length')) report(await byLength(chats));
        if (sections.includes('concurrent')) report(await concurrent(chats));
    } finally {
        await sidecar.stop();
    }
}

runBench(main);
