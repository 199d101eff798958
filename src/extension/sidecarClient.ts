/**
 * Starts and supervises the sidecar process through vscode-languageclient. Restarts it with backoff
 * when it crashes (at most 5 crashes in 3 minutes, then it stops and says so), fails in-flight requests
 * with a clear error, and pushes settings and secrets to it. Everything that talks to the sidecar goes
 * through `request()` and `onStatus()`.
 */
import { setTimeout as delay } from 'node:timers/promises';
import * as vscode from 'vscode';
import type { CloseHandlerResult, ErrorHandlerResult, LanguageClient, LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';
import type { ProgressType, RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import { ErrorCode } from '../common/errors';
import { SecretsChangedNotification, SettingsChangedNotification, StatusNotification, type SidecarInitOptions, type StatusParams } from '../common/protocol';
import { SIDECAR_EXEC_ARGV, sidecarEnvironment } from '../common/sidecarLaunch';
import type { SidecarSettings } from '../common/settings';
import { affectsSidecar } from './config';
import { CrashPolicy } from './crashPolicy';
import { languageClient } from './languageClient';
import { SecretRedactor, redactingChannel } from './log';
import type { SecretStore } from './secrets';

/** An error a user can read, raised when the sidecar cannot answer a request. */
export class SidecarError extends Error {
    constructor(
        message: string,
        readonly code: number,
        readonly data?: unknown,
        /** True when the process went away (crash, restart, reload) rather than answering with an error. */
        readonly lost = false,
    ) {
        super(message);
        this.name = 'SidecarError';
    }
}

interface HandlerEntry {
    method: string;
    kind: 'notification' | 'request';
    handler: (params: unknown) => unknown;
    registration?: vscode.Disposable;
}

export interface SidecarClientOptions {
    context: vscode.ExtensionContext;
    log: vscode.LogOutputChannel;
    secrets: SecretStore;
    /** The settings the sidecar follows, read afresh at every start and change (config.ts, through the server's host approval). */
    readSettings: () => SidecarSettings;
}

/**
 * Where the sidecar installs GPU backends fetched on demand: the extension's global storage, which is writable and
 * outlives extension updates (the extension's own folder is read-only for it and replaced on update).
 */
export function gpuBackendsPath(context: vscode.ExtensionContext): string {
    return vscode.Uri.joinPath(context.globalStorageUri, 'gpu-backends').fsPath;
}

/** The longest a request waits for the sidecar to come back after a crash (backoff at most 2 s, then its start). */
const RESTART_WAIT_MS = 30_000;

export class SidecarClient implements vscode.Disposable {
    private client: LanguageClient | undefined;
    private starting: Promise<LanguageClient> | undefined;
    private readonly crashes = new CrashPolicy();
    /** The latest push of changed secrets to the sidecar; requests wait for it. */
    private secretsPushed: Promise<void> = Promise.resolve();
    /** The latest secrets read, handed to every (re)start of the process. */
    private secrets: SidecarInitOptions['secrets'] = { providerKeys: {} };
    private gaveUp = false;
    /**
     * Set from a crash until the restarted process runs (or supervision gives up): requests wait for it
     * instead of reaching the old client, which still calls itself running while its close handler waits.
     */
    private restartAfterCrash: { done: Promise<void>; finish(): void } | undefined;
    private lastStatus: StatusParams = { health: 'starting', busy: false, message: 'Not started', downloads: [] };
    private readonly redactor = new SecretRedactor();
    private readonly statusEmitter = new vscode.EventEmitter<StatusParams>();
    private readonly disposables: vscode.Disposable[] = [];
    private handlers: HandlerEntry[] = [];
    /** Fires for every status the sidecar pushes, and with an error status when it stops for good. */
    readonly onStatus = this.statusEmitter.event;

    constructor(private readonly options: SidecarClientOptions) {
        this.disposables.push(
            this.statusEmitter,
            vscode.workspace.onDidChangeConfiguration((event) => {
                if (affectsSidecar(event)) this.pushSettings();
            }),
            options.secrets.onDidChange(() => {
                this.secretsPushed = this.pushSecrets().catch((error: unknown) => options.log.warn(`The secrets did not reach the sidecar: ${String(error)}`));
            }),
        );
    }

    /** Sends the settings as they read now (a change VS Code's configuration event does not carry, such as an approval). */
    pushSettings(): void {
        void this.whenRunning((client) => client.sendNotification(SettingsChangedNotification.type, this.options.readSettings()));
    }

    get status(): StatusParams {
        return this.lastStatus;
    }

    /** Starts the sidecar if it is not running; resolves when it answers requests. */
    start(): Promise<LanguageClient> {
        // One client, one process: a client that is (re)starting is waited for, never replaced, or a
        // request arriving during a crash restart would start a second sidecar.
        const client = this.client;
        if (client) return client.isRunning() ? Promise.resolve(client) : client.start().then(() => client);
        this.starting ??= this.createAndStart().finally(() => (this.starting = undefined));
        return this.starting;
    }

    /** The "Local AI: Restart Sidecar" command: forgets past crashes and starts a fresh process. */
    async restart(): Promise<void> {
        this.crashes.reset();
        this.gaveUp = false;
        this.endRestartWait();
        const old = this.client;
        this.client = undefined;
        if (old) await old.dispose(2000).catch(() => undefined);
        await this.start();
    }

    async request<P, R>(type: RequestType<P, R, void>, params: P, token?: vscode.CancellationToken): Promise<R> {
        const client = await this.ensureAvailable();
        try {
            // By method name: a RequestType from another bundle (tests, other extensions) is not ours by identity.
            // An undefined token must not be passed: with a method name it would travel as a second parameter.
            return await (token ? client.sendRequest<R>(type.method, params, token) : client.sendRequest<R>(type.method, params));
        } catch (error) {
            throw this.explain(error);
        }
    }

    async request0<R>(type: RequestType0<R, void>, token?: vscode.CancellationToken): Promise<R> {
        const client = await this.ensureAvailable();
        try {
            // No params at all (not `undefined`): the sidecar's zero-parameter handlers take the token first.
            return await (token ? client.sendRequest<R>(type.method, token) : client.sendRequest<R>(type.method));
        } catch (error) {
            throw this.explain(error);
        }
    }

    /**
     * Sends a request that streams through `$/progress` on a fresh partial-result token: `onPartial` sees
     * every value before the request resolves.
     */
    async requestWithProgress<P extends { partialResultToken?: string | number }, R, V>(
        type: RequestType<P, R, void>,
        progress: ProgressType<V>,
        params: P,
        onPartial: (value: V) => void,
        token?: vscode.CancellationToken,
    ): Promise<R> {
        const client = await this.ensureAvailable();
        const partialResultToken = `${type.method}:${Date.now()}:${Math.random().toString(36).slice(2)}`;
        const subscription = client.onProgress(progress, partialResultToken, onPartial);
        try {
            const withToken = { ...params, partialResultToken };
            return await (token ? client.sendRequest<R>(type.method, withToken, token) : client.sendRequest<R>(type.method, withToken));
        } catch (error) {
            throw this.explain(error);
        } finally {
            subscription.dispose();
        }
    }

    /** Registers a handler for a notification from the sidecar; it survives restarts of the process. */
    onNotification<P>(type: { method: string }, handler: (params: P) => void): vscode.Disposable {
        return this.addHandler({ method: type.method, kind: 'notification', handler: handler as (params: unknown) => unknown });
    }

    /** Registers a handler for a request from the sidecar; it survives restarts of the process. */
    onRequest<P, R>(type: RequestType<P, R, void>, handler: (params: P) => Promise<R>): vscode.Disposable {
        return this.addHandler({ method: type.method, kind: 'request', handler: handler as (params: unknown) => unknown });
    }

    private addHandler(entry: HandlerEntry): vscode.Disposable {
        this.handlers.push(entry);
        if (this.client) this.applyHandler(this.client, entry);
        return new vscode.Disposable(() => {
            this.handlers = this.handlers.filter((candidate) => candidate !== entry);
            entry.registration?.dispose();
        });
    }

    private applyHandler(client: LanguageClient, entry: HandlerEntry): void {
        entry.registration = entry.kind === 'notification' ? client.onNotification(entry.method, entry.handler) : client.onRequest(entry.method, entry.handler);
    }

    private async ensureAvailable(): Promise<LanguageClient> {
        // Bounded, so that a restart that never comes to run falls back to the plain "not running" error.
        if (this.restartAfterCrash) {
            const timeout = new AbortController();
            await Promise.race([this.restartAfterCrash.done, delay(RESTART_WAIT_MS, undefined, { signal: timeout.signal }).catch(() => undefined)]);
            timeout.abort();
        }
        if (this.gaveUp) {
            throw new SidecarError(
                `The Local AI sidecar crashed ${this.crashes.describeLimit()} and was stopped. Run "Local AI: Restart Sidecar" after checking "Local AI: Show Logs".`,
                ErrorCode.NoEngineAvailable,
            );
        }
        const client = await this.start();
        // A key stored just before this request goes with it: the push it started is on the wire first.
        await this.secretsPushed;
        return client;
    }

    private explain(error: unknown): Error {
        const { ResponseError } = languageClient();
        if (error instanceof ResponseError) {
            // -32097 / -32099: the connection closed or the process died while the request was pending.
            if (error.code === -32097 || error.code === -32099 || /connection got disposed|closed/i.test(error.message)) {
                return new SidecarError('The Local AI sidecar stopped while answering and is restarting. Try again in a moment.', error.code, undefined, true);
            }
            return new SidecarError(error.message, error.code, error.data);
        }
        if (error instanceof Error && /connection|disposed|not running|stopped/i.test(error.message)) {
            return new SidecarError(
                'The Local AI sidecar is not running; it is being restarted. Try again in a moment.',
                ErrorCode.NoEngineAvailable,
                undefined,
                true,
            );
        }
        return error instanceof Error ? error : new Error(String(error));
    }

    private async createAndStart(): Promise<LanguageClient> {
        const { context, log } = this.options;
        const { ErrorAction, LanguageClient, State, TransportKind } = languageClient();
        this.secrets = await this.options.secrets.read();
        this.redactor.setSecrets([this.secrets.huggingFaceToken, ...Object.values(this.secrets.providerKeys), this.secrets.serverToken]);
        const module = context.asAbsolutePath('dist/sidecar.mjs');
        const serverOptions: ServerOptions = {
            run: {
                module,
                transport: TransportKind.stdio,
                options: { env: sidecarEnvironment({ ...process.env, ELECTRON_RUN_AS_NODE: '1' }), execArgv: [...SIDECAR_EXEC_ARGV] },
            },
            debug: {
                module,
                transport: TransportKind.stdio,
                options: { env: sidecarEnvironment(process.env), execArgv: [...SIDECAR_EXEC_ARGV, '--inspect=6019'] },
            },
        };
        // Read at every start, restarts after a crash included: the settings and secrets of now, not of the first start.
        const initializationOptions = (): SidecarInitOptions => ({
            settings: this.options.readSettings(),
            secrets: this.secrets,
            defaultModelsPath: vscode.Uri.joinPath(context.globalStorageUri, 'models').fsPath,
            statePath: vscode.Uri.joinPath(context.globalStorageUri, 'state').fsPath,
            gpuBackendsPath: gpuBackendsPath(context),
        });
        const channel = redactingChannel(log, this.redactor);
        const clientOptions: LanguageClientOptions = {
            documentSelector: [],
            outputChannel: channel,
            traceOutputChannel: channel,
            revealOutputChannelOn: 4, // never: errors reach the user through the status bar and messages
            initializationOptions,
            errorHandler: {
                error: (_error, _message, count): ErrorHandlerResult => ({
                    action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
                    handled: true,
                }),
                closed: () => this.onClosed(),
            },
        };
        const client = new LanguageClient('localAi', 'Local AI', serverOptions, clientOptions);
        this.client = client;
        client.onNotification(StatusNotification.type, (status) => this.setStatus(status));
        for (const entry of this.handlers) this.applyHandler(client, entry);
        client.onDidChangeState((event) => {
            if (event.newState === State.Starting) this.setStatus({ ...this.lastStatus, health: 'starting', message: 'Starting the sidecar…' });
            if (event.newState === State.Running) this.endRestartWait();
        });
        await client.start();
        return client;
    }

    private async onClosed(): Promise<CloseHandlerResult> {
        const { CloseAction } = languageClient();
        const decision = this.crashes.crashed(Date.now());
        if (!decision.restart) {
            this.gaveUp = true;
            this.endRestartWait();
            const message = `The Local AI sidecar crashed ${this.crashes.describeLimit()} and will not be restarted automatically.`;
            this.options.log.error(message);
            this.setStatus({ health: 'error', busy: false, message, downloads: [] });
            void vscode.window.showErrorMessage(message, 'Restart Sidecar', 'Show Logs').then((choice) => {
                if (choice === 'Restart Sidecar') void vscode.commands.executeCommand('localAi.restartSidecar');
                if (choice === 'Show Logs') this.options.log.show();
            });
            return { action: CloseAction.DoNotRestart, handled: true };
        }
        const wait = decision.delayMs;
        if (!this.restartAfterCrash) {
            let finish!: () => void;
            const done = new Promise<void>((resolve) => (finish = resolve));
            this.restartAfterCrash = { done, finish };
        }
        this.options.log.warn(
            `The sidecar stopped unexpectedly (crash ${decision.recentCrashes} of ${this.crashes.describeLimit()}); restarting in ${wait} ms.`,
        );
        this.setStatus({ health: 'error', busy: false, message: `Sidecar stopped; restarting in ${(wait / 1000).toFixed(1)} s…`, downloads: [] });
        await delay(wait);
        return { action: CloseAction.Restart, handled: true };
    }

    private endRestartWait(): void {
        this.restartAfterCrash?.finish();
        this.restartAfterCrash = undefined;
    }

    private setStatus(status: StatusParams): void {
        this.lastStatus = status;
        this.statusEmitter.fire(status);
    }

    private async pushSecrets(): Promise<void> {
        const secrets = await this.options.secrets.read();
        this.secrets = secrets;
        this.redactor.setSecrets([secrets.huggingFaceToken, ...Object.values(secrets.providerKeys), secrets.serverToken]);
        await this.whenRunning((client) => client.sendNotification(SecretsChangedNotification.type, secrets));
    }

    /**
     * Sends a change to the sidecar now, or, while it is starting (its initialize request already carries the
     * old values), once it runs: a change must not be lost. A stopped sidecar (no client yet, waiting to restart
     * after a crash, or given up) needs nothing: its next start reads the settings and secrets afresh. Never
     * waits on a client that may never run again, since requests wait for the secrets' push.
     */
    private async whenRunning(send: (client: LanguageClient) => Promise<void>): Promise<void> {
        const client = this.client;
        if (!client) return;
        const { State } = languageClient();
        if (client.state === State.Stopped) return;
        if (client.state === State.Starting) {
            const running = await new Promise<boolean>((resolve) => {
                const subscription = client.onDidChangeState((event) => {
                    if (event.newState === State.Starting) return;
                    subscription.dispose();
                    resolve(event.newState === State.Running);
                });
            });
            if (!running || this.client !== client) return;
        }
        await send(client).catch((error: unknown) => this.options.log.debug(`A change did not reach the sidecar: ${String(error)}`));
    }

    async dispose(): Promise<void> {
        for (const disposable of this.disposables) disposable.dispose();
        const client = this.client;
        this.client = undefined;
        if (client) await client.dispose(2000).catch(() => undefined);
    }
}
