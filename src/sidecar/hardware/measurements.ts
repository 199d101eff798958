/**
 * What real loads measured on this machine (memory taken, generation speed), kept in the sidecar's
 * state folder so estimates for the same model stay honest across restarts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Measurement } from './fit';

export interface MeasurementRecord extends Measurement {
    /** ISO time of the load that measured it. */
    measuredAt: string;
}

export interface RecordMeasurementParams extends Measurement {
    /** The loaded file; measurements are matched by file name, so a catalog file and its installed copy share one. */
    modelPath: string;
}

const FILE_NAME = 'hardware-measurements.json';

/** Measurements are per file name: the same GGUF gives the same numbers wherever it is stored. */
export function measurementKey(pathOrUrl: string): string {
    const withoutQuery = pathOrUrl.split(/[?#]/)[0];
    return path.posix.basename(withoutQuery.replace(/\\/g, '/')).toLowerCase();
}

export class MeasurementStore {
    private readonly records = new Map<string, MeasurementRecord>();
    private readonly file: string | undefined;

    /** `statePath` empty: measurements live only as long as the process. */
    constructor(statePath: string) {
        this.file = statePath ? path.join(statePath, FILE_NAME) : undefined;
        if (this.file && fs.existsSync(this.file)) {
            try {
                const saved = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Record<string, MeasurementRecord>;
                for (const [key, record] of Object.entries(saved)) {
                    if (typeof record?.tokensPerSecond === 'number' && typeof record.ramBytes === 'number') this.records.set(key, record);
                }
            } catch {
                // A corrupt file only loses past measurements; the next load writes a fresh one.
            }
        }
    }

    get(pathOrUrl: string): MeasurementRecord | undefined {
        return this.records.get(measurementKey(pathOrUrl));
    }

    /** A load measures memory, a generation speed: a record without a speed keeps the last one measured. */
    record(params: RecordMeasurementParams): MeasurementRecord {
        const previous = this.get(params.modelPath);
        const record: MeasurementRecord = {
            ramBytes: Math.max(0, params.ramBytes),
            vramBytes: Math.max(0, params.vramBytes),
            tokensPerSecond: params.tokensPerSecond > 0 ? params.tokensPerSecond : (previous?.tokensPerSecond ?? 0),
            measuredAt: new Date().toISOString(),
        };
        this.records.set(measurementKey(params.modelPath), record);
        this.save();
        return record;
    }

    private save(): void {
        if (!this.file) return;
        fs.mkdirSync(path.dirname(this.file), { recursive: true });
        const temporary = `${this.file}.tmp`;
        fs.writeFileSync(temporary, JSON.stringify(Object.fromEntries(this.records), null, 2));
        fs.renameSync(temporary, this.file);
    }
}
