/** The models part of the protocol: list, download (with progress), cancel, delete, check, cleanup. */
import type { Connection } from 'vscode-languageserver/node';
import {
    CancelDownloadRequest,
    CheckModelsRequest,
    CleanupRequest,
    DeleteModelRequest,
    DownloadProgressType,
    DownloadRequest,
    ModelListRequest,
    ModelsChangedNotification,
    RepairModelsRequest,
} from '../../common/protocol';
import type { SidecarContext } from '../context';
import { onRequest, onRequest0 } from '../rpc';
import type { ModelServices } from './index';

export function registerModelHandlers(connection: Connection, s: { context: SidecarContext; models: ModelServices }): void {
    const { log } = s.context;
    const { registry, downloads, maintenance } = s.models;
    let pending: NodeJS.Timeout | undefined;
    // Downloads and discovery can change the list in bursts; one notification per burst is enough.
    registry.on('changed', () => {
        if (pending) return;
        pending = setTimeout(() => {
            pending = undefined;
            void connection.sendNotification(ModelsChangedNotification.type, undefined);
        }, 100);
    });

    onRequest(connection, log, ModelListRequest.type, (params) => registry.list(params?.refresh));
    onRequest(connection, log, DownloadRequest.type, (params, signal) => {
        const token = params.partialResultToken;
        return registry.download({
            model: params.model,
            quant: params.quant,
            force: params.force,
            askBeforeReplacing: params.askBeforeReplacing,
            signal,
            onProgress: token === undefined ? undefined : (progress) => void connection.sendProgress(DownloadProgressType, token, progress),
        });
    });
    onRequest(connection, log, CancelDownloadRequest.type, async (params) => {
        if (downloads.cancel(params.model, params.quant)) return { cancelled: true };
        // Another spelling of the same file (hf:owner/repo:Q4_K_M for hf:owner/repo/file.gguf): resolve it.
        const resolved = await registry.resolve(params.model, params.quant).catch(() => undefined);
        return { cancelled: resolved ? downloads.cancel(resolved.entry.id, resolved.file.quant) : false };
    });
    onRequest(connection, log, DeleteModelRequest.type, async (params) => ({ deletedFiles: await maintenance.delete(params.model, params.quant) }));
    onRequest(connection, log, CheckModelsRequest.type, async (params, signal) => ({ results: await maintenance.check(params?.model, signal) }));
    onRequest(connection, log, RepairModelsRequest.type, async (params, signal) => ({
        results: await maintenance.repair(params?.model, params?.quant, signal),
    }));
    onRequest0(connection, log, CleanupRequest.type, () => maintenance.cleanup());
}
