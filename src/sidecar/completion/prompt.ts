/**
 * The fill-in-the-middle prompt, laid out so that typing re-evaluates almost nothing. As llama.cpp's
 * `/infill` does for llama.vscode, the current line's text before the cursor goes after `<|fim_middle|>`,
 * not at the end of the prefix: the prompt is
 *
 *     [<|repo_name|>… <|file_sep|>chunk …] <|fim_prefix|>lines before <|fim_suffix|>suffix <|fim_middle|>line start
 *
 * so a character typed on the line changes only the prompt's last tokens, and the sequence's KV cache keeps
 * everything before them. Were it at the end of the prefix (plain PSM order), every keystroke would change the
 * tokens just before `<|fim_suffix|>` and the whole suffix would be evaluated again.
 * The window is capped in tokens: the extra chunks go first (oldest first), then the suffix keeps its start
 * (at most a quarter of the room), then the prefix keeps its end, cut at a line start so the cut stays put
 * while the user types.
 */
import type { LlamaModel, Token } from 'node-llama-cpp';
import type { CompletionContextChunk } from '../../common/completion';

/** The model's FIM control tokens; `fileSeparator` and `repoName` only where the vocabulary has them (Qwen2.5-Coder). */
export interface FimTokens {
    prefix: Token;
    suffix: Token;
    middle: Token;
    fileSeparator?: Token;
    repoName?: Token;
}

/** The FIM tokens of a model, or undefined when it cannot fill in the middle. */
export function fimTokensOf(model: LlamaModel): FimTokens | undefined {
    const { prefix, suffix, middle } = model.tokens.infill;
    if (prefix === null || suffix === null || middle === null) return undefined;
    // node-llama-cpp exposes only the three; the others are found by their text, as control tokens.
    const control = (text: string): Token | undefined => {
        const tokens = model.tokenize(text, true);
        return tokens.length === 1 && model.detokenize(tokens, true) === text && model.detokenize(tokens, false) === '' ? tokens[0] : undefined;
    };
    return { prefix, suffix, middle, fileSeparator: control('<|file_sep|>'), repoName: control('<|repo_name|>') };
}

export interface FimInput {
    prefix: string;
    suffix: string;
    extra?: CompletionContextChunk[];
    fileName?: string;
}

export interface FimPrompt {
    tokens: Token[];
    /** Extra chunks that fit (the rest were dropped, oldest first). */
    extraChunks: number;
}

/** The suffix keeps at most this share of the room. */
const SUFFIX_SHARE = 0.25;

function tokenize(model: LlamaModel, text: string): Token[] {
    return text.length === 0 ? [] : model.tokenize(text, false, 'trimLeadingSpace');
}

/** The end of `text`, cut at a line start, in at most `room` tokens. */
function keepEnd(model: LlamaModel, text: string, room: number): Token[] {
    let kept = text;
    let tokens = tokenize(model, kept);
    while (tokens.length > room && kept.length > 0) {
        // Cut about as many characters as the surplus tokens take, then on to the next line start.
        const cut = Math.max(1, Math.floor((kept.length * (tokens.length - room)) / tokens.length));
        const lineStart = kept.indexOf('\n', cut - 1);
        kept = lineStart < 0 ? kept.slice(cut) : kept.slice(lineStart + 1);
        tokens = tokenize(model, kept);
    }
    return tokens;
}

/** The start of `text`, cut at a line end, in at most `room` tokens. */
function keepStart(model: LlamaModel, text: string, room: number): Token[] {
    let kept = text;
    let tokens = tokenize(model, kept);
    while (tokens.length > room && kept.length > 0) {
        const end = Math.min(kept.length - 1, Math.floor((kept.length * room) / tokens.length));
        const lineEnd = kept.lastIndexOf('\n', end);
        kept = lineEnd > 0 ? kept.slice(0, lineEnd + 1) : kept.slice(0, end);
        tokens = tokenize(model, kept);
    }
    return tokens;
}

/** The FIM prompt for this window in at most `room` tokens. */
export function buildFimPrompt(model: LlamaModel, fim: FimTokens, input: FimInput, room: number): FimPrompt {
    const lineStartAt = input.prefix.lastIndexOf('\n') + 1;
    const lineStart = tokenize(model, input.prefix.slice(lineStartAt));
    const head = input.prefix.slice(0, lineStartAt);
    const fixed = 3 + lineStart.length;
    const suffix = keepStart(model, input.suffix, Math.max(0, Math.floor((room - fixed) * SUFFIX_SHARE)));
    const prefix = keepEnd(model, head, Math.max(0, room - fixed - suffix.length));
    const core = [fim.prefix, ...prefix, fim.suffix, ...suffix, fim.middle, ...lineStart];

    const context: Token[] = [];
    let extraChunks = 0;
    if (fim.fileSeparator !== undefined && input.extra?.length) {
        const separator = fim.fileSeparator;
        const file = [separator, ...tokenize(model, `${input.fileName ?? 'current'}\n`)];
        const repo = fim.repoName === undefined ? [] : [fim.repoName, ...tokenize(model, 'workspace\n')];
        let left = room - core.length - file.length - repo.length;
        // Newest first, so the oldest are the ones that do not fit; then back in their order.
        const chunks: Token[][] = [];
        for (const chunk of [...input.extra].reverse()) {
            const tokens = [separator, ...tokenize(model, `${chunk.fileName}\n${chunk.text}\n`)];
            if (tokens.length > left) break;
            left -= tokens.length;
            chunks.unshift(tokens);
        }
        if (chunks.length > 0) {
            context.push(...repo, ...chunks.flat(), ...file);
            extraChunks = chunks.length;
        }
    }
    return { tokens: [...context, ...core], extraChunks };
}

/** A raw completion without a suffix: the prefix's end alone, in at most `room` tokens. */
export function buildPlainPrompt(model: LlamaModel, prefix: string, room: number): FimPrompt {
    return { tokens: keepEnd(model, prefix, room), extraChunks: 0 };
}
