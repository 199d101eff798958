/**
 * The window of a document a code completion sees: whole lines before the cursor and after it. The editor's
 * provider and the CLI's `complete` cut it the same way, so a completion scripted from the command line sees
 * what the editor would have sent; the sidecar then caps it in tokens.
 */

/** Lines before the cursor's line sent as prefix (the cursor's line up to the cursor comes on top). */
export const COMPLETION_PREFIX_LINES = 200;
/** Lines after the cursor's line sent as suffix (the rest of the cursor's line comes first). */
export const COMPLETION_SUFFIX_LINES = 50;

export interface CompletionWindow {
    prefix: string;
    suffix: string;
    /** The text after the cursor on its line: a completion in the middle of a line stays on it. */
    restOfLine: string;
}

export interface CutWindowOptions {
    /** The document's lines, without their line breaks. */
    lines: readonly string[];
    /** Zero-based line of the cursor. */
    line: number;
    /** Zero-based column of the cursor, in UTF-16 code units (as VS Code counts). */
    character: number;
    /** Default: COMPLETION_PREFIX_LINES. */
    prefixLines?: number;
    /** Default: COMPLETION_SUFFIX_LINES. */
    suffixLines?: number;
    /** The document's line break. Default: '\n'. */
    eol?: string;
}

/** Cuts the prefix and suffix around a cursor; a cursor past the end is clamped to it. */
export function cutWindow(options: CutWindowOptions): CompletionWindow {
    const { lines, prefixLines = COMPLETION_PREFIX_LINES, suffixLines = COMPLETION_SUFFIX_LINES, eol = '\n' } = options;
    const line = Math.max(0, Math.min(options.line, lines.length - 1));
    const text = lines[line] ?? '';
    const character = Math.max(0, Math.min(options.character, text.length));
    const before = lines.slice(Math.max(0, line - prefixLines), line);
    const after = lines.slice(line + 1, line + 1 + suffixLines);
    const restOfLine = text.slice(character);
    return {
        prefix: [...before, text.slice(0, character)].join(eol),
        suffix: [restOfLine, ...after].join(eol),
        restOfLine,
    };
}
