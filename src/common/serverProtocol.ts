/**
 * The local OpenAI-compatible server (`local-ai serve`, or `localAi.server.enabled` in the sidecar):
 * its state as the extension's status bar, commands and other windows see it. The sidecar follows the
 * `server` settings and the `serverToken` secret (SidecarSettings, SidecarSecrets) and reports here.
 */
import { NotificationType, RequestType0 } from 'vscode-languageserver-protocol';

export interface ServerState {
    /** True while this process listens. */
    running: boolean;
    /** `http://127.0.0.1:PORT/v1` while running: what a client puts in its base URL. */
    address?: string;
    /** Requests answered since it started (every status, for the tooltip). */
    requests: number;
    /**
     * Why it is not running although enabled: 'portTakenByLocalAi' (another window or `local-ai serve`
     * serves on that port; `address` is theirs), 'portTaken' (another program), 'untrusted', 'noToken', 'error'.
     */
    problem?: { kind: 'portTakenByLocalAi' | 'portTaken' | 'untrusted' | 'noToken' | 'error'; message: string };
}

export namespace ServerStateRequest {
    export const method = 'localAi/server/state' as const;
    export const type = new RequestType0<ServerState, void>(method);
}

/** Sent by the sidecar whenever the server starts, stops, fails, or (at most once a second) answered more requests. */
export namespace ServerStateNotification {
    export const method = 'localAi/server/stateChanged' as const;
    export const type = new NotificationType<ServerState>(method);
}

/** Where a server listens by default: beside Ollama's 11434, so that tools can be pointed at either. */
export const DEFAULT_SERVER_PORT = 11435;
export const DEFAULT_SERVER_HOST = '127.0.0.1';

/** True for an address only this machine can reach; any other host needs the user's explicit consent. */
export function isLoopbackHost(host: string): boolean {
    const bare = host
        .trim()
        .toLowerCase()
        .replace(/^\[|\]$/g, '');
    return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}
