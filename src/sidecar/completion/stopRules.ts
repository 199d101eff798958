/**
 * The editor's stop rules, applied to the text as it is generated: a single-line completion ends at the
 * line's end ('line'); a multi-line one ends where its indentation block does, before the first line that
 * is indented less than the cursor's line ('indent'); either ends where it starts repeating what already
 * follows the cursor ('suffix'): the rest of the cursor's line, or the suffix's next non-blank line.
 * The text a rule cuts never reaches the user.
 */
import type { CompletionFinishReason } from '../../common/completion';

export interface StopRulesInput {
    /** Text before the cursor. */
    prefix: string;
    /** Text after the cursor. */
    suffix: string;
    singleLine: boolean;
}

export interface StopDecision {
    /** The completion as it stands, cut where a rule fired. */
    text: string;
    /** Set once a rule fired: generation should stop. */
    finishReason?: Extract<CompletionFinishReason, 'line' | 'indent' | 'suffix'>;
}

function indentWidth(line: string): number {
    let width = 0;
    for (const char of line) {
        if (char === ' ') width++;
        else if (char === '\t') width += 4;
        else break;
    }
    return width;
}

export class StopRules {
    private readonly cursorIndent: number;
    /** The rest of the cursor's line, trimmed (what the completion must not write again at its first line's end). */
    private readonly lineRest: string;
    /** The suffix's first non-blank line after the cursor's line, trimmed. */
    private readonly nextLine: string | undefined;

    constructor(private readonly input: StopRulesInput) {
        const cursorLine = input.prefix.slice(input.prefix.lastIndexOf('\n') + 1);
        // A blank cursor line (the user is at the start of a new line) sets the block by what is typed there.
        this.cursorIndent = indentWidth(cursorLine);
        const suffixLines = input.suffix.split('\n');
        this.lineRest = suffixLines[0].trim();
        this.nextLine = suffixLines
            .slice(1)
            .map((line) => line.trim())
            .find((line) => line.length > 0);
    }

    /** Judges the whole text generated so far. */
    check(generated: string): StopDecision {
        const lines = generated.split('\n');
        const first = lines[0];
        if (this.lineRest && first.trimEnd().endsWith(this.lineRest) && (lines.length > 1 || this.input.singleLine)) {
            // The first line ended by writing what already follows the cursor: keep what came before it.
            const end = first.trimEnd().length - this.lineRest.length;
            return { text: first.slice(0, end).trimEnd(), finishReason: 'suffix' };
        }
        if (this.input.singleLine) {
            return lines.length > 1 ? { text: first, finishReason: 'line' } : { text: generated };
        }
        let offset = first.length + 1;
        // Only complete lines are judged (the last one may still grow), except for repeats of the suffix.
        for (let index = 1; index < lines.length; index++) {
            const line = lines[index];
            const complete = index < lines.length - 1;
            const kept = generated.slice(0, offset - 1);
            if (line.trim().length > 0) {
                if (this.nextLine !== undefined && complete && line.trim() === this.nextLine) return { text: kept, finishReason: 'suffix' };
                // Indentation is known once the line has something after it.
                if (indentWidth(line) < this.cursorIndent && line.trimStart().length > 0) return { text: kept, finishReason: 'indent' };
            }
            offset += line.length + 1;
        }
        return { text: generated };
    }
}
