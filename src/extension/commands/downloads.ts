/**
 * Downloading models: the Download Model pick (with fit badges, or a typed `hf:` URI), the recommended
 * model, cancel, the list of downloads, and the housekeeping of partial and damaged files.
 */
import * as vscode from 'vscode';
import { ErrorCode } from '../../common/errors';
import {
    CancelDownloadRequest,
    CheckModelsRequest,
    CleanupRequest,
    DownloadProgressType,
    DownloadRequest,
    type DownloadResult,
    type InstalledRevision,
    RepairModelsRequest,
} from '../../common/protocol';
import { errorCode, isCancellation } from '../errors';
import { SidecarError } from '../sidecarClient';
import type { ExtensionServices } from '../services';
import { formatBytes } from '../../common/format';
import { describeDownload, percent, preferredFile } from '../views/modelFormat';
import { GPU_DOWNLOAD_ID } from '../gpu/gpuText';
import type { CommandRow } from './commandRow';
import { choiceFromArgument, pickModel } from './modelPicks';

export interface DownloadOptions {
    /** Model id or `hf:` URI. */
    model: string;
    /** Default: the model's default quantization for this machine. */
    quant?: string;
    /** Shown in the progress notification. Default: `model`. */
    name?: string;
    /** Download even when the model does not fit. Default: false. */
    force?: boolean;
    /** Replace a copy of another commit without asking (the user said yes). Default: false. */
    replace?: boolean;
}

/**
 * Downloads under a cancellable progress notification. Cancelling keeps the partial file, so the next
 * download resumes it. Resolves to undefined when cancelled.
 */
/** globalState: the first model was made ready to answer (the first-run flow runs once per install). */
export const FIRST_MODEL_READIED_KEY = 'localAi.firstModelReadied';

export async function downloadModel(services: ExtensionServices, options: DownloadOptions): Promise<DownloadResult | undefined> {
    const { sidecar, log } = services;
    const name = options.name ?? options.model;
    const pending = { model: options.model, quant: options.quant, name: options.name, force: options.force };
    // The first model a user ever gets is made ready to answer (loaded, chosen, the chat opened), not just
    // announced: once per install, so that emptying the store and downloading again, or repairing, is not a first run.
    const firstModel =
        services.models.loaded && services.models.installed().length === 0 && !services.context.globalState.get<boolean>(FIRST_MODEL_READIED_KEY);
    await services.downloads.remember(pending);
    try {
        const result = await vscode.window.withProgress(
            { location: vscode.ProgressLocation.Notification, title: `Downloading ${name}`, cancellable: true },
            async (progress, token) => {
                let reported = 0;
                // The request's own cancellation stops this requester; ask the download itself to stop too.
                const onCancel = token.onCancellationRequested(() => {
                    void sidecar.request(CancelDownloadRequest.type, { model: options.model, quant: options.quant }).catch(() => undefined);
                });
                try {
                    return await sidecar.requestWithProgress(
                        DownloadRequest.type,
                        DownloadProgressType,
                        { model: options.model, quant: options.quant, force: options.force, askBeforeReplacing: !options.replace },
                        (value) => {
                            const now = percent(value.receivedBytes, value.totalBytes);
                            progress.report({ increment: Math.max(0, now - reported), message: describeDownload(value) });
                            reported = Math.max(reported, now);
                        },
                        token,
                    );
                } finally {
                    onCancel.dispose();
                }
            },
        );
        await services.downloads.forget(pending);
        if (result.replaceOffer) return confirmReplace(services, options, result.replaceOffer);
        log.info(
            `Downloaded ${name} (${result.quant}) to ${result.path}${result.downloaded ? `, ${formatBytes(result.bytesFetched)} fetched` : ', already installed'}.`,
        );
        void services.models.refresh();
        if (firstModel) {
            await services.context.globalState.update(FIRST_MODEL_READIED_KEY, true);
            await readyFirstModel(services, result, name);
            return result;
        }
        void vscode.window
            .showInformationMessage(`Local AI: ${name} ${result.quant} is ${result.downloaded ? 'downloaded' : 'already installed'}.`, 'Use for Chat')
            .then((choice) => choice && vscode.commands.executeCommand('localAi.useForChat', `${result.modelId}@${result.quant}`));
        return result;
    } catch (error) {
        if (error instanceof SidecarError && error.lost) {
            // The sidecar went away (crash, reload): the download restarts with it, from its partial file.
            services.downloads.markStopped(pending);
            log.warn(`Download of ${name} interrupted by a sidecar restart; it resumes when the sidecar is back.`);
            return undefined;
        }
        await services.downloads.forget(pending);
        if (isCancellation(error)) {
            log.info(`Download of ${name} paused; the partial file is kept.`);
            void vscode.window.showInformationMessage(`Local AI: download of ${name} paused. Download it again to resume where it stopped.`);
            return undefined;
        }
        if (errorCode(error) === ErrorCode.ModelDoesNotFit && !options.force) {
            const message = error instanceof Error ? error.message : String(error);
            const choice = await vscode.window.showWarningMessage(`Local AI: ${message}`, 'Choose Quantization', 'Download Anyway');
            if (choice === 'Download Anyway') return downloadModel(services, { ...options, force: true });
            if (choice === 'Choose Quantization') await vscode.commands.executeCommand('localAi.chooseQuantization', options.model);
            return undefined;
        }
        throw error;
    }
}

/**
 * After the first download: the model becomes the chat model (in the quantization downloaded) and is
 * loaded, the Chat view opens with the input focused, and one notification says how to use it.
 */
async function readyFirstModel(services: ExtensionServices, result: DownloadResult, name: string): Promise<void> {
    const choice = `${result.modelId}@${result.quant}`;
    await vscode.commands.executeCommand('localAi.useForChat', choice);
    await vscode.commands.executeCommand('localAi.loadModel', choice);
    await vscode.commands.executeCommand('localAi.openChat');
    services.log.info(`${name} ${result.quant} is the first model: loaded, chosen for chat, and the chat opened.`);
    const inline = process.platform === 'darwin' ? 'Cmd+Alt+I' : 'Ctrl+Alt+I';
    void vscode.window.showInformationMessage(
        `Local AI: ${name} is ready. Ask it anything in the Chat view (Enter sends); select code in an editor and press ${inline} to edit it inline.`,
    );
}

/** One copy per path: a download of another revision replaces the installed copy, so the user says yes first. */
async function confirmReplace(
    services: ExtensionServices,
    options: DownloadOptions,
    offer: { installed: InstalledRevision; incoming: InstalledRevision },
): Promise<DownloadResult | undefined> {
    const name = options.name ?? options.model;
    const choice = await vscode.window.showWarningMessage(
        `Replace ${name} ${describeRevision(offer.installed)} with ${describeRevision(offer.incoming)}?`,
        { modal: true, detail: 'The installed file stays in use until the new one is downloaded and verified.' },
        'Replace',
    );
    return choice === 'Replace' ? downloadModel(services, { ...options, replace: true }) : undefined;
}

function describeRevision(revision: InstalledRevision): string {
    return revision.commit ? `${revision.revision} (commit ${revision.commit.slice(0, 7)})` : revision.revision;
}

async function downloadCommand(services: ExtensionServices, argument: unknown): Promise<unknown> {
    const { models } = services;
    const choice = choiceFromArgument(models, argument);
    if (choice) return downloadModel(services, { model: choice.entry.id, quant: choice.file.quant, name: choice.entry.name });
    if (typeof argument === 'string' && argument.startsWith('hf:')) return downloadModel(services, { model: argument });
    if (!models.loaded) await models.refresh();
    if (models.error) throw new Error(`Could not list models: ${models.error}`);
    const picked = await pickModel(models, {
        title: 'Download a model',
        placeholder: 'Pick a model, or type a Hugging Face URI (hf:owner/repo/file.gguf or hf:owner/repo:Q4_K_M)',
        acceptHubUri: true,
        choices: models.notInstalled().flatMap((entry) => {
            const file = preferredFile(entry);
            return file ? [{ entry, file }] : [];
        }),
    });
    if (picked?.uri) return downloadModel(services, { model: picked.uri });
    if (picked?.choice) return downloadModel(services, { model: picked.choice.entry.id, quant: picked.choice.file.quant, name: picked.choice.entry.name });
    return undefined;
}

async function downloadRecommended(services: ExtensionServices): Promise<unknown> {
    const { models } = services;
    if (!models.loaded || !models.recommendation) await models.refresh();
    const recommendation = models.recommendation;
    if (!recommendation) {
        const why = models.error ?? 'no catalog model fits what was found of this machine';
        const choice = await vscode.window.showWarningMessage(`Local AI: there is no recommended model (${why}).`, 'Download Model…', 'Show Hardware Report');
        if (choice === 'Download Model…') await vscode.commands.executeCommand('localAi.downloadModel');
        if (choice === 'Show Hardware Report') await vscode.commands.executeCommand('localAi.showHardwareReport');
        return undefined;
    }
    const entry = models.find(recommendation.modelId);
    return downloadModel(services, { model: recommendation.modelId, quant: recommendation.quant, name: entry?.name });
}

async function cancelDownload(services: ExtensionServices, argument: unknown): Promise<void> {
    const { models, sidecar } = services;
    const running = models.downloads.filter((download) => download.state !== 'failed');
    const target = choiceFromArgument(models, argument);
    let download = target ? running.find((candidate) => candidate.modelId === target.entry.id && candidate.quant === target.file.quant) : undefined;
    if (!target) {
        if (running.length === 0) {
            void vscode.window.showInformationMessage('Local AI: no download is running.');
            return;
        }
        download =
            running.length === 1
                ? running[0]
                : (
                      await vscode.window.showQuickPick(
                          running.map((candidate) => ({ label: `$(cloud-download) ${candidate.name}`, description: describeDownload(candidate), candidate })),
                          { title: 'Cancel which download?' },
                      )
                  )?.candidate;
        if (!download) return;
    }
    const model = download?.modelId ?? target!.entry.id;
    const quant = download?.quant ?? target!.file.quant;
    const { cancelled } = await sidecar.request(CancelDownloadRequest.type, { model, quant });
    void vscode.window.showInformationMessage(
        cancelled
            ? `Local AI: download of ${download?.name ?? model} paused; download it again to resume.`
            : `Local AI: ${download?.name ?? model} was not downloading.`,
    );
}

function showDownloads(services: ExtensionServices): Promise<void> {
    const { models, gpu } = services;
    // The GPU build's fetch is a download like the models' (first: it is what the user started last, if running).
    const downloads = () => [...gpu.downloads, ...models.downloads];
    if (downloads().length === 0) {
        void vscode.window
            .showInformationMessage('Local AI: no download is running.', 'Download Model…')
            .then((choice) => choice && vscode.commands.executeCommand('localAi.downloadModel'));
        return Promise.resolve();
    }
    const cancelButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('debug-stop'), tooltip: 'Cancel (keeps the part already downloaded)' };
    const quickPick = vscode.window.createQuickPick<vscode.QuickPickItem & { modelId: string; quant: string }>();
    quickPick.title = 'Local AI downloads';
    quickPick.placeholder = 'Downloads resume where they stopped when cancelled';
    const render = () => {
        quickPick.items = downloads().map((download) => ({
            label: `$(${download.state === 'failed' ? 'warning' : 'cloud-download'}) ${download.name}`,
            description: describeDownload(download)
                .split(' · ')
                .filter((part) => part !== download.name)
                .join(' · '),
            detail: download.message,
            buttons: download.state === 'failed' ? [] : [cancelButton],
            modelId: download.modelId,
            quant: download.quant,
        }));
    };
    render();
    return new Promise((resolve) => {
        const disposables = [
            models.onDidChange(render),
            gpu.onDidChange(render),
            quickPick.onDidTriggerItemButton((event) => {
                if (event.item.modelId === GPU_DOWNLOAD_ID) gpu.cancelFetch();
                else void cancelDownload(services, `${event.item.modelId}@${event.item.quant}`);
            }),
            quickPick.onDidAccept(() => quickPick.hide()),
            quickPick.onDidHide(() => {
                for (const disposable of disposables) disposable.dispose();
                quickPick.dispose();
                resolve();
            }),
        ];
        quickPick.show();
    });
}

async function checkModels(services: ExtensionServices, argument: unknown): Promise<void> {
    const choice = choiceFromArgument(services.models, argument);
    const { results } = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Checking installed models (size and sha256)', cancellable: true },
        (_progress, token) => services.sidecar.request(CheckModelsRequest.type, { model: choice?.entry.id }, token),
    );
    const broken = results.filter((result) => !result.ok);
    for (const result of broken) services.log.warn(`Check: ${result.modelId} ${result.quant} (${result.path}): ${result.problem ?? 'damaged'}`);
    if (results.length === 0) {
        void vscode.window.showInformationMessage('Local AI: no model is installed, nothing to check.');
    } else if (broken.length === 0) {
        const unverified = results.filter((result) => !result.verified);
        void vscode.window.showInformationMessage(
            unverified.length === 0
                ? `Local AI: all ${results.length} installed model file${results.length === 1 ? ' is' : 's are'} intact.`
                : `Local AI: ${results.length - unverified.length} of ${results.length} model files verified intact; ${unverified.map((result) => `${result.modelId} ${result.quant}`).join(', ')} could only be checked by size (no sha256 is known: offline, or the hub gives none).`,
        );
    } else {
        const message = `Local AI: ${broken.length} of ${results.length} model files are damaged: ${broken.map((result) => `${result.modelId} ${result.quant} (${result.problem ?? 'damaged'})`).join('; ')}. Repair fetches them again.`;
        const picked = await vscode.window.showWarningMessage(message, 'Repair', 'Show Logs');
        if (picked === 'Show Logs') services.log.show();
        if (picked === 'Repair') await repairModels(services, choice && { model: choice.entry.id });
    }
}

/**
 * Fetches damaged or missing files again (all, or one model's file) from the commit each came from; a
 * damaged copy is replaced only once the new one is verified, so a failed repair leaves it as it was.
 */
async function repairModels(services: ExtensionServices, target: { model: string; quant?: string } | undefined): Promise<void> {
    const { results } = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Repairing damaged model files', cancellable: true },
        (_progress, token) => services.sidecar.request(RepairModelsRequest.type, target ?? {}, token),
    );
    void services.models.refresh();
    const repaired = results.filter((result) => result.repaired);
    const failed = results.filter((result) => !result.ok);
    for (const result of failed) {
        services.log.warn(`Repair: ${result.modelId} ${result.quant} (${result.path}): ${result.error?.message ?? result.problem ?? 'still damaged'}`);
    }
    if (failed.length === 0) {
        void vscode.window.showInformationMessage(
            repaired.length === 0
                ? 'Local AI: nothing to repair; the files are intact.'
                : `Local AI: repaired ${repaired.map((result) => `${result.modelId} ${result.quant}`).join(', ')}: fetched again and verified.`,
        );
        return;
    }
    const picked = await vscode.window.showErrorMessage(
        `Local AI: could not repair ${failed.map((result) => `${result.modelId} ${result.quant} (${result.error?.message ?? result.problem ?? 'still damaged'})`).join('; ')}. The damaged file was left as it was.`,
        'Retry',
        'Show Logs',
    );
    if (picked === 'Show Logs') services.log.show();
    if (picked === 'Retry') await repairModels(services, target);
}

async function repairCommand(services: ExtensionServices, argument: unknown): Promise<void> {
    const choice = choiceFromArgument(services.models, argument);
    await repairModels(services, choice && { model: choice.entry.id, quant: choice.file.quant });
}

async function cleanupPartials(services: ExtensionServices): Promise<void> {
    const { removedFiles, freedBytes } = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Removing partial downloads no download is using' },
        () => services.sidecar.request0(CleanupRequest.type),
    );
    for (const file of removedFiles) services.log.info(`Removed partial download ${file}`);
    // One unfinished download is its bytes, its journal and sometimes a manifest left behind: counted once.
    const downloads = new Set(removedFiles.map((file) => file.replace(/\.(partial|partial\.json|manifest\.json)$/, ''))).size;
    void services.models.refresh();
    void vscode.window.showInformationMessage(
        downloads === 0
            ? 'Local AI: there were no partial downloads to remove.'
            : `Local AI: removed ${downloads} partial download${downloads === 1 ? '' : 's'}, ${formatBytes(freedBytes)} freed.`,
    );
}

export function downloadCommands(services: ExtensionServices): CommandRow[] {
    return [
        { id: 'localAi.downloadModel', run: (argument?: unknown) => downloadCommand(services, argument) },
        { id: 'localAi.downloadRecommended', run: () => downloadRecommended(services) },
        { id: 'localAi.cancelDownload', run: (argument?: unknown) => cancelDownload(services, argument) },
        { id: 'localAi.showDownloads', run: () => showDownloads(services) },
        { id: 'localAi.checkModels', run: (argument?: unknown) => checkModels(services, argument) },
        { id: 'localAi.cleanupPartials', run: () => cleanupPartials(services) },
        { id: 'localAi.repairModel', run: (argument?: unknown) => repairCommand(services, argument) },
    ];
}
