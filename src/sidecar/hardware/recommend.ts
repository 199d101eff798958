/**
 * "Recommended for this machine": the best-quality catalog model that fits with a usable speed,
 * with one line saying why.
 */
import type { FitEstimate, FitClass } from '../../common/hardware';
import type { ModelEntry, ModelFile, Recommendation } from '../../common/models';
import { formatSpeed } from './fit';

/**
 * The speed ceiling below which a model is not recommended: real generation reaches roughly 60% of the
 * bandwidth ceiling, so this means about 9 tokens/s in practice, a little faster than people read.
 */
export const MIN_USABLE_TOKENS_PER_SECOND = 15;

export const FIT_RANK: Record<FitClass, number> = { gpu: 3, partial: 2, cpu: 1, none: 0 };

/** Bits per weight from the quantization name; beyond ~6 bits the answers barely improve, so it is capped there. */
export function quantBits(quant: string): number {
    const match = /(?:^|[^A-Z])[QI]Q?(\d)/i.exec(quant) ?? /^(?:F|BF)(\d+)/i.exec(quant);
    const bits = match ? Number(match[1]) : 4;
    return Math.min(6, bits);
}

interface Candidate {
    entry: ModelEntry;
    file: ModelFile;
    fit: FitEstimate;
}

/** Quality first, then where it runs, then the catalog's own pick, size, precision and speed. */
function compare(a: Candidate, b: Candidate): number {
    return (
        (b.entry.quality ?? 0) - (a.entry.quality ?? 0) ||
        FIT_RANK[b.fit.fit] - FIT_RANK[a.fit.fit] ||
        Number(b.entry.tags.includes('recommended')) - Number(a.entry.tags.includes('recommended')) ||
        (b.entry.parametersB ?? 0) - (a.entry.parametersB ?? 0) ||
        quantBits(b.file.quant) - quantBits(a.file.quant) ||
        b.fit.tokensPerSecond - a.fit.tokensPerSecond
    );
}

export function where(fit: FitEstimate): string {
    switch (fit.fit) {
        case 'gpu':
            return 'runs fully on the GPU';
        case 'partial':
            return `runs ${fit.gpuLayers} of ${fit.totalLayers} layers on the GPU`;
        default:
            return 'runs on the CPU';
    }
}

/** Embedding models and base models (code completion only: they continue text, they do not answer) cannot chat. */
export function canChat(entry: ModelEntry): boolean {
    return !entry.tags.includes('embedding') && !entry.tags.includes('base');
}

export interface RecommendOptions {
    models: ModelEntry[];
    /** How a file fits this machine (the hardware service's estimate, measurements included). */
    estimate: (entry: ModelEntry, file: ModelFile) => FitEstimate;
}

export function recommend({ models, estimate }: RecommendOptions): Recommendation | undefined {
    const fitting: Candidate[] = [];
    for (const entry of models) {
        if (!canChat(entry)) continue;
        for (const file of entry.files) {
            const fit = estimate(entry, file);
            if (fit.fit !== 'none') fitting.push({ entry, file, fit });
        }
    }
    if (fitting.length === 0) return undefined;
    const usable = fitting.filter((candidate) => candidate.fit.tokensPerSecond >= MIN_USABLE_TOKENS_PER_SECOND);
    if (usable.length > 0) {
        const best = usable.sort(compare)[0];
        // Honest about the trade-off: a better model that fits but answers too slowly was passed over for speed.
        const passedOver = fitting
            .filter((candidate) => candidate.fit.tokensPerSecond < MIN_USABLE_TOKENS_PER_SECOND && compare(candidate, best) < 0)
            // The best model passed over, in its fastest file: the trade-off at its most favourable.
            .sort((a, b) => (b.entry.quality ?? 0) - (a.entry.quality ?? 0) || b.fit.tokensPerSecond - a.fit.tokensPerSecond)[0];
        const why = passedOver ? `the best quality that still answers at ≥ ${MIN_USABLE_TOKENS_PER_SECOND} tokens/s here` : 'the best quality that fits';
        const slower = passedOver
            ? ` (${passedOver.entry.name} ${passedOver.file.quant} also fits, at about ${formatSpeed(passedOver.fit.tokensPerSecond)} tokens/s)`
            : '';
        return {
            modelId: best.entry.id,
            quant: best.file.quant,
            reason: `${best.entry.name} (${best.file.quant}) is ${why}: it ${where(best.fit)}, about ${formatSpeed(best.fit.tokensPerSecond)} tokens/s${slower}.`,
        };
    }
    const fastest = fitting.sort((a, b) => b.fit.tokensPerSecond - a.fit.tokensPerSecond || compare(a, b))[0];
    return {
        modelId: fastest.entry.id,
        quant: fastest.file.quant,
        reason: `${fastest.entry.name} (${fastest.file.quant}) is the fastest model that fits, yet only about ${formatSpeed(fastest.fit.tokensPerSecond)} tokens/s here: answers will be slow.`,
    };
}
