/**
 * Model text is untrusted: in VS Code's Chat view a markdown image would make the editor fetch an
 * address the model chose, and that address can carry the conversation. Escaping the `!` of `![`
 * turns every image into a plain link. Code fences are left alone (`vec![1, 2]` is Rust, not an
 * image). Works on a stream: a chunk may end between `!` and `[`, so a trailing `!` waits for the next.
 */
export class ImageLinksOnly {
    private inFence = false;
    private atLineStart = true;
    private leadingTicks = 0;
    private heldBang = false;

    /** The text to show now for this chunk. */
    push(text: string): string {
        let out = '';
        for (const ch of text) out += this.take(ch);
        return out;
    }

    /** What is still held back when the answer ends. */
    flush(): string {
        const rest = this.heldBang ? '!' : '';
        this.heldBang = false;
        return rest;
    }

    private take(ch: string): string {
        let prefix = '';
        if (this.heldBang) {
            this.heldBang = false;
            prefix = ch === '[' && !this.inFence ? '\\!' : '!';
        }
        this.trackFence(ch);
        if (ch === '!') {
            this.heldBang = true;
            return prefix;
        }
        return prefix + ch;
    }

    /** A line starting with three backticks (after optional indentation) opens or closes a fence. */
    private trackFence(ch: string): void {
        if (ch === '\n') {
            this.atLineStart = true;
            this.leadingTicks = 0;
        } else if (this.atLineStart && ch === '`') {
            if (++this.leadingTicks === 3) {
                this.inFence = !this.inFence;
                this.atLineStart = false;
            }
        } else if (!(this.atLineStart && ch === ' ' && this.leadingTicks === 0)) {
            this.atLineStart = false;
        }
    }
}
