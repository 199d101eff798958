import * as assert from 'node:assert/strict';
import { encodeTensor, SeededRandom, toHalf } from '../fixtures/gguf/tensorData';
import { GgmlType } from '../fixtures/gguf/writer';

describe('fixture tensor encoding', () => {
    it('converts floats to IEEE half precision', () => {
        assert.equal(toHalf(1), 0x3c00);
        assert.equal(toHalf(-2), 0xc000);
        assert.equal(toHalf(0.5), 0x3800);
        assert.equal(toHalf(65504), 0x7bff);
        assert.equal(toHalf(1e6), 0x7c00);
        assert.equal(toHalf(2 ** -24), 0x0001);
        assert.equal(toHalf(0), 0);
    });

    it('quantizes Q8_0 blocks to a scale and 32 signed bytes', () => {
        const values = new Float32Array(32).map((_, i) => (i - 16) / 16);
        const block = encodeTensor(GgmlType.Q8_0, values);
        assert.equal(block.length, 34);
        assert.equal(block.readUInt16LE(0), toHalf(1 / 127));
        assert.equal(block.readInt8(2), -127);
        assert.equal(block.readInt8(2 + 16), 0);
    });

    it('makes the same weights from the same seed', () => {
        assert.deepEqual(new SeededRandom(3).weights(8, 0.02), new SeededRandom(3).weights(8, 0.02));
        assert.notDeepEqual(new SeededRandom(3).weights(8, 0.02), new SeededRandom(4).weights(8, 0.02));
    });
});
