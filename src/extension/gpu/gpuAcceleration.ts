/**
 * GPU acceleration, the editor's side: what the sidecar says about fetched GPU backends and the offer for
 * this machine's GPU, the one-time notification, and the enable/disable flows (confirm what is fetched,
 * show the fetch as a download with Cancel, restart the sidecar, say what happened). The sidecar does the
 * fetching, checking and unpacking (src/sidecar/gpu); the status bar, the hardware report and the Models
 * view's title read the offer from here.
 */
import * as vscode from 'vscode';
import type { FetchableGpuBackend, HardwareReport } from '../../common/hardware';
import type { DownloadProgress } from '../../common/models';
import {
    GpuDisableRequest,
    GpuEnableRequest,
    type GpuEnableResult,
    GpuFetchProgressType,
    type GpuOfferResult,
    GpuOfferRequest,
    type GpuStatus,
    GpuStatusRequest,
    HardwareRequest,
    type StatusParams,
} from '../../common/protocol';
import { formatBytes } from '../../common/format';
import { readSidecarSettings } from '../config';
import type { SidecarClient } from '../sidecarClient';
import { BACKEND_NAMES, type GpuAction, type GpuOfferView, confirmDetail, fetchAsDownload, offerView, outcomeOf } from './gpuText';

/** Context key that shows Enable GPU Acceleration in the Models view's title. */
export const GPU_OFFERED_KEY = 'localAi.gpuOffered';
/** globalState key: the user chose "Don't Ask Again" on the notification. */
export const GPU_DONT_ASK_KEY = 'localAi.gpu.dontAskAgain';
const DONT_ASK = "Don't Ask Again";
const CONFIRM = 'Download and Enable';

export interface GpuAccelerationOptions {
    sidecar: SidecarClient;
    log: vscode.LogOutputChannel;
    /** Remembers "Don't Ask Again" across windows and sessions. */
    globalState: vscode.Memento;
    /** `<globalStorageUri>/gpu-backends`, where the sidecar installs fetched backends. */
    backendsPath: string;
}

export class GpuAcceleration implements vscode.Disposable {
    private readonly changed = new vscode.EventEmitter<void>();
    /** Fires when the offer, the status or a running fetch changed. */
    readonly onDidChange = this.changed.event;
    private readonly disposables: vscode.Disposable[] = [this.changed];
    private sidecarReady = false;
    private offerKey: boolean | undefined;
    /** The notification is shown at most once per window. */
    private notified = false;
    private fetching: { backend: FetchableGpuBackend; download: DownloadProgress; cancel: vscode.CancellationTokenSource } | undefined;
    private gpuVendor: string | undefined;
    private generation = 0;
    /** The newest refresh, which the ones it overtook wait for. */
    private latest: Promise<void> = Promise.resolve();
    status: GpuStatus | undefined;
    offer: GpuOfferResult | undefined;

    constructor(private readonly options: GpuAccelerationOptions) {
        this.disposables.push(
            options.sidecar.onStatus((status) => this.onStatus(status)),
            // Another registry offers other sizes; offline mode withdraws the offer. The sidecar has the new
            // value first: the client's own listener, registered before this one, sent it on the same connection.
            vscode.workspace.onDidChangeConfiguration((event) => {
                if (this.sidecarReady && ['localAi.gpuRegistry', 'localAi.offline'].some((key) => event.affectsConfiguration(key))) void this.refresh();
            }),
        );
    }

    /** The offer as the surfaces show it; undefined when there is nothing to offer or fix. */
    get view(): GpuOfferView | undefined {
        return offerView(this.status, this.offer, this.gpuVendor);
    }

    /** The running fetch, as a download row (status bar, Downloads list). */
    get downloads(): DownloadProgress[] {
        return this.fetching ? [this.fetching.download] : [];
    }

    /**
     * Asks the sidecar for the backends and the offer again. Never throws: a failure is logged and means "no offer".
     * Refreshes overlap (a restart, a setting changed, the hardware report): only the latest one's answers count,
     * and every caller resolves once they are in, so what it reads next (`view`) is never older than its call.
     */
    async refresh(): Promise<void> {
        let run = this.load(++this.generation);
        this.latest = run;
        await run;
        while (this.latest !== run) {
            run = this.latest;
            await run;
        }
    }

    private async load(generation: number): Promise<void> {
        const { sidecar, log } = this.options;
        let status: GpuStatus | undefined;
        let offer: GpuOfferResult | undefined;
        let vendor: string | undefined;
        try {
            status = await sidecar.request0(GpuStatusRequest.type);
            const report = await sidecar.request(HardwareRequest.type, {});
            vendor = report.gpus.find((gpu) => gpu.backend !== undefined)?.vendor ?? report.gpus[0]?.vendor;
            // Offline, the registry cannot say how large the backend is: nothing is offered until it can.
            offer = readSidecarSettings().offline ? undefined : await sidecar.request(GpuOfferRequest.type, {});
        } catch (error) {
            log.debug(`GPU acceleration: no offer (${error instanceof Error ? error.message : String(error)}).`);
        }
        if (generation !== this.generation) return;
        this.status = status ?? this.status;
        this.gpuVendor = vendor ?? this.gpuVendor;
        this.offer = offer;
        this.update();
    }

    /** Enable GPU Acceleration: confirm, fetch with progress and Cancel, restart the sidecar, say what happened. */
    async enable(backend?: FetchableGpuBackend): Promise<void> {
        const { sidecar, log } = this.options;
        if (readSidecarSettings().offline) {
            const choice = await vscode.window.showWarningMessage(
                'Local AI: offline mode is on (localAi.offline), so the GPU build of llama.cpp cannot be fetched. Turn offline mode off to enable GPU acceleration.',
                'Open Settings',
            );
            if (choice) await vscode.commands.executeCommand('workbench.action.openSettings', 'localAi.offline');
            return;
        }
        if (this.fetching) {
            await vscode.commands.executeCommand('localAi.showDownloads');
            return;
        }
        const { offer, advice } = await sidecar.request(GpuOfferRequest.type, { backend });
        if (!offer) {
            void vscode.window.showInformationMessage(`Local AI: ${advice ?? 'there is no GPU build to fetch for this machine.'}`);
            return;
        }
        const answer = await vscode.window.showInformationMessage(
            `Enable GPU acceleration with ${BACKEND_NAMES[offer.backend]} on the ${offer.gpu}?`,
            { modal: true, detail: confirmDetail(offer, this.status?.backendsPath ?? this.options.backendsPath) },
            CONFIRM,
        );
        if (answer !== CONFIRM) return;
        const result = await this.fetch(offer.backend);
        if (!result) return;
        log.info(
            `GPU acceleration: ${BACKEND_NAMES[offer.backend]} installed in ${result.installed.folder}${result.downloaded ? `, ${formatBytes(result.bytesFetched)} fetched` : ', already there'}; restarting the sidecar.`,
        );
        await this.restartAndReport(offer.backend);
    }

    /** Disable GPU Acceleration: delete every fetched backend and go back to the CPU build. */
    async disable(): Promise<void> {
        const { sidecar } = this.options;
        const status = await sidecar.request0(GpuStatusRequest.type);
        if (status.installed.length === 0) {
            void vscode.window.showInformationMessage('Local AI: no GPU build is installed; llama.cpp already uses only what ships with the extension.');
            return;
        }
        const size = status.installed.reduce((sum, backend) => sum + backend.sizeBytes, 0);
        const names = status.installed.map((backend) => BACKEND_NAMES[backend.backend]).join(' and ');
        const answer = await vscode.window.showWarningMessage(
            `Disable GPU acceleration and delete the ${names} build?`,
            {
                modal: true,
                detail: `${formatBytes(size)} will be removed from ${status.backendsPath}. Local AI restarts its sidecar, and models run on the CPU.`,
            },
            'Delete and Restart',
        );
        if (answer !== 'Delete and Restart') return;
        this.cancelFetch();
        await sidecar.request0(GpuDisableRequest.type);
        await sidecar.restart();
        await this.refresh();
        void vscode.window.showInformationMessage(`Local AI: the ${names} build was deleted; models run on the CPU.`);
    }

    /** Cancels a running fetch (the partial tarball is kept for a resume). */
    cancelFetch(): void {
        this.fetching?.cancel.cancel();
    }

    private async fetch(backend: FetchableGpuBackend): Promise<GpuEnableResult | undefined> {
        const cancel = new vscode.CancellationTokenSource();
        const started = Date.now();
        this.fetching = { backend, download: fetchAsDownload(backend, undefined, 0), cancel };
        this.changed.fire();
        try {
            return await vscode.window.withProgress(
                { location: vscode.ProgressLocation.Notification, title: `Local AI: fetching the ${BACKEND_NAMES[backend]} build`, cancellable: true },
                async (progress, token) => {
                    const onCancel = token.onCancellationRequested(() => cancel.cancel());
                    let reported = 0;
                    try {
                        return await this.options.sidecar.requestWithProgress(
                            GpuEnableRequest.type,
                            GpuFetchProgressType,
                            { backend },
                            (value) => {
                                const seconds = (Date.now() - started) / 1000;
                                const download = fetchAsDownload(backend, value, seconds > 0 ? value.bytes / seconds : 0);
                                if (this.fetching) this.fetching.download = download;
                                const now = value.totalBytes > 0 ? Math.floor((value.bytes / value.totalBytes) * 100) : 0;
                                progress.report({ increment: Math.max(0, now - reported), message: download.message });
                                reported = Math.max(reported, now);
                                this.changed.fire();
                            },
                            cancel.token,
                        );
                    } finally {
                        onCancel.dispose();
                    }
                },
            );
        } catch (error) {
            if (cancel.token.isCancellationRequested) {
                void vscode.window.showInformationMessage(
                    `Local AI: the ${BACKEND_NAMES[backend]} build was not installed (cancelled); a new try resumes the download.`,
                );
                return undefined;
            }
            throw error;
        } finally {
            cancel.dispose();
            this.fetching = undefined;
            this.changed.fire();
        }
    }

    /** node-llama-cpp resolves its backend packages once per process: a new sidecar picks the fetched build up. */
    private async restartAndReport(backend: FetchableGpuBackend): Promise<void> {
        const { sidecar } = this.options;
        await sidecar.restart();
        const report: HardwareReport = await sidecar.request(HardwareRequest.type, { refresh: true });
        await this.refresh();
        const outcome = outcomeOf(backend, report);
        if (outcome.running) {
            void vscode.window.showInformationMessage(`Local AI: ${outcome.message}`);
            return;
        }
        // Not awaited: the command is done once the sidecar runs again; the buttons act whenever they are clicked.
        const actions = this.view?.actions ?? [];
        void vscode.window
            .showWarningMessage(`Local AI: ${outcome.message}`, ...actions.map((action) => action.title), 'Show Hardware Report')
            .then((choice) => {
                if (choice === 'Show Hardware Report') return vscode.commands.executeCommand('localAi.showHardwareReport');
                return runAction(actions.find((action) => action.title === choice));
            });
    }

    private onStatus(status: StatusParams): void {
        if (status.health === 'ready' && !this.sidecarReady) {
            this.sidecarReady = true;
            void this.refresh();
        } else if (status.health === 'starting' || status.health === 'error') {
            this.sidecarReady = false;
        }
    }

    private update(): void {
        const offered = this.offer?.offer !== undefined;
        if (this.offerKey !== offered) {
            this.offerKey = offered;
            void vscode.commands.executeCommand('setContext', GPU_OFFERED_KEY, offered);
        }
        this.changed.fire();
        if (offered && !this.status?.loadFailure) void this.notify();
    }

    /** The one-time notification: once per window, never again after "Don't Ask Again". */
    private async notify(): Promise<void> {
        const view = this.view;
        if (!view || this.notified || this.options.globalState.get<boolean>(GPU_DONT_ASK_KEY)) return;
        this.notified = true;
        const choice = await vscode.window.showInformationMessage(`Local AI: ${view.headline}`, ...view.actions.map((action) => action.title), DONT_ASK);
        if (choice === DONT_ASK) await this.options.globalState.update(GPU_DONT_ASK_KEY, true);
        else await runAction(view.actions.find((action) => action.title === choice));
    }

    dispose(): void {
        this.cancelFetch();
        for (const disposable of this.disposables) disposable.dispose();
    }
}

/** Runs an offer's action: a command (errors shown by the command table) or a page in the browser. */
export async function runAction(action: GpuAction | undefined): Promise<void> {
    if (!action) return;
    if (action.url) await vscode.env.openExternal(vscode.Uri.parse(action.url));
    else if (action.command) await vscode.commands.executeCommand(action.command, ...(action.args ?? []));
}
