/** Turns a failed chat request into a sentence and the one action that fixes it, shown inline under the answer. */
import { ErrorCode } from '../../common/errors';
import type { ErrorAction, TurnError } from '../../common/webviewProtocol';
import { SidecarError } from '../sidecarClient';

/** The command each error action runs (retry and newChat stay inside the chat). */
export const ACTION_COMMANDS: Partial<Record<ErrorAction, string>> = {
    restartSidecar: 'localAi.restartSidecar',
    downloadModel: 'localAi.downloadModel',
    showLogs: 'localAi.showLogs',
    setApiKey: 'localAi.setCloudApiKey',
};

export function describeChatError(error: unknown): TurnError {
    const message = error instanceof Error ? error.message : String(error);
    if (!(error instanceof SidecarError)) return { message, action: 'retry' };
    switch (error.code) {
        case ErrorCode.ModelNotFound:
        case ErrorCode.ModelNotInstalled:
            return { message, action: 'downloadModel' };
        case ErrorCode.ContextOverflow:
            return { message: `${message} Start a new chat, or attach less code.`, action: 'newChat' };
        case ErrorCode.Unauthorized:
            return { message, action: 'setApiKey' };
        case ErrorCode.LoadFailed:
        case ErrorCode.InvalidModelFile:
            return { message, action: 'showLogs' };
        default:
            // The client raises these when the process is gone or restarting.
            if (/sidecar/i.test(message)) return { message, action: 'restartSidecar' };
            return { message, action: 'retry' };
    }
}
