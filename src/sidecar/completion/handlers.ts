/**
 * Code completion's protocol handlers: a completion (the protocol's $/cancelRequest aborts generation in
 * llama.cpp), and the engine's state for the status bar.
 */
import type { Connection } from 'vscode-languageserver/node';
import { CompleteRequest, CompletionStatusNotification, CompletionStatusRequest } from '../../common/completion';
import type { SidecarContext } from '../context';
import { onRequest, onRequest0 } from '../rpc';
import type { LocalCompletionEngine } from './localCompletion';

export function registerCompletionHandlers(connection: Connection, s: { context: SidecarContext; completion: LocalCompletionEngine }): void {
    const { log } = s.context;
    onRequest(connection, log, CompleteRequest.type, (params, signal) => s.completion.complete({ ...params, signal }));
    onRequest0(connection, log, CompletionStatusRequest.type, () => s.completion.refreshStatus());
    s.completion.on('status', (status) => void connection.sendNotification(CompletionStatusNotification.type, status));
}
