/** The GPU backend requests: status, the offer, enable (with progress on its partialResultToken), disable. */
import type { Connection } from 'vscode-languageserver/node';
import { ErrorCode, LocalAiError } from '../../common/errors';
import type { FetchableGpuBackend } from '../../common/hardware';
import { GpuDisableRequest, GpuEnableRequest, GpuFetchProgressType, GpuOfferRequest, GpuStatusRequest } from '../../common/protocol';
import type { SidecarContext } from '../context';
import { onRequest, onRequest0 } from '../rpc';
import type { GpuService } from './index';

export interface GpuHandlerServices {
    context: SidecarContext;
    gpu: GpuService;
}

function backendParam(value: unknown): FetchableGpuBackend | undefined {
    if (value === undefined || value === null) return undefined;
    if (value === 'cuda' || value === 'vulkan') return value;
    throw new LocalAiError(ErrorCode.InvalidParams, `Unknown GPU backend ${JSON.stringify(value)}: choose cuda or vulkan.`);
}

export function registerGpuHandlers(connection: Connection, s: GpuHandlerServices): void {
    const log = s.context.log;
    onRequest0(connection, log, GpuStatusRequest.type, () => s.gpu.status());
    onRequest(connection, log, GpuOfferRequest.type, (params, signal) => s.gpu.offer(backendParam(params?.backend), signal));
    onRequest(connection, log, GpuEnableRequest.type, (params, signal) => {
        const token = params?.partialResultToken;
        return s.gpu.enable(
            backendParam(params?.backend),
            (progress) => {
                if (token !== undefined) void connection.sendProgress(GpuFetchProgressType, token, progress);
            },
            signal,
        );
    });
    onRequest0(connection, log, GpuDisableRequest.type, () => s.gpu.disable());
}
