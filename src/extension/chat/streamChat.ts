/**
 * The one way the editor asks the sidecar for an answer: the chat view, `@local` in VS Code's chat,
 * the language-model provider and inline chat all stream through here.
 */
import type * as vscode from 'vscode';
import type { ChatChunk, ChatResult } from '../../common/chat';
import { ChatChunkType, ChatRequest, type ChatParams } from '../../common/protocol';
import type { SidecarClient } from '../sidecarClient';

export interface ChatStreamHandlers {
    /** Once, before the first text: the engine that answers, and why a fallback or a truncation happened. */
    onStart?: (start: Extract<ChatChunk, { kind: 'start' }>) => void;
    /** Each piece of the answer, in order. */
    onText?: (text: string) => void;
}

/**
 * Sends `params` and streams the answer to `handlers`. Resolves with the whole result, whose text is
 * the complete answer (a piece that arrives after the response is dropped; the result repairs it).
 */
export function streamChat(sidecar: SidecarClient, params: ChatParams, handlers: ChatStreamHandlers, token?: vscode.CancellationToken): Promise<ChatResult> {
    return sidecar.requestWithProgress(
        ChatRequest.type,
        ChatChunkType,
        params,
        (chunk) => (chunk.kind === 'start' ? handlers.onStart?.(chunk) : handlers.onText?.(chunk.text)),
        token,
    );
}
