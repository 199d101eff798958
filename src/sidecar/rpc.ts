/**
 * Registers typed request handlers on the connection: turns the protocol's CancellationToken into an
 * AbortSignal, and every thrown error into a ResponseError with a code the extension understands.
 */
import { ResponseError, type CancellationToken, type Connection, type RequestType, type RequestType0 } from 'vscode-languageserver/node';
import { ErrorCode, isLocalAiError } from '../common/errors';
import type { Logger } from './context';

/** An AbortSignal that aborts when the request is cancelled with `$/cancelRequest`. */
export function toAbortSignal(token: CancellationToken): AbortSignal {
    const controller = new AbortController();
    if (token.isCancellationRequested) controller.abort();
    else token.onCancellationRequested(() => controller.abort());
    return controller.signal;
}

export function toResponseError(error: unknown): ResponseError<unknown> {
    if (isLocalAiError(error)) return new ResponseError(error.code, error.message, error.data);
    if (error instanceof Error && error.name === 'AbortError') {
        return new ResponseError(ErrorCode.Cancelled, 'The request was cancelled.');
    }
    const message = error instanceof Error ? error.message : String(error);
    return new ResponseError(-32603, `Internal error in the Local AI sidecar: ${message}`);
}

export function onRequest<P, R>(
    connection: Connection,
    log: Logger,
    type: RequestType<P, R, void>,
    handler: (params: P, signal: AbortSignal) => Promise<R>,
): void {
    connection.onRequest(type, async (params: P, token: CancellationToken) => {
        try {
            return await handler(params, toAbortSignal(token));
        } catch (error) {
            const response = toResponseError(error);
            if (response.code !== ErrorCode.Cancelled) log.warn(`${type.method} failed: ${response.message}`);
            return response;
        }
    });
}

export function onRequest0<R>(connection: Connection, log: Logger, type: RequestType0<R, void>, handler: (signal: AbortSignal) => Promise<R>): void {
    connection.onRequest(type, async (token: CancellationToken) => {
        try {
            return await handler(toAbortSignal(token));
        } catch (error) {
            const response = toResponseError(error);
            if (response.code !== ErrorCode.Cancelled) log.warn(`${type.method} failed: ${response.message}`);
            return response;
        }
    });
}
