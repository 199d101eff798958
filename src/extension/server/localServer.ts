/**
 * The local OpenAI-compatible server as this window sees it: the state the sidecar reports (address, requests,
 * or why it does not serve), the token it is created with, and the user's consent before it listens beyond
 * loopback. The sidecar serves; this only follows it and says what a user must know, once.
 */
import * as vscode from 'vscode';
import { ServerStateNotification, ServerStateRequest, type ServerState } from '../../common/serverProtocol';
import { SECTION } from '../config';
import type { SecretStore } from '../secrets';
import type { SidecarClient } from '../sidecarClient';
import type { ServerHostApproval } from './hostApproval';

export interface LocalServerOptions {
    sidecar: SidecarClient;
    secrets: SecretStore;
    log: vscode.LogOutputChannel;
    approval: ServerHostApproval;
}

export class LocalServer implements vscode.Disposable {
    private current: ServerState = { running: false, requests: 0 };
    private readonly changed = new vscode.EventEmitter<ServerState>();
    /** Fires with every state the sidecar reports. */
    readonly onDidChange = this.changed.event;
    private readonly subscriptions: vscode.Disposable[];
    /** The state whose "another window serves" this window last said: said once, not at every report. */
    private toldAbout: ServerState | undefined;
    private sidecarReady = false;

    constructor(private readonly options: LocalServerOptions) {
        const { sidecar } = options;
        this.subscriptions = [
            this.changed,
            sidecar.onNotification<ServerState>(ServerStateNotification, (state) => this.update(state)),
            // A started or restarted sidecar has a server of its own: ask it, rather than keep the old process's state.
            sidecar.onStatus((status) => {
                const ready = status.health === 'ready';
                if (ready && !this.sidecarReady) void this.refresh();
                this.sidecarReady = ready;
            }),
            vscode.workspace.onDidChangeConfiguration((event) => {
                if (event.affectsConfiguration(`${SECTION}.server`)) void this.followSettings();
            }),
        ];
        void this.followSettings();
    }

    get state(): ServerState {
        return this.current;
    }

    /** Whether the user's settings (as this window reads them) turn the server on. */
    get enabled(): boolean {
        return vscode.workspace.getConfiguration(SECTION).get<boolean>('server.enabled') === true;
    }

    /**
     * Resolves with the current state if it matches (unless `onlyNew`: a state reported from now on), else with the
     * first reported that does; rejects after `timeoutMs`.
     */
    whenState(what: string, matches: (state: ServerState) => boolean, options: { onlyNew?: boolean; timeoutMs?: number } = {}): Promise<ServerState> {
        const { onlyNew = false, timeoutMs = 30_000 } = options;
        if (!onlyNew && matches(this.current)) return Promise.resolve(this.current);
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                subscription.dispose();
                reject(new Error(`The local server did not report that it ${what} within ${timeoutMs / 1000} s.`));
            }, timeoutMs);
            const subscription = this.onDidChange((state) => {
                if (!matches(state)) return;
                clearTimeout(timer);
                subscription.dispose();
                resolve(state);
            });
        });
    }

    private async refresh(): Promise<void> {
        try {
            this.update(await this.options.sidecar.request0(ServerStateRequest.type));
        } catch (error) {
            this.options.log.debug(`The local server's state is not known: ${error instanceof Error ? error.message : String(error)}`);
        }
    }

    private update(state: ServerState): void {
        this.current = state;
        this.changed.fire(state);
        // Expected whenever several windows are open: said once, as information, never as an error.
        if (state.problem?.kind === 'portTakenByLocalAi' && !this.toldAbout) this.sayAnotherServes(state);
    }

    /** Says that another window (or the CLI) serves; once for a state, however often it is asked. */
    sayAnotherServes(state: ServerState): void {
        if (this.toldAbout === state) return;
        this.toldAbout = state;
        void vscode.window.showInformationMessage(
            `Local AI: another window (or \`local-ai serve\`) already serves${state.address ? ` at ${state.address}` : ''}; this window leaves serving to it.`,
        );
    }

    /** When the server is on: make sure its token exists, and ask before an address beyond loopback applies. */
    private async followSettings(): Promise<void> {
        if (!this.enabled) return;
        const { secrets, approval, sidecar, log } = this.options;
        await secrets.serverToken();
        const host = vscode.workspace.getConfiguration(SECTION).get<string>('server.host') ?? '';
        if (!approval.needsApproval(host)) return;
        const listen = `Listen on ${host}`;
        const choice = await vscode.window.showWarningMessage(
            `Local AI's server would listen on ${host}, where other machines can reach it: anyone there who has its token can use your models, memory and GPU.`,
            { modal: true, detail: 'Until you agree, it listens on this machine only (127.0.0.1).' },
            listen,
        );
        if (choice !== listen) {
            log.info(`The local server keeps listening on loopback: listening on ${host} was not approved.`);
            return;
        }
        await approval.approve(host);
        sidecar.pushSettings();
    }

    dispose(): void {
        for (const subscription of this.subscriptions) subscription.dispose();
    }
}
