/**
 * Turns what the sidecar answers (a ResponseError code from src/common/errors.ts with its data) into a
 * message the user can act on, with the buttons that act on it. The one place errors reach the user.
 */
import * as vscode from 'vscode';
import { ErrorCode, type ErrorData } from '../common/errors';
import { SidecarError } from './sidecarClient';
import { formatBytes } from '../common/format';

export interface ErrorAction {
    title: string;
    run: () => unknown;
}

export interface ExplainedError {
    message: string;
    actions: ErrorAction[];
    /** False for a cancellation the user asked for: nothing to say. */
    show: boolean;
}

/** What the user asked for when the error happened; lets the buttons retry it. */
export interface ErrorContext {
    /** The model the command was about, for "Download" / "Choose Quantization" buttons. */
    model?: string;
    /** Runs the same command again (e.g. after a token was set). */
    retry?: () => unknown;
}

export function errorCode(error: unknown): number | undefined {
    return error instanceof SidecarError ? error.code : undefined;
}

export function isCancellation(error: unknown): boolean {
    return errorCode(error) === ErrorCode.Cancelled || (error instanceof vscode.CancellationError);
}

function errorData(error: unknown): ErrorData {
    const data = error instanceof SidecarError ? error.data : undefined;
    return data && typeof data === 'object' ? (data as ErrorData) : {};
}

function amount(value: number | undefined, unit: ErrorData['unit']): string {
    if (value === undefined) return '?';
    return unit === 'tokens' ? `${value.toLocaleString()} tokens` : formatBytes(value);
}

const command = (title: string, id: string, ...args: unknown[]): ErrorAction => ({ title, run: () => vscode.commands.executeCommand(id, ...args) });

export function explainError(error: unknown, context: ErrorContext = {}): ExplainedError {
    const base = error instanceof Error ? error.message : String(error);
    const data = errorData(error);
    const code = errorCode(error);
    const actions: ErrorAction[] = [];
    const retry = context.retry ? [{ title: 'Try Again', run: context.retry }] : [];
    let message = base;
    switch (code) {
        case ErrorCode.Cancelled:
            return { message: 'Cancelled.', actions, show: false };
        case ErrorCode.ModelNotFound:
            message = `${base} Check the model id or the hf: URI (hf:owner/repo/file.gguf), or refresh the list.`;
            actions.push(command('Refresh Models', 'localAi.refreshModels'));
            break;
        case ErrorCode.ModelNotInstalled:
            message = `${base} Download it first.`;
            actions.push(command('Download', 'localAi.downloadModel', context.model));
            break;
        case ErrorCode.ModelDoesNotFit:
            message = `${base}${data.needed !== undefined ? ` It needs ${amount(data.needed, data.unit)}, ${amount(data.available, data.unit)} is free.` : ''} Choose a smaller quantization or close other apps.`;
            actions.push(command('Choose Quantization', 'localAi.chooseQuantization', context.model));
            break;
        case ErrorCode.InvalidModelFile:
            message = `${base}${data.file ? ` (${data.file})` : ''} The file is not a model llama.cpp can load: delete it and download it again.`;
            actions.push(command('Delete Model', 'localAi.deleteModel', context.model));
            break;
        case ErrorCode.ContextOverflow:
            message = `${base}${data.needed !== undefined ? ` The prompt has ${amount(data.needed, 'tokens')}, the model takes ${amount(data.available, 'tokens')}.` : ''} Shorten it or raise localAi.contextSize.`;
            actions.push(command('Open Settings', 'workbench.action.openSettings', 'localAi.contextSize'));
            break;
        case ErrorCode.DownloadFailed:
            message = `${base} The part already downloaded is kept: downloading again resumes it.`;
            actions.push(...retry, command('Show Logs', 'localAi.showLogs'));
            break;
        case ErrorCode.ChecksumMismatch:
            message = `${base} The damaged file was deleted; download it again.`;
            actions.push(...retry);
            break;
        case ErrorCode.DiskFull:
            message = `${base}${data.needed !== undefined ? ` It needs ${amount(data.needed, 'bytes')}, ${amount(data.available, 'bytes')} is free.` : ''} Free some space or move models elsewhere (localAi.modelsPath); the partial file is kept.`;
            actions.push(command('Clean Up Partial Downloads', 'localAi.cleanupPartials'), command('Open Settings', 'workbench.action.openSettings', 'localAi.modelsPath'));
            break;
        case ErrorCode.Unauthorized:
            message = data.provider
                ? `${base} The key for ${data.provider} was refused.`
                : `${base} This model is gated: accept its license on Hugging Face, then set a token that can read it.`;
            if (data.url) actions.push({ title: 'Open Model Page', run: () => vscode.env.openExternal(vscode.Uri.parse(data.url!)) });
            actions.push(data.provider ? command('Set API Key', 'localAi.setCloudApiKey', data.provider) : command('Set Token', 'localAi.setHuggingFaceToken'));
            break;
        case ErrorCode.NetworkError:
            message = `${base} Check your connection, the proxy (http.proxy), localAi.hubEndpoint and localAi.offline.`;
            actions.push(...retry, command('Open Settings', 'workbench.action.openSettings', 'localAi.'));
            break;
        case ErrorCode.NoEngineAvailable:
            actions.push(command('Download Model', 'localAi.downloadModel'), command('Show Logs', 'localAi.showLogs'));
            break;
        case ErrorCode.LoadFailed:
            message = `${base} Try a smaller quantization, or set localAi.gpu to "off".`;
            actions.push(command('Show Logs', 'localAi.showLogs'), command('Choose Quantization', 'localAi.chooseQuantization', context.model));
            break;
        default:
            actions.push(command('Show Logs', 'localAi.showLogs'));
    }
    if (data.hint && !message.includes(data.hint)) message = `${message} ${data.hint}`;
    return { message, actions, show: true };
}

/** Logs the error and shows it with its actions; a cancellation is only logged. */
export async function showError(log: vscode.LogOutputChannel, what: string, error: unknown, context: ErrorContext = {}): Promise<void> {
    const explained = explainError(error, context);
    if (!explained.show) {
        log.info(`${what}: cancelled`);
        return;
    }
    log.error(`${what}: ${explained.message}`);
    const choice = await vscode.window.showErrorMessage(`Local AI: ${explained.message}`, ...explained.actions.map((action) => action.title));
    await explained.actions.find((action) => action.title === choice)?.run();
}
