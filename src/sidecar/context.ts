/**
 * What every sidecar service shares: the logger, the settings and secrets (which change at run time),
 * and the one status the sidecar reports. The same context serves the language-server process and the CLI.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { SidecarSecrets, SidecarSettings } from '../common/settings';
import type { ActiveModelInfo, SidecarHealth, StatusParams } from '../common/protocol';
import type { DownloadProgress } from '../common/models';
import { Emitter } from './events';

export interface Logger {
    error(message: string): void;
    warn(message: string): void;
    info(message: string): void;
    debug(message: string): void;
}

/** Holds the current status and pushes it (debounced for download progress) through `publish`. */
export class StatusReporter {
    private health: SidecarHealth = 'starting';
    private message = 'Starting…';
    private busyCount = 0;
    private activeModel: ActiveModelInfo | undefined;
    private readonly downloads = new Map<string, DownloadProgress>();
    private timer: NodeJS.Timeout | undefined;

    constructor(private readonly publish: (status: StatusParams) => void) {}

    setHealth(health: SidecarHealth, message: string): void {
        this.health = health;
        this.message = message;
        this.flush();
    }

    setActiveModel(model: ActiveModelInfo | undefined): void {
        this.activeModel = model;
        this.flush();
    }

    /** Marks the sidecar busy while `work` runs. */
    async busy<T>(message: string, work: () => Promise<T>): Promise<T> {
        this.busyCount++;
        const previous = this.message;
        this.message = message;
        this.flush();
        try {
            return await work();
        } finally {
            this.busyCount--;
            if (this.message === message) this.message = previous;
            this.flush();
        }
    }

    /** Download progress arrives many times a second: coalesce to at most 4 updates a second. */
    setDownload(progress: DownloadProgress): void {
        const key = `${progress.modelId}:${progress.quant}`;
        const finished = progress.state === 'done' || progress.state === 'failed' || progress.state === 'cancelled';
        if (finished) this.downloads.delete(key);
        else this.downloads.set(key, progress);
        if (finished || progress.state !== 'downloading') this.flush();
        else this.timer ??= setTimeout(() => this.flush(), 250);
    }

    snapshot(): StatusParams {
        return {
            health: this.health,
            busy: this.busyCount > 0,
            message: this.message,
            activeModel: this.activeModel,
            downloads: [...this.downloads.values()],
        };
    }

    private flush(): void {
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        this.publish(this.snapshot());
    }
}

export interface SidecarContextOptions {
    log: Logger;
    settings: SidecarSettings;
    secrets: SidecarSecrets;
    /** Default models folder when `settings.modelsPath` is empty. */
    defaultModelsPath: string;
    /** Folder for the sidecar's own state (measurements, journal). */
    statePath: string;
    /**
     * Folder for GPU backends fetched on demand (the extension's global storage/gpu-backends, the CLI's --backends-dir).
     * Default: LOCAL_AI_GPU_DIR, then ~/.local-ai/gpu-backends.
     */
    gpuBackendsPath?: string;
    /** Where status goes (the protocol in the server, nowhere or stderr in the CLI). */
    publishStatus?: (status: StatusParams) => void;
}

/** Tells when the settings or secrets change, so services can react without polling. */
export class SidecarContext extends Emitter<{ settings: [SidecarSettings]; secrets: [SidecarSecrets] }> {
    readonly log: Logger;
    readonly status: StatusReporter;
    readonly defaultModelsPath: string;
    readonly statePath: string;
    readonly gpuBackendsPath: string;
    private currentSettings: SidecarSettings;
    private currentSecrets: SidecarSecrets;

    constructor(options: SidecarContextOptions) {
        super();
        this.log = options.log;
        this.currentSettings = options.settings;
        this.currentSecrets = options.secrets;
        this.defaultModelsPath = options.defaultModelsPath;
        this.statePath = options.statePath;
        this.gpuBackendsPath = options.gpuBackendsPath || process.env.LOCAL_AI_GPU_DIR || path.join(os.homedir(), '.local-ai', 'gpu-backends');
        this.status = new StatusReporter(options.publishStatus ?? (() => undefined));
    }

    get settings(): SidecarSettings {
        return this.currentSettings;
    }

    get secrets(): SidecarSecrets {
        return this.currentSecrets;
    }

    /** The folder downloads go to: the setting, then LOCAL_AI_MODELS_PATH, then the default. */
    get modelsPath(): string {
        return this.currentSettings.modelsPath || process.env.LOCAL_AI_MODELS_PATH || this.defaultModelsPath;
    }

    updateSettings(settings: SidecarSettings): void {
        this.currentSettings = settings;
        this.emit('settings', settings);
    }

    updateSecrets(secrets: SidecarSecrets): void {
        this.currentSecrets = secrets;
        this.emit('secrets', secrets);
    }
}
