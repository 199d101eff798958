/**
 * "Recommended for code completion": a fill-in-the-middle model that fits beside the chat model, judged by
 * the one memory model. The chat model's plan is taken out of the machine's budget first, so the completion
 * model is chosen in what is left and can never push the chat model out. A suggestion is wanted before the
 * next keystroke, so speed gates the choice before quality does.
 */
import type { FitEstimate, HardwareReport } from '../../common/hardware';
import type { ModelEntry, ModelFile, Recommendation } from '../../common/models';
import { DEFAULT_SEQUENCES, fitContextSize, memoryBudget, memoryFromCatalog, planLoad, type MemoryBudget } from '../llama/memoryModel';
import { estimateFit, formatSpeed } from './fit';
import { FIT_RANK, quantBits, where } from './recommend';

/**
 * The completion sequence's context: about 250 lines of prefix and 60 of suffix capped in tokens, plus a few
 * chunks of other files and the answer. The engine gives completion one sequence.
 */
export const COMPLETION_FIT_CONTEXT = 4096;

/**
 * The speed ceiling below which a completion model is passed over for a faster one: real generation reaches
 * about 60% of it, so a 30-token suggestion arrives in under a second.
 */
export const MIN_COMPLETION_TOKENS_PER_SECOND = 60;

/** Beyond 7B a suggestion improves little and every keystroke waits longer (llama.vscode's largest preset is 7B). */
export const MAX_COMPLETION_PARAMETERS_B = 8;

export interface CompletionRecommendOptions {
    /** Catalog models; only those with `fim` are considered. */
    models: ModelEntry[];
    hardware: HardwareReport;
    /** The chat model it must fit beside (the chat recommendation); none: completion has the machine to itself. */
    chat?: { entry: ModelEntry; file: ModelFile };
}

interface Candidate {
    entry: ModelEntry;
    file: ModelFile;
    fit: FitEstimate;
}

/**
 * Where it runs first: a completion's latency is mostly the evaluation of its window (a thousand tokens and
 * more), which a GPU does many times faster than a CPU, so a small model on the GPU beats a better one split
 * across both. Then quality; of equal quality a base model (trained for it), a smaller model, more bits.
 */
function compare(a: Candidate, b: Candidate): number {
    return (
        FIT_RANK[b.fit.fit] - FIT_RANK[a.fit.fit] ||
        (b.entry.quality ?? 0) - (a.entry.quality ?? 0) ||
        Number(b.entry.tags.includes('base')) - Number(a.entry.tags.includes('base')) ||
        (a.entry.parametersB ?? 0) - (b.entry.parametersB ?? 0) ||
        quantBits(b.file.quant) - quantBits(a.file.quant) ||
        b.fit.tokensPerSecond - a.fit.tokensPerSecond
    );
}

/** What is left of `budget` once the chat model is loaded as its fit badge says it would be. */
export function budgetBeside(hardware: HardwareReport, chat: { entry: ModelEntry; file: ModelFile } | undefined): MemoryBudget {
    const budget = memoryBudget(hardware);
    if (!chat) return budget;
    const model = memoryFromCatalog(chat.entry, chat.file);
    const contextSize = Math.min(fitContextSize(chat.entry), model.trainContextSize ?? Number.POSITIVE_INFINITY);
    const plan = planLoad(model, budget, { contextSize, sequences: DEFAULT_SEQUENCES });
    if (plan.fit === 'none') return budget;
    const { ramBytes, vramBytes } = plan.needs;
    return {
        // On unified memory the chat model's VRAM comes out of the same pool as its RAM.
        ramBytes: Math.max(0, budget.ramBytes - ramBytes - (budget.unified ? vramBytes : 0)),
        vramBytes: Math.max(0, budget.vramBytes - vramBytes),
        unified: budget.unified,
    };
}

export function recommendCompletion({ models, hardware, chat }: CompletionRecommendOptions): Recommendation | undefined {
    const budget = budgetBeside(hardware, chat);
    const fitting: Candidate[] = [];
    for (const entry of models) {
        if (!entry.fim || (entry.parametersB ?? 0) > MAX_COMPLETION_PARAMETERS_B) continue;
        for (const file of entry.files) {
            const fit = estimateFit({ hardware, model: memoryFromCatalog(entry, file), contextSize: COMPLETION_FIT_CONTEXT, sequences: 1, budget });
            if (fit.fit !== 'none') fitting.push({ entry, file, fit });
        }
    }
    if (fitting.length === 0) return undefined;
    const beside = chat ? ` beside ${chat.entry.name}` : '';
    const fast = fitting.filter((candidate) => candidate.fit.tokensPerSecond >= MIN_COMPLETION_TOKENS_PER_SECOND);
    if (fast.length > 0) {
        const best = fast.sort(compare)[0];
        return {
            modelId: best.entry.id,
            quant: best.file.quant,
            reason: `${best.entry.name} (${best.file.quant}) is the best completion model that fits${beside} and suggests at ≥ ${MIN_COMPLETION_TOKENS_PER_SECOND} tokens/s: it ${where(best.fit)}, about ${formatSpeed(best.fit.tokensPerSecond)} tokens/s.`,
        };
    }
    const fastest = fitting.sort((a, b) => b.fit.tokensPerSecond - a.fit.tokensPerSecond || compare(a, b))[0];
    return {
        modelId: fastest.entry.id,
        quant: fastest.file.quant,
        reason: `${fastest.entry.name} (${fastest.file.quant}) is the fastest completion model that fits${beside}, yet only about ${formatSpeed(fastest.fit.tokensPerSecond)} tokens/s here: suggestions will be slow.`,
    };
}
