/**
 * The engine's protocol handlers: chat (streamed as `$/progress` on the request's
 * partialResultToken, text batched by time: textBatcher.ts), token counts, embeddings, and model load/unload/list. Cancellation
 * arrives as an AbortSignal (rpc.ts); failures leave as ResponseErrors with ErrorCode codes.
 */
import {
    WorkDoneProgress,
    type Connection,
    type WorkDoneProgressBegin,
    type WorkDoneProgressEnd,
    type WorkDoneProgressReport,
} from 'vscode-languageserver/node';
import type { ChatChunk } from '../../common/chat';
import {
    ChatChunkType,
    ChatRequest,
    CountTokensRequest,
    EmbeddingsRequest,
    LoadedModelsRequest,
    LoadModelRequest,
    UnloadModelRequest,
} from '../../common/protocol';
import type { SidecarContext } from '../context';
import { onRequest, onRequest0 } from '../rpc';
import type { LocalEngine } from '../local/index';
import type { ChatEngine } from '../chatEngine';
import { batchText } from './textBatcher';

export interface EngineHandlerServices {
    context: SidecarContext;
    /** The local engine (createLocalEngine). */
    local: LocalEngine;
    /** Who answers chat requests: the router (local first, then the fallback policy). Default: the local engine. */
    router?: ChatEngine;
}

export function registerEngineHandlers(connection: Connection, s: EngineHandlerServices): void {
    const { log, status } = s.context;
    const engine = s.local;
    const chat = s.router ?? engine;

    onRequest(connection, log, ChatRequest.type, async (params, signal) => {
        const token = params.partialResultToken;
        const batcher = batchText((chunk: ChatChunk) => {
            if (token !== undefined) void connection.sendProgress(ChatChunkType, token, chunk);
        });
        try {
            return await chat.chat({
                messages: params.messages,
                model: params.model,
                provider: params.provider,
                providerModel: params.providerModel,
                options: params.options,
                onChunk: batcher.onChunk,
                signal,
            });
        } finally {
            // Before the response: the client drops progress that arrives after it.
            batcher.flush();
        }
    });

    onRequest(connection, log, CountTokensRequest.type, (params, signal) => engine.countTokens(params, signal));

    onRequest(connection, log, EmbeddingsRequest.type, (params, signal) => engine.embed(params, signal));

    onRequest(connection, log, LoadModelRequest.type, (params, signal) => {
        const token = params.workDoneToken;
        const report = (value: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd) => {
            if (token !== undefined) void connection.sendProgress(WorkDoneProgress.type, token, value);
        };
        report({ kind: 'begin', title: `Loading ${params.model ?? 'the model'}`, percentage: 0, cancellable: true });
        return status.busy(`Loading ${params.model ?? 'the model'}…`, async () => {
            try {
                return await engine.load({
                    model: params.model,
                    force: params.force,
                    config: params.config,
                    signal,
                    onProgress: (progress) => report({ kind: 'report', percentage: Math.round(progress * 100) }),
                });
            } finally {
                report({ kind: 'end' });
            }
        });
    });

    onRequest(connection, log, UnloadModelRequest.type, async (params) => ({ unloaded: await engine.unload(params?.model) }));

    onRequest0(connection, log, LoadedModelsRequest.type, async () => ({ models: engine.listLoaded() }));
}
