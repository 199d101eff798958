/**
 * The hardware service: what this machine has (or what an injected profile pretends it has), how each
 * model fits it, which model to recommend, and the measurements that keep those estimates honest.
 */
import type { Llama } from 'node-llama-cpp';
import type { FitEstimate, GpuBackendsReport, HardwareReport } from '../../common/hardware';
import type { ModelEntry, ModelFile, Recommendation } from '../../common/models';
import type { SidecarSettings } from '../../common/settings';
import type { SidecarContext } from '../context';
import { detectFacts } from './detect';
import { estimateFit } from './fit';
import { MeasurementStore, type MeasurementRecord, type RecordMeasurementParams } from './measurements';
import {
    availableRamBytes,
    DEFAULT_FIT_CONTEXT,
    fitContextSize,
    memoryBudget,
    memoryFromCatalog,
    memoryFromGguf,
    withFreeMemory,
    type GgufSource,
    type MemoryBudget,
    type ModelMemory,
} from '../llama/memoryModel';
import { profileFromEnvironment, type HardwareProfile } from './profiles';
import { recommend } from './recommend';
import { recommendCompletion } from './recommendCompletion';
import { buildReport } from './report';
import { Emitter } from '../events';

export interface HardwareServiceOptions {
    context: SidecarContext;
    /** The process's one `Llama` (created with the GPU mode from the settings); asked for only when detecting. */
    llama: () => Promise<Llama>;
    /** Use this profile instead of detection. Default: the file named by LOCAL_AI_HARDWARE_PROFILE, if any. */
    profile?: HardwareProfile;
    /** The GPU backends fetched on demand (installed, why one did not load); absent: the report has no such part. */
    gpuBackends?: () => Promise<GpuBackendsReport>;
}

/** Tells (`changed`) each new report, so lists that show fit badges can refresh. */
export class HardwareService extends Emitter<{ changed: [HardwareReport] }> {
    private current: HardwareReport | undefined;
    private detecting: Promise<HardwareReport> | undefined;
    private readonly profile: HardwareProfile | undefined;
    private readonly measurements: MeasurementStore;
    private readonly onSettings = (settings: SidecarSettings) => {
        if (this.current && settings.gpu !== this.gpuMode) this.invalidate();
    };
    private gpuMode: SidecarSettings['gpu'];
    private disposed = false;

    constructor(private readonly options: HardwareServiceOptions) {
        super();
        this.profile = options.profile ?? profileFromEnvironment();
        this.measurements = new MeasurementStore(options.context.statePath);
        this.gpuMode = options.context.settings.gpu;
        options.context.on('settings', this.onSettings);
    }

    /** The report, detected once and kept; `refresh` detects again (free memory changes). */
    report(refresh = false): Promise<HardwareReport> {
        if (refresh) this.invalidate();
        if (this.current && !this.detecting) return Promise.resolve(this.current);
        this.detecting ??= this.detect().then(
            (report) => {
                this.current = report;
                this.detecting = undefined;
                if (!this.disposed) this.emit('changed', report);
                return report;
            },
            (error: unknown) => {
                this.detecting = undefined;
                throw error;
            },
        );
        return this.detecting;
    }

    /** The last report, or undefined before the first `report()` resolved. */
    get lastReport(): HardwareReport | undefined {
        return this.current;
    }

    /**
     * How a catalog file fits, from the catalog's size and architecture (no I/O). Uses the last report;
     * before the first one it starts detection, throws, and emits 'changed' when the report is ready.
     */
    estimateCatalogFile(entry: ModelEntry, file: ModelFile, contextSize?: number): FitEstimate {
        const hardware = this.requireReport();
        return estimateFit({
            hardware,
            model: memoryFromCatalog(entry, file),
            contextSize: contextSize ?? fitContextSize(entry),
            measurement: this.measurements.get(file.path ?? file.file),
        });
    }

    /** How a GGUF fits, from its header only (HTTP range requests for a URL: the weights are never downloaded). */
    async estimateFile(source: GgufSource, contextSize = DEFAULT_FIT_CONTEXT, signal?: AbortSignal): Promise<FitEstimate> {
        const hardware = await this.report();
        const model = await this.readHeader(source, signal);
        return estimateFit({
            hardware,
            model,
            contextSize,
            measurement: this.measurements.get('path' in source ? source.path : source.url),
        });
    }

    /** A GGUF's memory from its header: the slow part of estimateFile, for a caller that keeps it per file. */
    async readHeader(source: GgufSource, signal?: AbortSignal): Promise<ModelMemory> {
        return memoryFromGguf(source, { llama: await this.options.llama(), signal });
    }

    /** How a model whose header was read fits, by the last report (no I/O); `file` names its measurements. */
    estimateHeader(model: ModelMemory, file: string, contextSize = DEFAULT_FIT_CONTEXT): FitEstimate {
        return estimateFit({ hardware: this.requireReport(), model, contextSize, measurement: this.measurements.get(file) });
    }

    /**
     * What a load may use now, by the same rule as the fit badges: the report's machine with its free
     * RAM and VRAM read again (they change between detections); an injected profile's numbers as they are.
     */
    async memoryBudget(): Promise<MemoryBudget> {
        const report = await this.report();
        if (this.profile) return memoryBudget(report);
        const llama = await this.options.llama();
        const vram = llama.gpu === false ? undefined : await llama.getVramState();
        return memoryBudget(withFreeMemory(report, { ramBytes: availableRamBytes(), vramBytes: vram?.free }));
    }

    /** The best model for this machine among `models`, or undefined when none fits. Uses the last report. */
    recommend(models: ModelEntry[]): Recommendation | undefined {
        this.requireReport();
        return recommend({ models, estimate: (entry, file) => this.estimateCatalogFile(entry, file) });
    }

    /**
     * The completion (FIM) model among `models` that fits beside the chat model `chat` (from the same list),
     * or undefined when none does. Uses the last report.
     */
    recommendCompletion(models: ModelEntry[], chat: Recommendation | undefined): Recommendation | undefined {
        const hardware = this.requireReport();
        const entry = chat && models.find((candidate) => candidate.id === chat.modelId);
        const file = entry?.files.find((candidate) => candidate.quant === chat?.quant);
        return recommendCompletion({ models, hardware, chat: entry && file ? { entry, file } : undefined });
    }

    /** Called by the engine after a real load, so later estimates for that file use real numbers. */
    recordMeasurement(params: RecordMeasurementParams): MeasurementRecord {
        return this.measurements.record(params);
    }

    dispose(): void {
        if (this.disposed) return;
        this.disposed = true;
        this.options.context.off('settings', this.onSettings);
        this.removeAllListeners();
    }

    private invalidate(): void {
        this.current = undefined;
        this.detecting = undefined;
    }

    private requireReport(): HardwareReport {
        if (this.current) return this.current;
        // Detection loads llama.cpp (seconds), so it starts on first need rather than at every sidecar start.
        this.report().catch((error: unknown) =>
            this.options.context.log.warn(`Hardware detection failed: ${error instanceof Error ? error.message : String(error)}`),
        );
        throw new Error('The hardware report is not ready yet; it is being detected.');
    }

    private async detect(): Promise<HardwareReport> {
        this.gpuMode = this.options.context.settings.gpu;
        const facts = this.profile ? this.profile.facts : await detectFacts(await this.options.llama());
        let gpuBackends = await this.options.gpuBackends?.();
        if (this.profile && gpuBackends?.installed.length) {
            // A profile's facts stand in for detection, but whether a fetched backend loads is this process's own fact.
            await this.options.llama();
            gpuBackends = await this.options.gpuBackends?.();
        }
        return buildReport(facts, this.gpuMode, new Date(), gpuBackends);
    }
}

export type { GgufSource } from '../llama/memoryModel';
export type { RecordMeasurementParams } from './measurements';
