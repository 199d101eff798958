/**
 * Errors as the local server answers them: OpenAI's error object (`{ error: { message, type, param, code } }`)
 * with its status codes, so every OpenAI client shows them as it shows OpenAI's own. A typed LocalAiError
 * maps through one table; the message keeps the sidecar's hint, so a client's user learns what to do.
 */
import { adviseOn, ErrorCode, isLocalAiError } from '../../common/errors';
import { formatBytes } from '../../common/format';

/** An answer other than 2xx, raised anywhere in a route and written once by the server. */
export class HttpError extends Error {
    constructor(
        readonly status: number,
        message: string,
        readonly code: string,
        readonly options: { param?: string; headers?: Record<string, string> } = {},
    ) {
        super(message);
        this.name = 'HttpError';
    }
}

/** OpenAI's `type` for a status: clients branch on the status, people read the type. */
function errorType(status: number): string {
    if (status === 401) return 'authentication_error';
    if (status === 403) return 'permission_error';
    if (status === 404) return 'not_found_error';
    if (status === 429) return 'rate_limit_error';
    if (status >= 500) return 'server_error';
    return 'invalid_request_error';
}

/**
 * The one table from the sidecar's error codes to a status and OpenAI-style code. Not listed: 500.
 * 422, not 5xx, for a model that cannot load here: the openai SDK retries 5xx, and a retry cannot make it fit.
 */
const STATUS_FOR: Partial<Record<ErrorCode, { status: number; code: string }>> = {
    [ErrorCode.ModelNotFound]: { status: 404, code: 'model_not_found' },
    [ErrorCode.ModelNotInstalled]: { status: 404, code: 'model_not_installed' },
    [ErrorCode.ModelDoesNotFit]: { status: 422, code: 'model_does_not_fit' },
    [ErrorCode.InvalidModelFile]: { status: 422, code: 'invalid_model_file' },
    [ErrorCode.LoadFailed]: { status: 422, code: 'load_failed' },
    [ErrorCode.ContextOverflow]: { status: 400, code: 'context_length_exceeded' },
    [ErrorCode.InvalidParams]: { status: 400, code: 'invalid_params' },
    [ErrorCode.NoEngineAvailable]: { status: 503, code: 'engine_unavailable' },
    [ErrorCode.FileSystemError]: { status: 500, code: 'file_system_error' },
};

/** Any error thrown while answering, as the HttpError the client gets. */
export function toHttpError(error: unknown): HttpError {
    if (error instanceof HttpError) return error;
    if (isLocalAiError(error)) {
        const mapped = STATUS_FOR[error.code] ?? { status: 500, code: 'internal_error' };
        const advice = adviseOn(error.code, error.message, error.data, (value, unit) => (unit === 'bytes' ? formatBytes(value) : `${value} tokens`));
        const headers: Record<string, string> | undefined = mapped.status === 503 ? { 'Retry-After': '1' } : undefined;
        return new HttpError(mapped.status, advice.message, mapped.code, { headers });
    }
    return new HttpError(500, error instanceof Error ? error.message : String(error), 'internal_error');
}

/** The JSON body of an error answer. */
export function errorBody(error: HttpError): { error: { message: string; type: string; param: string | null; code: string } } {
    return { error: { message: error.message, type: errorType(error.status), param: error.options.param ?? null, code: error.code } };
}

/** A 400 naming the parameter at fault. */
export function badParam(param: string, message: string): HttpError {
    return new HttpError(400, message, 'invalid_value', { param });
}
