/**
 * The editor's stop rules on generated text: a completion ends where its indentation block does, where it
 * starts repeating what follows the cursor, or at the line's end when single-line; what a rule cuts is never shown.
 */
import * as assert from 'node:assert/strict';
import { StopRules } from '../../src/sidecar/completion/stopRules';

describe('completion stop rules', () => {
    it('ends a multi-line completion before the first line indented less than the cursor line', () => {
        const rules = new StopRules({ prefix: 'def area(r):\n    ', suffix: '\n', singleLine: false });
        assert.deepEqual(rules.check('pi = 3.14\n    return pi * r'), { text: 'pi = 3.14\n    return pi * r' });
        assert.deepEqual(rules.check('pi = 3.14\n    return pi * r * r\n\ndef volume(r):\n'), {
            text: 'pi = 3.14\n    return pi * r * r\n',
            finishReason: 'indent',
        });
    });

    it('does not judge a line by its indentation before anything is written on it', () => {
        const rules = new StopRules({ prefix: 'if ok:\n        ', suffix: '', singleLine: false });
        assert.deepEqual(rules.check('run()\n    '), { text: 'run()\n    ' });
    });

    it('stops where the completion repeats the next line of the suffix', () => {
        const rules = new StopRules({ prefix: 'function f() {\n    const a = 1;\n    ', suffix: '\n    return a + b;\n}\n', singleLine: false });
        assert.deepEqual(rules.check('const b = 2;\n    return a + b;\n'), { text: 'const b = 2;', finishReason: 'suffix' });
    });

    it('drops what the completion writes again of the rest of the cursor line', () => {
        const rules = new StopRules({ prefix: 'print(', suffix: ')\nnext()', singleLine: true });
        assert.deepEqual(rules.check('"hello")'), { text: '"hello"', finishReason: 'suffix' });
    });

    it('ends a single-line completion at the end of the line', () => {
        const rules = new StopRules({ prefix: 'let total = ', suffix: '', singleLine: true });
        assert.deepEqual(rules.check('a + b'), { text: 'a + b' });
        assert.deepEqual(rules.check('a + b;\nlet more = 1;'), { text: 'a + b;', finishReason: 'line' });
    });
});
