/** At most `limit()` downloads transfer at once; the others wait their turn, in order, until aborted. */
export class DownloadSlots {
    private readonly waiting: (() => void)[] = [];
    private inUse = 0;

    /** `limit` is read at every turn: the setting can change while downloads wait. */
    constructor(private readonly limit: () => number) {}

    async acquire(signal: AbortSignal): Promise<void> {
        while (this.inUse >= Math.max(1, this.limit() || 1)) {
            await new Promise<void>((resolve, reject) => {
                const onAbort = () => reject(signal.reason);
                signal.addEventListener('abort', onAbort, { once: true });
                this.waiting.push(() => {
                    signal.removeEventListener('abort', onAbort);
                    resolve();
                });
            });
        }
        signal.throwIfAborted();
        this.inUse++;
    }

    release(): void {
        this.inUse--;
        this.waiting.shift()?.();
    }
}
