/**
 * maskSecret: whatever form a server echoes a key in (as sent, any case, URL-encoded, base64 of the key
 * or of user:key, a piece of it), no 8 characters of it survive, and text without the key is untouched.
 */
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { maskSecret } from '../../src/sidecar/providers/secrets';

/** The key in base64 after a user name of 1, 2 or 3 bytes: every alignment it can have. */
const USERS = ['a', 'ab', 'abc'];

/** The base64 characters that come from the key alone, after `user:`. */
function base64Core(key: string, user: string): string {
    const before = Buffer.byteLength(`${user}:`);
    const encoded = Buffer.from(`${user}:${key}`).toString('base64');
    return encoded.slice(Math.ceil((before * 4) / 3), Math.floor(((before + Buffer.byteLength(key)) * 4) / 3));
}

/** Every 8 characters of the key (any case), of its URL-encoded form, or of its base64 encodings that show in `text`. */
function leaks(text: string, key: string): string[] {
    const lower = text.toLowerCase();
    const grams = (form: string) => Array.from({ length: Math.max(0, form.length - 7) }, (_, index) => form.slice(index, index + 8));
    const base64 = [Buffer.from(key).toString('base64').slice(0, -4), ...USERS.map((user) => base64Core(key, user))];
    return [
        ...[key, encodeURIComponent(key)].flatMap(grams).filter((gram) => lower.includes(gram.toLowerCase())),
        ...base64.flatMap(grams).filter((gram) => text.includes(gram)),
    ];
}

const keyArbitrary = fc.string({
    unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_/+='),
    minLength: 12,
    maxLength: 64,
});

describe('maskSecret', () => {
    it('masks the key in every echoed form, and any 8 characters of it', () => {
        fc.assert(
            fc.property(keyArbitrary, fc.string({ maxLength: 40 }), fc.nat(), (key, around, cut) => {
                const prefix = key.slice(0, 8 + (cut % (key.length - 7)));
                const text = [
                    `${around}${key}${around}`,
                    key.toUpperCase(),
                    key.toLowerCase(),
                    encodeURIComponent(key),
                    Buffer.from(key).toString('base64'),
                    ...USERS.map((user) => `Basic ${Buffer.from(`${user}:${key}`).toString('base64')}`),
                    `prefix ${prefix}`,
                ].join(' | ');
                const masked = maskSecret(text, key);
                assert.deepEqual(leaks(masked, key), [], masked);
            }),
            { numRuns: 300 },
        );
    });

    it('leaves text without the key as it was, and cuts long text', () => {
        assert.equal(maskSecret('Upstream failed: model overloaded.', 'sk-abcdefghijkl'), 'Upstream failed: model overloaded.');
        assert.equal(maskSecret('short key abc', 'abc'), 'short key abc', 'keys under 4 characters are not masked');
        assert.equal(maskSecret('x'.repeat(2_000), 'sk-abcdefghijkl', 500), `${'x'.repeat(500)}…`);
        assert.equal(maskSecret('key=sk-abcdefghijkl;', 'sk-abcdefghijkl'), 'key=••••;');
    });
});
