/**
 * The Hugging Face hub as the sidecar sees it: file facts (size, LFS sha256) and file lists through
 * @huggingface/hub, with the endpoint (mirror), token and proxy from the settings. Offline mode
 * refuses before any socket is opened.
 */
import { HubApiError, listFiles, modelInfo, pathsInfo } from '@huggingface/hub';
import { EnvHttpProxyAgent, ProxyAgent, fetch as undiciFetch, type Dispatcher } from 'undici';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { hubEndpoint } from '../../common/settings';
import type { SidecarContext } from '../context';

export interface HubFileInfo {
    path: string;
    sizeBytes: number;
    /** The LFS object id, which is the file's sha256 (undefined for small non-LFS files). */
    sha256?: string;
}

export class HubClient {
    private dispatcherFor: { proxy: string; dispatcher: Dispatcher } | undefined;

    constructor(private readonly context: SidecarContext) {}

    /** The setting, then HF_ENDPOINT, then huggingface.co; without a trailing slash. */
    get endpoint(): string {
        return hubEndpoint(this.context.settings.hubEndpoint, process.env);
    }

    /** Where a user accepts a gated model's licence. */
    repoUrl(repo: string): string {
        return `${this.endpoint}/${repo}`;
    }

    /** The `resolve/` URL the file's bytes come from (the hub redirects it to its CDN). */
    resolveUrl(repo: string, file: string, revision = 'main'): string {
        const encodedFile = file.split('/').map(encodeURIComponent).join('/');
        return `${this.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${encodedFile}`;
    }

    /** The Authorization header when a token is set; never logged. */
    authHeaders(): Record<string, string> {
        const token = this.context.secrets.huggingFaceToken;
        return token ? { authorization: `Bearer ${token}` } : {};
    }

    /** The HTTP dispatcher for every hub and CDN request: the proxy setting, else HTTPS_PROXY/NO_PROXY. */
    dispatcher(): Dispatcher {
        const proxy = this.context.settings.proxy;
        if (this.dispatcherFor?.proxy !== proxy) {
            void this.dispatcherFor?.dispatcher.close().catch(() => undefined);
            const dispatcher = proxy ? new ProxyAgent(proxy) : new EnvHttpProxyAgent();
            this.dispatcherFor = { proxy, dispatcher };
        }
        return this.dispatcherFor.dispatcher;
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

    /** Size and sha256 of one file, as the hub lists it now. */
    async fileInfo(repo: string, file: string, revision = 'main'): Promise<HubFileInfo> {
        this.assertOnline(`look up ${repo}/${file}`);
        const infos = await this.call(repo, () =>
            pathsInfo({ repo, paths: [file], revision, hubUrl: this.endpoint, fetch: this.fetch, accessToken: this.token() }),
        );
        const info = infos.find((item) => item.path === file && item.type === 'file');
        if (!info) throw notFound(repo, file);
        return { path: info.path, sizeBytes: info.lfs?.size ?? info.size, sha256: info.lfs?.oid };
    }

    /**
     * The commit a revision (branch, tag or commit) points to now, so that a download reads every byte from
     * one commit however long it takes. The model info's `sha`, as huggingface_hub's `HfApi.model_info` gives
     * it (its `file_download.get_hf_file_metadata` reads the same fact from `X-Repo-Commit` on a HEAD of one
     * file's `/resolve/` URL). A hub that names no commit (some mirrors) leaves the download on `revision`.
     */
    async resolveCommit(repo: string, revision = 'main'): Promise<string> {
        this.assertOnline(`look up ${repo}@${revision}`);
        const info = await this.call(repo, () =>
            modelInfo({ name: repo, revision, additionalFields: ['sha'], hubUrl: this.endpoint, fetch: this.fetch, accessToken: this.token() }),
        );
        return typeof info.sha === 'string' && /^[0-9a-f]{7,64}$/.test(info.sha) ? info.sha : revision;
    }

    /** Every GGUF file in a repository. */
    async listGgufFiles(repo: string, revision = 'main'): Promise<HubFileInfo[]> {
        this.assertOnline(`list the files of ${repo}`);
        return this.call(repo, async () => {
            const files: HubFileInfo[] = [];
            const entries = listFiles({ repo, revision, recursive: true, hubUrl: this.endpoint, fetch: this.fetch, accessToken: this.token() });
            for await (const entry of entries) {
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
        const info = await this.call(repo, () => modelInfo({ name: repo, hubUrl: this.endpoint, fetch: this.fetch, accessToken: this.token() }));
        return info.gated !== false;
    }

    /** Turns the hub's errors into codes the extension can explain. */
    describeStatus(status: number, repo: string, file?: string): LocalAiError {
        if (status === 401 || status === 403) return unauthorized(this.repoUrl(repo), repo, status, Boolean(this.token()));
        if (status === 404) return notFound(repo, file);
        return new LocalAiError(ErrorCode.NetworkError, `The hub answered HTTP ${status} for ${repo}${file ? `/${file}` : ''}.`, {
            file,
        });
    }

    /** fetch through the proxy-aware dispatcher, typed as the global fetch @huggingface/hub expects. */
    readonly fetch: typeof fetch = (input, init) =>
        undiciFetch(input as Parameters<typeof undiciFetch>[0], {
            ...(init as Parameters<typeof undiciFetch>[1]),
            dispatcher: this.dispatcher(),
        }) as unknown as Promise<Response>;

    dispose(): void {
        void this.dispatcherFor?.dispatcher.close().catch(() => undefined);
        this.dispatcherFor = undefined;
    }

    private token(): string | undefined {
        return this.context.secrets.huggingFaceToken || undefined;
    }

    private async call<T>(repo: string, work: () => Promise<T>): Promise<T> {
        try {
            return await work();
        } catch (error) {
            if (error instanceof LocalAiError) throw error;
            if (error instanceof HubApiError) throw this.describeStatus(error.statusCode, repo);
            const message = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
            throw new LocalAiError(ErrorCode.NetworkError, `Could not reach the hub at ${this.endpoint}: ${message}`, {
                hint: 'Check the network, localAi.hubEndpoint / HF_ENDPOINT and the proxy setting.',
            });
        }
    }
}

function unauthorized(url: string, repo: string, status: number, hasToken: boolean): LocalAiError {
    const hint = hasToken
        ? `Your token was refused (HTTP ${status}). Accept the licence at ${url} with the same account, or set a token with read access.`
        : `Accept the licence at ${url}, then set a Hugging Face token (command "Local AI: Set Hugging Face Token…", or HF_TOKEN for the CLI).`;
    return new LocalAiError(ErrorCode.Unauthorized, `${repo} is gated: the hub needs you to accept its licence and sign in.`, { url, hint });
}

function notFound(repo: string, file?: string): LocalAiError {
    return new LocalAiError(ErrorCode.ModelNotFound, `The hub has no ${file ? `file ${file} in ` : 'repository '}${repo}.`, { file });
}
