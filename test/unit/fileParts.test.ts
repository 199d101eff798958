/**
 * The parts of a parallel download: the plan tiles the file, and a journal's parts read back from disk are
 * trusted only when they tile the file and claim no byte the partial does not hold (fuzzed with fast-check).
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { contiguousPrefix, type FilePart, planParts, trustedParts } from '../../src/sidecar/models/fileParts';

const MIB = 1024 * 1024;

function assertTiles(parts: FilePart[], size: number): void {
    assert.equal(parts[0].start, 0);
    for (let i = 1; i < parts.length; i++) assert.equal(parts[i].start, parts[i - 1].end);
    assert.equal(parts.at(-1)?.end, size);
}

describe('file parts', () => {
    it('plans one stream for a small file or one connection, and parts of at least the minimum otherwise', () => {
        assert.equal(planParts(31 * MIB).length, 1);
        assert.equal(planParts(1024 * MIB, { connections: 1 }).length, 1);
        assert.equal(planParts(64 * MIB).length, 4);
        fc.assert(
            fc.property(
                fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 2 ** 40 })),
                fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 64 * MIB })),
                (size, minPartBytes) => {
                    const parts = planParts(size, { minPartBytes });
                    assertTiles(parts, size);
                    assert.ok(parts.length <= 1024, `${parts.length} parts`);
                    if (parts.length > 1) assert.ok(parts.every((part) => part.end - part.start >= minPartBytes));
                },
            ),
        );
    });

    it('trusts a journal only when its parts tile the file within the bytes on disk', () => {
        const size = 64 * MIB;
        const parts = planParts(size).map((part) => ({ ...part, written: MIB }));
        const fileBytes = parts.at(-1)!.start + MIB;
        assert.deepEqual(trustedParts(parts, size, fileBytes), parts);
        assert.equal(trustedParts(parts, size, fileBytes - 1), undefined, 'a claim beyond the partial');
        assert.equal(trustedParts(parts.slice(1), size, fileBytes), undefined, 'a gap at the start');
        assert.equal(trustedParts(parts.slice(0, -1), size, fileBytes), undefined, 'short of the end');
        assert.equal(trustedParts([{ ...parts[0], written: parts[0].end + 1 }, ...parts.slice(1)], size, size), undefined, 'more than the part');
        assert.equal(trustedParts([{ ...parts[0], written: -1 }, ...parts.slice(1)], size, size), undefined, 'a negative count');
        assert.equal(trustedParts([{ ...parts[0], written: '1' }, ...parts.slice(1)], size, size), undefined, 'a string');
        assert.equal(trustedParts({ parts }, size, size), undefined, 'not a list');
        fc.assert(
            fc.property(fc.anything(), fc.nat(), fc.nat(), (value, length, fileBytes) => {
                const trusted = trustedParts(value, length, fileBytes);
                if (trusted === undefined) return;
                assertTiles(trusted, length);
                assert.ok(trusted.every((part) => part.written <= part.end - part.start && (part.written === 0 || part.start + part.written <= fileBytes)));
            }),
        );
    });

    it('hashes up to the first part not yet complete', () => {
        const parts: FilePart[] = [
            { start: 0, end: 10, written: 10 },
            { start: 10, end: 20, written: 4 },
            { start: 20, end: 30, written: 10 },
        ];
        assert.equal(contiguousPrefix(parts), 14);
        parts[1].written = 10;
        assert.equal(contiguousPrefix(parts), 30);
    });
});
