/**
 * Keeps an API key out of every text a provider failure produces. Servers echo keys back in many
 * shapes (quoted, URL-encoded, inside a base64 `Basic user:key` header, upper-cased, or only a long
 * prefix), so every shape is masked, and so is any run of 8 or more characters taken from the key.
 */

const MASK = '••••';
/** Shorter runs are ordinary text ("sk-", "Bearer"); 8 characters of a key are a real leak. */
const FRAGMENT = 8;
/** An error body is cut to this many characters once masked. */
export const MAX_ERROR_TEXT = 500;

/** The base64 characters that depend only on the key, at each of the three byte offsets it may start at. */
function base64Forms(secret: string): string[] {
    const bytes = Buffer.from(secret, 'utf8');
    const forms: string[] = [];
    for (let offset = 0; offset < 3; offset++) {
        for (const encoding of ['base64', 'base64url'] as const) {
            const encoded = Buffer.concat([Buffer.alloc(offset), bytes])
                .toString(encoding)
                .replace(/=+$/, '');
            // The first characters mix in the bytes before the key, the last ones the bytes after it.
            const start = Math.ceil((offset * 4) / 3);
            const end = Math.floor(((offset + bytes.length) * 4) / 3);
            if (end - start >= FRAGMENT) forms.push(encoded.slice(start, end));
        }
    }
    return forms;
}

/** Every run of FRAGMENT characters of each form, keyed for case-insensitive or exact lookup. */
function fragmentsOf(forms: string[], lower: boolean): Set<string> {
    const fragments = new Set<string>();
    for (const form of forms) {
        const text = lower ? form.toLowerCase() : form;
        for (let index = 0; index + FRAGMENT <= text.length; index++) fragments.add(text.slice(index, index + FRAGMENT));
    }
    return fragments;
}

/**
 * Masks the key in `text` in all its forms, then cuts the text to `maxLength` characters.
 * Keys shorter than 4 characters are left alone: masking them would mangle ordinary words.
 */
export function maskSecret(text: string, secret: string | undefined, maxLength = Number.POSITIVE_INFINITY): string {
    // Cutting first keeps the work small and leaks nothing: any 8 characters of the key left are still masked.
    const bounded = text.length > maxLength * 4 ? text.slice(0, maxLength * 4) : text;
    const masked = secret && secret.length >= 4 ? maskAll(bounded, secret) : bounded;
    return masked.length > maxLength ? `${masked.slice(0, maxLength)}…` : masked;
}

function maskAll(text: string, secret: string): string {
    const plain = [secret, encodeURIComponent(secret)];
    const encoded = base64Forms(secret);
    if (secret.length < FRAGMENT) {
        let result = text;
        for (const form of [...plain, ...encoded]) result = result.replace(new RegExp(escapeRegExp(form), 'gi'), MASK);
        return result;
    }
    const caseless = fragmentsOf(plain, true);
    const exact = fragmentsOf(encoded, false);
    const lower = text.toLowerCase();
    // Marks every character covered by a fragment, then replaces each marked run with one mask.
    const covered = new Uint8Array(text.length);
    for (let index = 0; index + FRAGMENT <= text.length; index++) {
        if (caseless.has(lower.slice(index, index + FRAGMENT)) || exact.has(text.slice(index, index + FRAGMENT))) covered.fill(1, index, index + FRAGMENT);
    }
    let result = '';
    for (let index = 0; index < text.length; index++) {
        if (!covered[index]) result += text[index];
        else if (index === 0 || !covered[index - 1]) result += MASK;
    }
    return result;
}

function escapeRegExp(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
