/**
 * The HTTP rules every request to the hub follows, the way huggingface_hub's clients behave: our
 * User-Agent, the hub's error headers kept for the message, rate limits waited out as the hub asks, and
 * bounds on everything it sends (time, answer size after decompression, pages followed).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { fetch as undiciFetch, type Dispatcher } from 'undici';
import { version } from '../../../package.json';
import { ErrorCode, LocalAiError } from '../../common/errors';

/** Sent on every hub and CDN request, as huggingface_hub sends `huggingface_hub/<version>` (utils/_headers.py, build_hf_headers). */
export const HUB_USER_AGENT = `local-ai/${version}`;

export interface HubLimits {
    /** One API request, from connect to the last byte of its answer. Default 30 s. */
    requestTimeoutMs: number;
    /** Attempts at one API request that times out, fails to connect or answers 5xx. Default 3. */
    attempts: number;
    /** First backoff between those attempts, doubled each time. Default 1 s. */
    retryBaseDelayMs: number;
    /** Pages of one file list followed through `Link` headers. Default 100. */
    maxPages: number;
    /** An API answer's size after decompression. Default 64 MB. */
    maxAnswerBytes: number;
    /** Total time one request or download waits for the hub's rate limit to pass. Default 10 min. */
    maxRateLimitWaitMs: number;
}

/** What is read of an error answer: enough for the hub's JSON `error`, never a page of HTML. */
const ERROR_BODY_BYTES = 64 << 10;

export const DEFAULT_HUB_LIMITS: HubLimits = {
    requestTimeoutMs: 30_000,
    attempts: 3,
    retryBaseDelayMs: 1000,
    maxPages: 100,
    maxAnswerBytes: 64 << 20,
    maxRateLimitWaitMs: 10 * 60_000,
};

/** An answer of 4xx (other than 429) from the hub or its CDN, with what the hub said about it. */
export class HubRefusal extends Error {
    constructor(
        readonly status: number,
        /** `X-Error-Code`: GatedRepo, RepoNotFound, RevisionNotFound, EntryNotFound… */
        readonly errorCode: string | undefined,
        /** `X-Error-Message`, else the body's `error`. */
        readonly errorMessage: string | undefined,
    ) {
        super(`the hub answered HTTP ${status}${errorCode ? ` (${errorCode})` : ''}`);
    }
}

type HeaderSource = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
    if (typeof headers.get === 'function') return (headers as { get(name: string): string | null }).get(name) ?? undefined;
    const value = (headers as Record<string, string | string[] | undefined>)[name];
    return Array.isArray(value) ? value[0] : value;
}

/** The hub's own words for a refusal, as huggingface_hub's hf_raise_for_status reads them. */
export function refusalFrom(status: number, headers: HeaderSource, body = ''): HubRefusal {
    let bodyMessage: string | undefined;
    try {
        const json = JSON.parse(body) as { error?: unknown };
        if (typeof json.error === 'string') bodyMessage = json.error;
    } catch {
        bodyMessage = undefined;
    }
    return new HubRefusal(status, header(headers, 'x-error-code'), header(headers, 'x-error-message') ?? bodyMessage);
}

/**
 * How long the hub asks us to wait, in ms: `RateLimit: "…";r=0;t=N` means the window resets in N s, and
 * huggingface_hub sleeps N + 1 s (utils/_http.py, http_backoff with _parse_ratelimit_header); else
 * `Retry-After` in seconds or as a date. Undefined when the answer names no wait.
 */
export function retryAfterMs(headers: HeaderSource, now = Date.now()): number | undefined {
    const rateLimit = /(?:^|[;,\s])t=(\d+)/.exec(header(headers, 'ratelimit') ?? '');
    if (rateLimit) return (Number(rateLimit[1]) + 1) * 1000;
    const retryAfter = header(headers, 'retry-after')?.trim();
    if (!retryAfter) return undefined;
    if (/^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const at = Date.parse(retryAfter);
    return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** `https://user:pass@mirror/` → `https://user:•••@mirror/`, anywhere in a text (errors and log lines). */
export function maskCredentials(text: string): string {
    return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):[^/\s@]*@/gi, '$1:•••@');
}

export interface ApiFetchOptions {
    dispatcher: Dispatcher;
    limits: HubLimits;
    /** Headers for the endpoint's own origin (the token); never sent to another host. */
    headers: Record<string, string>;
    /** The endpoint's origin. */
    origin: string;
    /** Told before each wait the hub asked for. */
    onRateLimit(waitMs: number): void;
}

/**
 * A `fetch` for one API call (one file list with its pages, one model info), as @huggingface/hub
 * expects it: every answer is read in full here, bounded in time and size, and handed back as a fresh
 * Response; a refusal throws a HubRefusal with the hub's error headers.
 */
export function boundedApiFetch(options: ApiFetchOptions): typeof fetch {
    const { limits } = options;
    const seen = new Set<string>();
    let rateLimitedMs = 0;
    return async (input, init) => {
        const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
        const method = init?.method ?? 'GET';
        if (method === 'GET') {
            // huggingface_hub follows `Link: <…>; rel="next"` until it ends (utils/_pagination.py, paginate); a page
            // already seen would never end, and a list longer than the cap is not a model repository.
            if (seen.has(url.href)) throw boundsError(`The hub's file list points back to a page it already sent (${maskCredentials(url.href)}).`);
            if (seen.size >= limits.maxPages) throw boundsError(`The hub's file list goes on past ${limits.maxPages} pages.`);
            seen.add(url.href);
        }
        const headers = {
            ...Object.fromEntries(new Headers(init?.headers as ConstructorParameters<typeof Headers>[0])),
            ...(url.origin === options.origin ? options.headers : {}),
            'user-agent': HUB_USER_AGENT,
        };
        for (let attempt = 1; ; attempt++) {
            let retry: { reason: string; waitMs?: number; rateLimited?: boolean };
            const signal = AbortSignal.timeout(limits.requestTimeoutMs);
            try {
                const response = await undiciFetch(url, {
                    ...(init as Parameters<typeof undiciFetch>[1]),
                    headers,
                    dispatcher: options.dispatcher,
                    signal,
                });
                if (response.status === 429 || response.status >= 500) {
                    await response.body?.cancel().catch(() => undefined);
                    retry = {
                        reason: `the hub answered HTTP ${response.status}`,
                        waitMs: retryAfterMs(response.headers),
                        rateLimited: response.status === 429,
                    };
                } else {
                    const body = await readBounded(response, response.status >= 400 ? ERROR_BODY_BYTES : limits.maxAnswerBytes, response.status < 400);
                    if (response.status >= 400) throw refusalFrom(response.status, response.headers, body.toString('utf8'));
                    return new Response(response.status === 204 || response.status === 304 ? null : body, {
                        status: response.status,
                        headers: [...response.headers],
                    });
                }
            } catch (error) {
                if (error instanceof HubRefusal || error instanceof LocalAiError) throw error;
                const timedOut = signal.aborted;
                retry = { reason: timedOut ? `the hub did not answer within ${Math.round(limits.requestTimeoutMs / 100) / 10} s` : describeFetchError(error) };
            }
            if (retry.rateLimited) {
                const wait = retry.waitMs ?? limits.retryBaseDelayMs * 2 ** Math.min(attempt - 1, 4);
                if (rateLimitedMs + wait > limits.maxRateLimitWaitMs) throw rateLimitError(rateLimitedMs + wait);
                rateLimitedMs += wait;
                options.onRateLimit(wait);
                await delay(wait);
                continue;
            }
            // The caller names the endpoint (masked) and what to check.
            if (attempt >= limits.attempts) throw new Error(maskCredentials(retry.reason));
            await delay(retry.waitMs ?? limits.retryBaseDelayMs * 2 ** (attempt - 1));
        }
    };
}

/** The rate limit outlasted the cap: the user can try again later, nothing is lost. */
export function rateLimitError(waitedMs: number): LocalAiError {
    return new LocalAiError(ErrorCode.NetworkError, `The hub kept rate-limiting these requests (${Math.round(waitedMs / 1000)} s of waits asked).`, {
        hint: 'Try again in a few minutes; signing in with a Hugging Face token raises the limit.',
    });
}

function boundsError(message: string): LocalAiError {
    return new LocalAiError(ErrorCode.NetworkError, message, { hint: 'The hub (or the mirror in localAi.hubEndpoint / HF_ENDPOINT) is misbehaving.' });
}

/** The body, read as it is decompressed and dropped as soon as it passes `cap` (a gzip bomb is never inflated in full). */
async function readBounded(response: Awaited<ReturnType<typeof undiciFetch>>, cap: number, refuseLarger: boolean): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    if (!response.body) return Buffer.alloc(0);
    const reader = response.body.getReader();
    for (;;) {
        const { done, value } = await reader.read();
        if (done) return Buffer.concat(chunks);
        size += value.length;
        if (size > cap) {
            await reader.cancel().catch(() => undefined);
            if (!refuseLarger) return Buffer.concat(chunks);
            throw boundsError(`The hub's answer is larger than ${Math.round(cap / (1 << 20))} MB once decompressed; Local AI stopped reading it.`);
        }
        chunks.push(Buffer.from(value));
    }
}

function describeFetchError(error: unknown): string {
    if (!(error instanceof Error)) return String(error);
    const cause = error.cause instanceof Error ? error.cause : undefined;
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const message = cause?.message ?? error.message;
    return code && !message.includes(code) ? `${message} (${code})` : message;
}
