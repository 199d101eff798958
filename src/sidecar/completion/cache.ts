/**
 * Recent completions, so that typing through a suggestion costs no model call: when the new prefix is an old
 * prefix plus the start of what was suggested there (and the suffix is the same), the rest of that suggestion
 * is the answer. llama.vscode keeps such a cache for the same reason; a few entries cover the last suggestions.
 */
import type { CompletionFinishReason } from '../../common/completion';

export interface CachedCompletion {
    /** The request's model as given (undefined: the default), so another model's answers are not mixed in. */
    model: string | undefined;
    singleLine: boolean;
    prefix: string;
    suffix: string;
    text: string;
    finishReason: CompletionFinishReason;
}

/** Entries kept, newest last. */
const CAPACITY = 16;

export class CompletionCache {
    private readonly entries: CachedCompletion[] = [];

    remember(entry: CachedCompletion): void {
        if (entry.text.length === 0) return;
        const same = this.entries.findIndex(
            (e) => e.model === entry.model && e.prefix === entry.prefix && e.suffix === entry.suffix && e.singleLine === entry.singleLine,
        );
        if (same >= 0) this.entries.splice(same, 1);
        this.entries.push(entry);
        if (this.entries.length > CAPACITY) this.entries.shift();
    }

    /** The rest of a suggestion the user is typing through, or undefined. */
    lookup(request: { model: string | undefined; singleLine: boolean; prefix: string; suffix: string }): CachedCompletion | undefined {
        for (let index = this.entries.length - 1; index >= 0; index--) {
            const entry = this.entries[index];
            if (entry.model !== request.model || entry.singleLine !== request.singleLine || entry.suffix !== request.suffix) continue;
            if (!request.prefix.startsWith(entry.prefix)) continue;
            const typed = request.prefix.slice(entry.prefix.length);
            // Something of the suggestion must be left to offer.
            if (typed.length < entry.text.length && entry.text.startsWith(typed)) {
                return { ...entry, prefix: request.prefix, text: entry.text.slice(typed.length) };
            }
        }
        return undefined;
    }

    clear(): void {
        this.entries.length = 0;
    }
}
