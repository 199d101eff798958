/**
 * Turns what the sidecar answers (a ResponseError code from src/common/errors.ts with its data) into a
 * message the user can act on, with the buttons that act on it. The one place errors reach the user.
 */
import * as vscode from 'vscode';
import { adviseOn, ErrorCode, type ErrorAdvice, type ErrorData, type ErrorFix } from '../common/errors';
import { formatBytes } from '../common/format';
import { SidecarError } from './sidecarClient';

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
    return errorCode(error) === ErrorCode.Cancelled || error instanceof vscode.CancellationError;
}

/** The facts the sidecar attached to its error. */
export function errorData(error: unknown): ErrorData {
    const data = error instanceof SidecarError ? error.data : undefined;
    return data && typeof data === 'object' ? (data as ErrorData) : {};
}

/** Bytes as everywhere else in the editor; tokens with thousands separators. */
export function formatAmount(value: number, unit: 'bytes' | 'tokens'): string {
    return unit === 'tokens' ? `${value.toLocaleString()} tokens` : formatBytes(value);
}

/** The table's advice, with the lost-sidecar case only the client can know. */
export function adviseOnError(error: unknown): ErrorAdvice {
    const base = error instanceof Error ? error.message : String(error);
    if (error instanceof SidecarError && error.lost) return { message: base, fixes: ['restartSidecar', 'showLogs'] };
    return adviseOn(errorCode(error), base, errorData(error), formatAmount);
}

const command = (title: string, id: string, ...args: unknown[]): ErrorAction => ({ title, run: () => vscode.commands.executeCommand(id, ...args) });

/** Each fix as a notification button; `newChat` belongs to the chat, `retry` needs something to retry. */
function button(fix: ErrorFix, data: ErrorData, context: ErrorContext): ErrorAction | undefined {
    switch (fix) {
        case 'retry':
            return context.retry ? { title: 'Try Again', run: context.retry } : undefined;
        case 'restartSidecar':
            return command('Restart Sidecar', 'localAi.restartSidecar');
        case 'refreshModels':
            return command('Refresh Models', 'localAi.refreshModels');
        case 'downloadModel':
            return command('Download', 'localAi.downloadModel', context.model);
        case 'chooseQuantization':
            return command('Choose Quantization', 'localAi.chooseQuantization', context.model);
        case 'deleteModel':
            return command('Delete Model', 'localAi.deleteModel', context.model);
        case 'newChat':
            return undefined;
        case 'openContextSetting':
            return command('Open Settings', 'workbench.action.openSettings', 'localAi.contextSize');
        case 'cleanupPartials':
            return command('Clean Up Partial Downloads', 'localAi.cleanupPartials');
        case 'openModelsPathSetting':
            return command('Open Settings', 'workbench.action.openSettings', 'localAi.modelsPath');
        case 'openModelPage':
            return data.url ? { title: 'Open Model Page', run: () => vscode.env.openExternal(vscode.Uri.parse(data.url!)) } : undefined;
        case 'setApiKey':
            return command('Set API Key', 'localAi.setCloudApiKey', data.provider);
        case 'setToken':
            return command('Set Token', 'localAi.setHuggingFaceToken');
        case 'openNetworkSettings':
            return command('Open Settings', 'workbench.action.openSettings', 'localAi.');
        case 'showLogs':
            return command('Show Logs', 'localAi.showLogs');
    }
}

export function explainError(error: unknown, context: ErrorContext = {}): ExplainedError {
    if (isCancellation(error)) return { message: 'Cancelled.', actions: [], show: false };
    const { message, fixes } = adviseOnError(error);
    const data = errorData(error);
    const actions = fixes.map((fix) => button(fix, data, context)).filter((action): action is ErrorAction => action !== undefined);
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
