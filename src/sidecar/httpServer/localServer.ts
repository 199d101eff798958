/**
 * The local OpenAI-compatible server: a node:http server over the sidecar's engines (openAiRoutes.ts),
 * behind the gate of requestGuard.ts. One log line per request (method, path, status, model, tokens,
 * duration; never a body or a token). A client that disconnects aborts its generation. Generation
 * requests past `maxPending` get 429 with Retry-After, so a runaway script cannot queue without bound.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../context';
import { errorBody, HttpError, toHttpError } from './httpErrors';
import { chatCompletions, completions, embeddings, listModels, sendJson, type RouteCall, type ServerEngines } from './openAiRoutes';
import { DEFAULT_MAX_BODY_BYTES, hostAllowed, originAllowed, parseJsonObject, readBody, tokenMatches } from './requestGuard';

/** What the unauthenticated identity route answers: only that this is Local AI, so another window can say who holds the port. */
export const IDENTITY_PATH = '/local-ai/identity';
const IDENTITY = { service: 'local-ai' };

export interface LocalServerOptions {
    engines: ServerEngines;
    log: Logger;
    host: string;
    /** 0 picks a free port (tests). */
    port: number;
    /** The bearer token every request must carry (read per request: a new token needs no restart). */
    token: () => string;
    /** Browser origins allowed to call it (read per request). Default: none. */
    allowedOrigins?: () => readonly string[];
    /** Default {@link DEFAULT_MAX_BODY_BYTES}. */
    maxBodyBytes?: number;
    /** Generation requests running or queued at most; more get 429. Default 64. */
    maxPending?: number;
    /** Called after every answer (any status), for the request count. */
    onAnswered?: () => void;
}

export type StartOutcome =
    | { kind: 'listening'; server: LocalServer }
    | { kind: 'portTaken' | 'portTakenByLocalAi'; message: string; address: string }
    | { kind: 'error'; message: string };

type Route = (engines: ServerEngines, call: RouteCall) => Promise<void>;

const ROUTES: Record<string, { method: 'GET' | 'POST'; run: Route; generates: boolean }> = {
    '/v1/models': { method: 'GET', run: listModels, generates: false },
    '/v1/chat/completions': { method: 'POST', run: chatCompletions, generates: true },
    '/v1/completions': { method: 'POST', run: completions, generates: true },
    '/v1/embeddings': { method: 'POST', run: embeddings, generates: true },
};

/** `http://host:port/v1`, with IPv6 hosts in brackets. */
export function serverAddress(host: string, port: number): string {
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1`;
}

export class LocalServer {
    private pending = 0;
    private closed = false;

    private constructor(
        private readonly server: http.Server,
        private readonly options: LocalServerOptions,
        readonly port: number,
    ) {}

    /** Listens, or says why it cannot: the port held by another Local AI, by another program, or another failure. */
    static async start(options: LocalServerOptions): Promise<StartOutcome> {
        const server = http.createServer();
        const listening = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
            server.once('error', resolve);
            server.listen(options.port, options.host, () => resolve(undefined));
        });
        const address = serverAddress(options.host, options.port);
        if (listening?.code === 'EADDRINUSE') {
            const ours = await isLocalAiAt(options.host, options.port);
            return ours
                ? { kind: 'portTakenByLocalAi', address, message: `Another Local AI window or \`local-ai serve\` already serves at ${address}.` }
                : { kind: 'portTaken', address, message: `Port ${options.port} on ${options.host} is used by another program.` };
        }
        if (listening) return { kind: 'error', message: `Could not listen on ${options.host}:${options.port}: ${listening.message}` };
        const port = (server.address() as AddressInfo).port;
        const local = new LocalServer(server, options, port);
        server.on('request', (request, response) => void local.handle(request, response));
        return { kind: 'listening', server: local };
    }

    get address(): string {
        return serverAddress(this.options.host, this.port);
    }

    /** Idempotent: stops listening and drops open connections, which aborts their generations. */
    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
        this.server.closeAllConnections();
        await closed;
    }

    private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
        const started = performance.now();
        const path = new URL(request.url ?? '/', 'http://local').pathname;
        const facts: Parameters<RouteCall['note']>[0] = {};
        const abort = new AbortController();
        let leftAt: number | undefined;
        response.on('close', () => {
            if (response.writableFinished) return;
            leftAt = performance.now();
            abort.abort(new Error('The client disconnected.'));
        });
        let counted = false;
        try {
            if (this.answeredByGate(request, response)) return;
            if (path === IDENTITY_PATH && request.method === 'GET') return sendJson(response, 200, IDENTITY);
            if (!tokenMatches(request.headers.authorization, this.options.token())) {
                throw new HttpError(401, 'A valid `Authorization: Bearer <token>` header is required.', 'invalid_api_key', {
                    headers: { 'WWW-Authenticate': 'Bearer' },
                });
            }
            const route = ROUTES[path];
            if (!route) throw new HttpError(404, `No route ${path}.`, 'unknown_url');
            if (request.method !== route.method) throw new HttpError(405, `${path} takes ${route.method}.`, 'method_not_allowed');
            if (route.generates) {
                if (this.pending >= (this.options.maxPending ?? 64)) {
                    throw new HttpError(429, `The server is busy: ${this.pending} requests are running or queued.`, 'queue_full', {
                        headers: { 'Retry-After': '1' },
                    });
                }
                this.pending++;
                counted = true;
            }
            const body = route.method === 'POST' ? parseJsonObject(await readBody(request, this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES)) : {};
            await route.run(this.options.engines, { body, response, signal: abort.signal, note: (more) => Object.assign(facts, more) });
        } catch (error) {
            const failure = toHttpError(error);
            if (!response.headersSent && !abort.signal.aborted) sendJson(response, failure.status, errorBody(failure), failure.options.headers);
            else response.end();
        } finally {
            if (counted) this.pending--;
            this.options.onAnswered?.();
            this.logRequest(request.method ?? '?', path, response.statusCode, facts, started, leftAt);
        }
    }

    /** Host, then Origin: checked before anything else, the identity route included. True when it answered a CORS preflight. */
    private answeredByGate(request: http.IncomingMessage, response: http.ServerResponse): boolean {
        if (!hostAllowed(request.headers.host, { host: this.options.host, port: this.port })) {
            throw new HttpError(403, 'The Host header does not name this server.', 'forbidden_host');
        }
        const origin = request.headers.origin;
        if (!originAllowed(origin, this.options.allowedOrigins?.() ?? []))
            throw new HttpError(403, 'Requests from web pages are not allowed.', 'forbidden_origin');
        // Only an origin the user listed gets CORS headers, and only its own.
        if (origin !== undefined) {
            response.setHeader('Access-Control-Allow-Origin', origin);
            response.setHeader('Vary', 'Origin');
            if (request.method === 'OPTIONS') {
                response.writeHead(204, { 'Access-Control-Allow-Methods': 'GET, POST', 'Access-Control-Allow-Headers': 'Authorization, Content-Type' });
                response.end();
                return true;
            }
        }
        return false;
    }

    private logRequest(
        method: string,
        path: string,
        status: number,
        facts: Parameters<RouteCall['note']>[0],
        started: number,
        leftAt: number | undefined,
    ): void {
        const tokens = facts.promptTokens !== undefined ? ` tokens=${facts.promptTokens}+${facts.completionTokens ?? 0}` : '';
        const model = facts.model ? ` model=${facts.model}` : '';
        const left = leftAt !== undefined ? ` client left; generation stopped ${Math.round(performance.now() - leftAt)} ms later` : '';
        this.options.log.info(`${method} ${path} ${status}${model}${tokens} ${Math.round(performance.now() - started)} ms${left}`);
    }
}

/** Whether the program on that port answers the identity route as Local AI (within a second). */
export async function isLocalAiAt(host: string, port: number): Promise<boolean> {
    const probeHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
    try {
        const response = await fetch(`${serverAddress(probeHost, port).replace(/\/v1$/, '')}${IDENTITY_PATH}`, { signal: AbortSignal.timeout(1000) });
        const body = (await response.json()) as { service?: unknown };
        return response.ok && body.service === IDENTITY.service;
    } catch {
        return false;
    }
}
