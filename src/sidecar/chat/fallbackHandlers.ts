/**
 * Connects the chat router to the extension: `ask` mode's question (FallbackConfirmRequest, cancelled
 * when the chat is), a rejected key (so the extension can offer to set one), and each fallback (for the
 * one-time notice).
 */
import { CancellationTokenSource, type Connection } from 'vscode-languageserver/node';
import { FallbackConfirmRequest, FallbackUsedNotification, ProviderKeyRejectedNotification } from '../../common/protocol';
import type { ChatRouter } from './router';

export function registerFallbackHandlers(connection: Connection, s: { chat: ChatRouter }): void {
    s.chat.connectClient({
        confirm: async (params, signal) => {
            const source = new CancellationTokenSource();
            const cancel = () => source.cancel();
            signal.addEventListener('abort', cancel, { once: true });
            try {
                const answer = await connection.sendRequest(FallbackConfirmRequest.type, params, source.token);
                return answer?.allow === true;
            } finally {
                signal.removeEventListener('abort', cancel);
                source.dispose();
            }
        },
        keyRejected: (provider) => void connection.sendNotification(ProviderKeyRejectedNotification.type, { provider }),
        fallbackUsed: (info) => void connection.sendNotification(FallbackUsedNotification.type, info),
    });
}
