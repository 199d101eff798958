/**
 * "Recommended for code completion" for every injected profile: a fill-in-the-middle model from the real
 * catalog that fits beside the recommended chat model by the one memory model, fast enough to suggest
 * before the next keystroke, and never one that would push the chat model out.
 */
import * as assert from 'node:assert/strict';
import type { HardwareReport } from '../../src/common/hardware';
import type { ModelEntry, Recommendation } from '../../src/common/models';
import { DEFAULT_FIT_CONTEXT, estimateFit } from '../../src/sidecar/hardware/fit';
import { recommend } from '../../src/sidecar/hardware/recommend';
import { COMPLETION_FIT_CONTEXT, MAX_COMPLETION_PARAMETERS_B, recommendCompletion } from '../../src/sidecar/hardware/recommendCompletion';
import {
    DEFAULT_SEQUENCES,
    fitContextSize,
    fitsBudget,
    memoryBudget,
    memoryFromCatalog,
    memoryNeeds,
    planLoad,
    type MemoryNeeds,
} from '../../src/sidecar/llama/memoryModel';
import { catalogEntries } from '../../src/sidecar/models/catalog';
import { PROFILE_NAMES, profileReport, type ProfileName } from '../fixtures/hardware/profiles';

function chatFor(hardware: HardwareReport, models: ModelEntry[]): Recommendation | undefined {
    return recommend({ models, estimate: (entry, file) => estimateFit({ hardware, model: memoryFromCatalog(entry, file), contextSize: DEFAULT_FIT_CONTEXT }) });
}

function pick(models: ModelEntry[], recommendation: Recommendation) {
    const entry = models.find((e) => e.id === recommendation.modelId)!;
    return { entry, file: entry.files.find((f) => f.quant === recommendation.quant)! };
}

/** The pair for a profile: the chat recommendation, and the completion model beside it. */
function pairFor(name: ProfileName) {
    const hardware = profileReport(name);
    const models = catalogEntries();
    const chat = chatFor(hardware, models);
    assert.ok(chat, `no chat model for ${name}`);
    return { hardware, models, chat, completion: recommendCompletion({ models, hardware, chat: pick(models, chat) }) };
}

const EXPECTED: Record<ProfileName, [modelId: string, quant: string] | undefined> = {
    // The chat model leaves 2.8 GB of free RAM no room: completion yields to it.
    'laptop-4gb-cpu': undefined,
    // Llama 3.2 3B at 8k tokens of two chats takes all but 0.7 GB; even the 0.5B needs more.
    'desktop-8gb-cpu': undefined,
    // The 7B chat model fills the 6 GB GPU; the 0.5B takes the VRAM that is left.
    'laptop-16gb-nvidia-6gb': ['qwen2.5-coder-0.5b', 'Q8_0'],
    'workstation-24gb-vram': ['qwen2.5-coder-1.5b-instruct', 'Q4_K_M'],
    'apple-m2-16gb': ['qwen2.5-coder-1.5b-instruct', 'Q5_K_M'],
    // Six cores with the bandwidth for 72 tokens/s of the 0.5B beside a 3B chat model.
    'vm-gpu-no-driver': ['qwen2.5-coder-0.5b', 'Q8_0'],
};

describe('completion recommendation', () => {
    for (const name of PROFILE_NAMES) {
        const expected = EXPECTED[name];
        it(`${name}: ${expected ? `recommends ${expected.join(' ')} beside the chat model` : 'recommends none: the chat model leaves no room'}`, () => {
            const { chat, completion, models } = pairFor(name);
            if (!expected) {
                assert.equal(completion, undefined, completion?.reason);
                return;
            }
            assert.ok(completion, `nothing beside ${chat.reason}`);
            assert.deepEqual([completion.modelId, completion.quant], expected, completion.reason);
            const { entry } = pick(models, completion);
            assert.match(
                completion.reason,
                new RegExp(
                    `^${entry.name.replace(/[()]/g, '\\$&')} \\(${expected[1]}\\) is the best completion model that fits beside ${pick(models, chat).entry.name} `,
                ),
            );
            assert.ok(!completion.reason.includes('\n'));
        });

        if (!expected) continue;
        it(`${name}: the chat and completion models fit together by the one memory model`, () => {
            const { hardware, models, chat, completion } = pairFor(name);
            assert.ok(completion);
            const budget = memoryBudget(hardware);
            const chatPick = pick(models, chat);
            const chatMemory = memoryFromCatalog(chatPick.entry, chatPick.file);
            const chatPlan = planLoad(chatMemory, budget, { contextSize: fitContextSize(chatPick.entry), sequences: DEFAULT_SEQUENCES });
            const { entry, file } = pick(models, completion);
            assert.ok(entry.fim, `${entry.id} cannot fill in the middle`);
            assert.ok(entry.parametersB! <= MAX_COMPLETION_PARAMETERS_B);
            const memory = memoryFromCatalog(entry, file);
            // Where the pair loads: the chat model as its badge says, the completion model with the layers the recommendation promised.
            const promised = /runs (\d+) of \d+ layers on the GPU/.exec(completion.reason);
            const gpuLayers = completion.reason.includes('fully on the GPU') ? memory.totalLayers : promised ? Number(promised[1]) : 0;
            const completionNeeds = memoryNeeds(memory, {
                contextSize: COMPLETION_FIT_CONTEXT,
                gpuLayers,
                sequences: 1,
                flashAttention: memory.flashAttentionSupported && gpuLayers > 0,
            });
            const together: MemoryNeeds = {
                ramBytes: chatPlan.needs.ramBytes + completionNeeds.ramBytes,
                vramBytes: chatPlan.needs.vramBytes + completionNeeds.vramBytes,
            };
            assert.ok(fitsBudget(together, budget), `${JSON.stringify(together)} over ${JSON.stringify(budget)}: ${completion.reason}`);
        });
    }

    it('with the machine to itself, a completion model fits where beside the chat model none does', () => {
        const hardware = profileReport('desktop-8gb-cpu');
        const alone = recommendCompletion({ models: catalogEntries(), hardware });
        assert.ok(alone);
        assert.deepEqual([alone.modelId, alone.quant], ['qwen2.5-coder-0.5b', 'Q8_0'], alone.reason);
        assert.match(alone.reason, /is the best completion model that fits and suggests at ≥ 60 tokens\/s: it runs on the CPU, about \d+ tokens\/s\.$/);
    });

    it('says suggestions will be slow when no completion model is fast enough, and takes the fastest', () => {
        const alone = recommendCompletion({ models: catalogEntries(), hardware: profileReport('laptop-4gb-cpu') });
        assert.ok(alone);
        assert.deepEqual([alone.modelId, alone.quant], ['qwen2.5-coder-0.5b-instruct', 'Q4_K_M'], alone.reason);
        assert.match(alone.reason, /is the fastest completion model that fits, yet only about [\d.]+ tokens\/s here: suggestions will be slow\.$/);
    });

    it('never recommends a base (completion-only) model for chat', () => {
        const models = catalogEntries();
        const base = models.filter((entry) => entry.tags.includes('base'));
        assert.ok(base.length >= 4 && base.every((entry) => entry.fim && !entry.tags.includes('chat')));
        const tiny = models.find((entry) => entry.id === 'qwen2.5-0.5b-instruct')!;
        // The base 7B would win on quality on a 24 GB GPU, were it a chat model.
        assert.equal(chatFor(profileReport('workstation-24gb-vram'), [...base, tiny])?.modelId, tiny.id);
    });
});
