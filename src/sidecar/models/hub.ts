/**
 * The Hugging Face hub as the sidecar sees it: file facts (size, LFS sha256) and file lists through
 * @huggingface/hub, with the endpoint (mirror), token and proxy from the settings. Offline mode
 * refuses before any socket is opened. Every request goes through hubHttp's bounded fetch; refusals are
 * explained by hubErrors from the hub's own error headers.
 */
import { listFiles, modelInfo, pathsInfo } from '@huggingface/hub';
import { fetch as undiciFetch, type Dispatcher } from 'undici';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { hubEndpoint } from '../../common/settings';
import type { SidecarContext } from '../context';
import { proxyDispatcher } from '../proxy';
import { describeRefusal, isInvalidCredentials, notFound, tokenRefused, type RefusalSubject } from './hubErrors';
import { boundedApiFetch, DEFAULT_HUB_LIMITS, HUB_USER_AGENT, HubRefusal, maskCredentials, type HubLimits } from './hubHttp';

export interface HubFileInfo {
    path: string;
    sizeBytes: number;
    /** The LFS object id, which is the file's sha256 (undefined for small non-LFS files). */
    sha256?: string;
}

/** Statuses of a mirror that serves `/resolve/` but not the paths-info API. */
const NO_PATHS_INFO = new Set([404, 405, 501]);

export class HubClient {
    /** A token the hub called invalid: not sent again this session (public models still download). */
    private refusedToken: string | undefined;
    private readonly limits: HubLimits;

    constructor(
        private readonly context: SidecarContext,
        /** Timeouts, caps and rate-limit waits; tests inject small ones. Default: DEFAULT_HUB_LIMITS. */
        limits: Partial<HubLimits> = {},
    ) {
        this.limits = { ...DEFAULT_HUB_LIMITS, ...limits };
    }

    /** The setting, then HF_ENDPOINT, then huggingface.co; without a trailing slash (credentials included, never shown). */
    get endpoint(): string {
        return hubEndpoint(this.context.settings.hubEndpoint, process.env);
    }

    /** The endpoint as requests use it and messages show it: without `user:password@`. */
    get baseUrl(): string {
        const url = new URL(this.endpoint);
        url.username = '';
        url.password = '';
        return url.href.replace(/\/+$/, '');
    }

    /** Where a user accepts a gated model's licence. */
    repoUrl(repo: string): string {
        return `${this.baseUrl}/${repo}`;
    }

    /** The `resolve/` URL the file's bytes come from (the hub redirects it to its CDN). */
    resolveUrl(repo: string, file: string, revision = 'main'): string {
        const encodedFile = file.split('/').map(encodeURIComponent).join('/');
        return `${this.baseUrl}/${repo}/resolve/${encodeURIComponent(revision)}/${encodedFile}`;
    }

    /**
     * Headers for requests to the endpoint's own host (the transfer drops them on a redirect elsewhere, except
     * the User-Agent): the token when one is set and the hub has not refused it, else the endpoint URL's
     * `user:password` as Basic credentials. Never logged.
     */
    authHeaders(): Record<string, string> {
        const token = this.token();
        const url = new URL(this.endpoint);
        const basic = url.username ? Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64') : undefined;
        const authorization = token ? `Bearer ${token}` : basic ? `Basic ${basic}` : undefined;
        return { 'user-agent': HUB_USER_AGENT, ...(authorization ? { authorization } : {}) };
    }

    /** The HTTP dispatcher for every hub and CDN request: the one providers use too (proxy setting, else HTTPS_PROXY; NO_PROXY either way). */
    dispatcher(): Dispatcher {
        return proxyDispatcher(this.context.settings.proxy);
    }

    isOffline(): boolean {
        return this.context.settings.offline;
    }

    /** Throws NetworkError in offline mode, before anything touches the network. */
    assertOnline(what: string): void {
        if (this.context.settings.offline) {
            throw new LocalAiError(ErrorCode.NetworkError, `Offline mode is on, so Local AI cannot ${what}.`, {
                hint: 'Turn off localAi.offline (or LOCAL_AI_OFFLINE / HF_HUB_OFFLINE) to reach the hub.',
            });
        }
    }

    /**
     * Size and sha256 of one file, as the hub lists it now: from paths-info, or, on a mirror without it,
     * from a HEAD on its `/resolve/` URL as huggingface_hub's get_hf_file_metadata reads them.
     */
    async fileInfo(repo: string, file: string, revision = 'main'): Promise<HubFileInfo> {
        this.assertOnline(`look up ${repo}/${file}`);
        return this.call({ repo, file, revision }, async (fetch) => {
            try {
                const infos = await pathsInfo({ repo, paths: [file], revision, hubUrl: this.baseUrl, fetch });
                const info = infos.find((item) => item.path === file && item.type === 'file');
                if (!info) throw notFound(repo, file, revision);
                return { path: info.path, sizeBytes: info.lfs?.size ?? info.size, sha256: info.lfs?.oid };
            } catch (error) {
                // The real hub names what is missing in X-Error-Code; a bare 404/405/501 is a mirror without the API.
                if (!(error instanceof HubRefusal) || error.errorCode || !NO_PATHS_INFO.has(error.status)) throw error;
                return this.resolveHead(fetch, repo, file, revision);
            }
        });
    }

    /**
     * The commit a revision (branch, tag or commit) points to now, so that a download reads every byte from
     * one commit however long it takes. The model info's `sha`, as huggingface_hub's `HfApi.model_info` gives
     * it (its `file_download.get_hf_file_metadata` reads the same fact from `X-Repo-Commit` on a HEAD of one
     * file's `/resolve/` URL). A hub that names no commit (some mirrors) leaves the download on `revision`.
     */
    async resolveCommit(repo: string, revision = 'main'): Promise<string> {
        this.assertOnline(`look up ${repo}@${revision}`);
        return this.call({ repo, revision }, async (fetch) => {
            try {
                const info = await modelInfo({ name: repo, revision, additionalFields: ['sha'], hubUrl: this.baseUrl, fetch });
                return typeof info.sha === 'string' && /^[0-9a-f]{7,64}$/.test(info.sha) ? info.sha : revision;
            } catch (error) {
                // A mirror that serves only /resolve/ has no model info either: the download stays on the revision's name.
                if (!(error instanceof HubRefusal) || error.errorCode || !NO_PATHS_INFO.has(error.status)) throw error;
                return revision;
            }
        });
    }

    /** Every GGUF file in a repository. */
    async listGgufFiles(repo: string, revision = 'main'): Promise<HubFileInfo[]> {
        this.assertOnline(`list the files of ${repo}`);
        return this.call({ repo, revision }, async (fetch) => {
            const files: HubFileInfo[] = [];
            for await (const entry of listFiles({ repo, revision, recursive: true, hubUrl: this.baseUrl, fetch })) {
                if (entry.type === 'file' && entry.path.toLowerCase().endsWith('.gguf')) {
                    files.push({ path: entry.path, sizeBytes: entry.lfs?.size ?? entry.size, sha256: entry.lfs?.oid });
                }
            }
            return files;
        });
    }

    /** Whether the hub gates the repository behind a licence ('auto'/'manual' mean gated). */
    async isGated(repo: string): Promise<boolean> {
        this.assertOnline(`look up ${repo}`);
        const info = await this.call({ repo }, (fetch) => modelInfo({ name: repo, hubUrl: this.baseUrl, fetch }));
        return info.gated !== false;
    }

    /** A refusal of the hub or its CDN (status and error headers) as a code the extension can explain. */
    describeRefusal(refusal: HubRefusal, subject: RefusalSubject): LocalAiError {
        // Once the hub called the token invalid, any later refusal is the token's fault, not a licence's.
        const secret = this.context.secrets.huggingFaceToken || undefined;
        if (secret && secret === this.refusedToken && (refusal.status === 401 || refusal.status === 403)) return tokenRefused();
        return describeRefusal(refusal, subject, { repoUrl: this.repoUrl(subject.repo), hasToken: Boolean(this.token()) });
    }

    /** fetch through the proxy-aware dispatcher with our User-Agent, typed as the global fetch (for the GGUF header reads). */
    readonly fetch: typeof fetch = (input, init) =>
        undiciFetch(input as Parameters<typeof undiciFetch>[0], {
            ...(init as Parameters<typeof undiciFetch>[1]),
            headers: { ...Object.fromEntries(new Headers(init?.headers as ConstructorParameters<typeof Headers>[0])), 'user-agent': HUB_USER_AGENT },
            dispatcher: this.dispatcher(),
        }) as unknown as Promise<Response>;

    private token(): string | undefined {
        const token = this.context.secrets.huggingFaceToken || undefined;
        return token === this.refusedToken ? undefined : token;
    }

    /** huggingface_hub's get_hf_file_metadata: a HEAD that does not follow the redirect, read from X-Linked-Size / X-Linked-Etag. */
    private async resolveHead(fetch: typeof globalThis.fetch, repo: string, file: string, revision: string): Promise<HubFileInfo> {
        const response = await fetch(this.resolveUrl(repo, file, revision), { method: 'HEAD', redirect: 'manual' });
        const size = Number(response.headers.get('x-linked-size') ?? response.headers.get('content-length') ?? Number.NaN);
        if (!Number.isSafeInteger(size) || size <= 0) throw notFound(repo, file, revision);
        // An LFS file's etag is its sha256; a small file's is a git sha1, which says nothing we can check.
        const etag = (response.headers.get('x-linked-etag') ?? response.headers.get('etag') ?? '').replace(/^W\//, '').replace(/"/g, '');
        return { path: file, sizeBytes: size, sha256: /^[0-9a-f]{64}$/.test(etag) ? etag : undefined };
    }

    /** One API call with its own bounded fetch; a token the hub calls invalid is dropped and the call made again without it. */
    private async call<T>(subject: RefusalSubject, work: (fetch: typeof globalThis.fetch) => Promise<T>): Promise<T> {
        const attempt = () =>
            work(
                boundedApiFetch({
                    dispatcher: this.dispatcher(),
                    limits: this.limits,
                    headers: this.authHeaders(),
                    origin: new URL(this.baseUrl).origin,
                    onRateLimit: (waitMs) => this.context.log.info(`Rate-limited by the hub, retrying in ${Math.ceil(waitMs / 1000)} s.`),
                }),
            );
        const token = this.token();
        try {
            return await attempt();
        } catch (error) {
            if (!(token && error instanceof HubRefusal && isInvalidCredentials(error))) throw this.explain(error, subject);
            // huggingface_hub reads this 401 as a bad token, not a missing repository (hf_raise_for_status); public models need none.
            this.refusedToken = token;
            this.context.log.warn('The hub refused the Hugging Face token (invalid or expired); continuing without it. Set a new one for gated models.');
            try {
                return await attempt();
            } catch (retryError) {
                if (retryError instanceof HubRefusal && (retryError.status === 401 || retryError.status === 403)) throw tokenRefused();
                throw this.explain(retryError, subject);
            }
        }
    }

    private explain(error: unknown, subject: RefusalSubject): LocalAiError {
        if (error instanceof LocalAiError) return error;
        if (error instanceof HubRefusal) return this.describeRefusal(error, subject);
        const message = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
        return new LocalAiError(ErrorCode.NetworkError, `Could not reach the hub at ${maskCredentials(this.endpoint)}: ${maskCredentials(message)}`, {
            hint: 'Check the network, localAi.hubEndpoint / HF_ENDPOINT and the proxy setting.',
        });
    }
}
