/**
 * Code completion's protocol handlers: a completion (the protocol's $/cancelRequest aborts generation in
 * llama.cpp), and the engine's state for the status bar.
 */
import type { Connection } from 'vscode-languageserver/node';
import { CompleteRequest, CompletionStatusNotification, CompletionStatusRequest } from '../../common/completion';
import type { SidecarContext } from '../context';
import { onRequest, onRequest0 } from '../rpc';
import type { LocalCompletionEngine } from './localCompletion';
import type { RemoteCompletionEngine } from './remote';

export function registerCompletionHandlers(
    connection: Connection,
    s: { context: SidecarContext; completion: LocalCompletionEngine; remoteCompletion: RemoteCompletionEngine },
): void {
    const { log } = s.context;
    // A server the user configured for completions answers instead of the local model (localAi.completion.provider).
    const remote = () => s.context.settings.completion.provider !== 'local';
    onRequest(connection, log, CompleteRequest.type, (params, signal) => (remote() ? s.remoteCompletion : s.completion).complete({ ...params, signal }));
    onRequest0(connection, log, CompletionStatusRequest.type, () => (remote() ? Promise.resolve(s.remoteCompletion.status()) : s.completion.refreshStatus()));
    s.completion.on('status', (status) => {
        if (!remote()) void connection.sendNotification(CompletionStatusNotification.type, status);
    });
    let wasRemote = remote();
    s.context.on('settings', () => {
        // The local engine reports its own changes; a switch to or between remote servers is reported here.
        if (!remote() && !wasRemote) return;
        wasRemote = remote();
        void connection.sendNotification(CompletionStatusNotification.type, remote() ? s.remoteCompletion.status() : s.completion.status());
    });
}
