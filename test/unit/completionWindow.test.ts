/**
 * The window of a document a code completion sees, cut the same way by the editor and the CLI: whole
 * lines around the cursor, bounded, with the cursor's own line split at the cursor.
 */
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { COMPLETION_PREFIX_LINES, COMPLETION_SUFFIX_LINES, cutWindow } from '../../src/common/completionWindow';

const numbered = (count: number) => Array.from({ length: count }, (_, i) => `line ${i}`);

describe('completion window', () => {
    it('splits the cursor line at the cursor: prefix up to it, suffix from it', () => {
        const window = cutWindow({ lines: ['def add(a, b):', '    return a + b', ''], line: 1, character: 11 });
        assert.equal(window.prefix, 'def add(a, b):\n    return ');
        assert.equal(window.suffix, 'a + b\n');
        assert.equal(window.restOfLine, 'a + b');
    });

    it('keeps 100-250 lines of prefix and 30-60 of suffix, so a long file costs no more than its window', () => {
        assert.ok(COMPLETION_PREFIX_LINES >= 100 && COMPLETION_PREFIX_LINES <= 250);
        assert.ok(COMPLETION_SUFFIX_LINES >= 30 && COMPLETION_SUFFIX_LINES <= 60);
        const lines = numbered(1000);
        const window = cutWindow({ lines, line: 500, character: 4 });
        const prefixLines = window.prefix.split('\n');
        assert.equal(prefixLines.length, COMPLETION_PREFIX_LINES + 1);
        assert.equal(prefixLines[0], `line ${500 - COMPLETION_PREFIX_LINES}`);
        const suffixLines = window.suffix.split('\n');
        assert.equal(suffixLines.length, COMPLETION_SUFFIX_LINES + 1);
        assert.equal(suffixLines.at(-1), `line ${500 + COMPLETION_SUFFIX_LINES}`);
    });

    it('never loses or repeats a character inside the window, wherever the cursor is', () => {
        fc.assert(
            fc.property(
                fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 40 }),
                fc.nat(),
                fc.nat(),
                fc.nat({ max: 8 }),
                fc.nat({ max: 8 }),
                (lines, l, c, before, after) => {
                    const line = l % lines.length;
                    const character = c % (lines[line].length + 1);
                    const window = cutWindow({ lines, line, character, prefixLines: before, suffixLines: after });
                    const expected = lines.slice(Math.max(0, line - before), line + after + 1).join('\n');
                    assert.equal(window.prefix + window.suffix, expected);
                    assert.ok(window.prefix.endsWith(lines[line].slice(0, character)));
                },
            ),
        );
    });

    it('clamps a cursor past the end of the document to its end', () => {
        const window = cutWindow({ lines: ['a', 'bc'], line: 7, character: 9 });
        assert.equal(window.prefix, 'a\nbc');
        assert.equal(window.suffix, '');
    });
});
