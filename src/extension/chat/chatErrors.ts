/** Turns a failed chat request into a sentence and the one action that fixes it, shown inline under the answer. */
import type { ErrorFix } from '../../common/errors';
import type { ErrorAction, TurnError } from '../../common/webviewProtocol';
import { adviseOnError } from '../errors';
import { SidecarError } from '../sidecarClient';

/** The command each error action runs (retry and newChat stay inside the chat). */
export const ACTION_COMMANDS: Partial<Record<ErrorAction, string>> = {
    restartSidecar: 'localAi.restartSidecar',
    downloadModel: 'localAi.downloadModel',
    showLogs: 'localAi.showLogs',
    setApiKey: 'localAi.setCloudApiKey',
};

/** The fixes a chat can offer under an answer. */
const CHAT_ACTIONS: readonly ErrorFix[] = ['retry', 'restartSidecar', 'downloadModel', 'newChat', 'showLogs', 'setApiKey'] satisfies readonly ErrorAction[];

export function describeChatError(error: unknown): TurnError {
    // The sidecar restarts by itself after a crash: asking again is the fix, and restarting it by
    // hand would only stop the process that just came back.
    if (error instanceof SidecarError && error.lost) return { message: 'The local engine stopped while answering; it restarts by itself.', action: 'retry' };
    const { message, fixes } = adviseOnError(error);
    const action = fixes.find((fix): fix is ErrorAction => CHAT_ACTIONS.includes(fix)) ?? 'retry';
    return { message, action };
}
