/**
 * The ring of extra context chunks sent with a completion (recent edits, files the user opened): bounded,
 * without near-copies, and without the lines the request's own window already holds.
 */
import * as assert from 'node:assert/strict';
import { ContextRing, similarity, type RingChunk } from '../../src/extension/completion/contextRing';

function chunk(document: string, startLine: number, lines: string[]): RingChunk {
    return { document, fileName: document, startLine, endLine: startLine + lines.length, text: lines.join('\n') };
}

const block = (tag: string, count = 8) => Array.from({ length: count }, (_, i) => `${tag} statement ${i};`);

describe('completion context ring', () => {
    it('keeps the newest chunks up to its size, oldest first', () => {
        const ring = new ContextRing({ maxChunks: 3 });
        for (const name of ['a', 'b', 'c', 'd']) ring.add(chunk(name, 0, block(name)));
        assert.deepEqual(
            ring.chunksFor('other', 0, 0).map((c) => c.fileName),
            ['b', 'c', 'd'],
        );
    });

    it('replaces a chunk nearly the same as a new one, so one busy region does not fill the ring', () => {
        const ring = new ContextRing();
        const lines = block('x', 20);
        ring.add(chunk('a', 0, lines));
        ring.add(chunk('b', 0, block('y')));
        ring.add(chunk('a', 1, [...lines.slice(1), 'x statement 20;']));
        assert.deepEqual(
            ring.chunksFor('other', 0, 0).map((c) => `${c.fileName}:${c.text.split('\n')[0]}`),
            ['b:y statement 0;', 'a:x statement 1;'],
        );
    });

    it('leaves out chunks of the same document that overlap the window, but not those outside it', () => {
        const ring = new ContextRing();
        ring.add(chunk('doc', 0, block('above')));
        ring.add(chunk('doc', 120, block('inside')));
        ring.add(chunk('doc', 400, block('below')));
        ring.add(chunk('lib', 120, block('lib')));
        assert.deepEqual(
            ring.chunksFor('doc', 100, 351).map((c) => c.text.split(' ')[0]),
            ['above', 'below', 'lib'],
        );
    });

    it('skips chunks with fewer than three lines of text and cuts a chunk of very long lines', () => {
        const ring = new ContextRing({ maxChunkChars: 100 });
        assert.equal(ring.add(chunk('a', 0, ['', 'one', '   ', 'two', ''])), false);
        assert.equal(ring.add(chunk('b', 0, ['x'.repeat(500), 'y'.repeat(500), 'z'.repeat(500)])), true);
        assert.equal(ring.size, 1);
        assert.equal(ring.chunksFor('c', 0, 0)[0].text.length, 100);
    });

    it('measures similarity as the share of lines two chunks have in common', () => {
        assert.equal(similarity('a\nb\nc', 'a\nb\nc'), 1);
        assert.equal(similarity('a\nb', 'c\nd'), 0);
        assert.equal(similarity('a\na\nb\nc', 'a\nb\nx\ny'), 0.5);
    });
});
