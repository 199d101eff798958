import type { DownloadProgress } from '../../common/models';

/** Speed over the last few seconds, reported at most 5 times a second. */
export class SpeedMeter {
    private readonly samples: { time: number; bytes: number }[] = [];
    private pending = 0;
    private lastReport = Date.now();

    add(bytes: number, remaining: number): Pick<DownloadProgress, 'bytesPerSecond' | 'etaSeconds'> | undefined {
        this.pending += bytes;
        const now = Date.now();
        if (now - this.lastReport < 200) return undefined;
        this.samples.push({ time: now, bytes: this.pending });
        const since = this.samples.length > 1 ? this.samples[0].time : this.lastReport;
        this.lastReport = now;
        this.pending = 0;
        while (this.samples.length > 1 && now - this.samples[0].time > 5_000) this.samples.shift();
        const first = this.samples.length > 1 ? this.samples[0].time : since;
        const bytesInSpan = this.samples.slice(this.samples.length > 1 ? 1 : 0).reduce((sum, s) => sum + s.bytes, 0);
        const bytesPerSecond = now > first ? (bytesInSpan * 1000) / (now - first) : 0;
        return { bytesPerSecond, etaSeconds: bytesPerSecond > 0 ? Math.ceil(remaining / bytesPerSecond) : undefined };
    }
}
