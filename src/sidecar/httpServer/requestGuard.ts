/**
 * The server's gate, checked before any route: the Host header (DNS rebinding), the browser Origin, the
 * bearer token (compared in constant time) and the size of the body. A web page the user visits can
 * reach 127.0.0.1 too: the Host and Origin checks are what keep it out, the token what keeps other
 * local programs out.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { isLoopbackHost } from '../../common/serverProtocol';
import { HttpError } from './httpErrors';

/** Bodies past this are refused (413): a long conversation is well under it. */
export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

/** The host name of a Host header, without the port and IPv6 brackets; undefined when it is malformed. */
function hostOf(header: string): { name: string; port?: string } | undefined {
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(header.trim());
    if (!match) return undefined;
    return { name: (match[1] ?? match[2]).toLowerCase(), port: match[3] };
}

/**
 * Whether a Host header names this server: its bound address or, bound to loopback, the localhost forms
 * of it; bound to every interface (0.0.0.0, ::), any IP address. A DNS name other than localhost is refused,
 * so a page whose name was rebound to 127.0.0.1 cannot talk to it.
 */
export function hostAllowed(header: string | undefined, bound: { host: string; port: number }): boolean {
    if (!header) return false;
    const host = hostOf(header);
    if (!host || (host.port !== undefined && Number(host.port) !== bound.port)) return false;
    const boundHost = bound.host.toLowerCase();
    if (host.name === boundHost) return true;
    if (isLoopbackHost(boundHost)) return isLoopbackHost(host.name);
    if (boundHost === '0.0.0.0' || boundHost === '::') return isIP(host.name) !== 0 || host.name === 'localhost';
    return false;
}

/** A request from a browser page carries its Origin: refused unless the user listed it. */
export function originAllowed(origin: string | undefined, allowedOrigins: readonly string[]): boolean {
    if (origin === undefined) return true;
    return allowedOrigins.some((allowed) => allowed.replace(/\/+$/, '') === origin);
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** `Authorization: Bearer <token>`, compared through digests so neither the length nor a prefix shows in the time taken. */
export function tokenMatches(authorization: string | undefined, token: string): boolean {
    const match = /^Bearer (.+)$/i.exec(authorization ?? '');
    return timingSafeEqual(digest(match?.[1] ?? ''), digest(token)) && match !== null && token.length > 0;
}

/** Reads the whole body, refusing (413) one that says or turns out to be larger than `maxBytes`. */
export async function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
    const declared = Number(request.headers['content-length']);
    if (declared > maxBytes) throw tooLarge(maxBytes);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes) throw tooLarge(maxBytes);
        chunks.push(chunk);
    }
    return Buffer.concat(chunks);
}

function tooLarge(maxBytes: number): HttpError {
    return new HttpError(413, `The request body is larger than ${maxBytes} bytes.`, 'request_too_large');
}

/** The JSON body as an object, or a 400. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
    let value: unknown;
    try {
        value = JSON.parse(body.toString('utf8'));
    } catch {
        throw new HttpError(400, 'The request body is not valid JSON.', 'invalid_json');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new HttpError(400, 'The request body must be a JSON object.', 'invalid_json');
    return value as Record<string, unknown>;
}
