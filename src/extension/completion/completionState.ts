/**
 * Whether code completion runs, and what the status bar says about it: the user's settings
 * (`localAi.completion.enabled`, `.languages`), a snooze, the sidecar's engine state, and the last
 * failure. On, off and snoozed are the extension's own; the engine's state comes from the sidecar.
 */
import * as vscode from 'vscode';
import type { CompletionStatus } from '../../common/completion';
import { SECTION } from '../config';

/** What the status bar shows, most important first: off, snoozed, the language off, a failure, then the engine. */
export type CompletionDisplayState = 'off' | 'snoozed' | 'languageOff' | 'error' | 'starting' | CompletionStatus['state'];

export const SNOOZE_MS = 5 * 60_000;

export class CompletionState implements vscode.Disposable {
    private readonly changed = new vscode.EventEmitter<void>();
    private readonly subscriptions: vscode.Disposable[];
    private snoozeTimer: NodeJS.Timeout | undefined;
    private engineStatus: CompletionStatus | undefined;
    private failure: string | undefined;
    /** When the snooze ends (epoch ms), while one runs. */
    snoozedUntil: number | undefined;
    readonly onDidChange = this.changed.event;

    constructor() {
        this.subscriptions = [
            this.changed,
            vscode.workspace.onDidChangeConfiguration((event) => {
                if (event.affectsConfiguration(`${SECTION}.completion`)) this.changed.fire();
            }),
        ];
    }

    /** `localAi.completion.enabled`. */
    get enabled(): boolean {
        return vscode.workspace.getConfiguration(SECTION).get<boolean>('completion.enabled') ?? true;
    }

    /** The language's entry in `localAi.completion.languages`, else its `"*"`, else on. */
    languageEnabled(languageId: string): boolean {
        const languages = vscode.workspace.getConfiguration(SECTION).get<Record<string, unknown>>('completion.languages') ?? {};
        const own = languages[languageId];
        if (typeof own === 'boolean') return own;
        return typeof languages['*'] === 'boolean' ? languages['*'] : true;
    }

    /** True when completions may be requested for a document in this language now. */
    allows(languageId: string): boolean {
        return this.enabled && this.snoozedUntil === undefined && this.languageEnabled(languageId);
    }

    /** The sidecar's engine state, or undefined until it has said. */
    get engine(): CompletionStatus | undefined {
        return this.engineStatus;
    }

    setEngine(status: CompletionStatus): void {
        this.engineStatus = status;
        this.failure = undefined;
        this.changed.fire();
    }

    /** The last request's failure, shown until a request succeeds or the engine's state changes. */
    get lastFailure(): string | undefined {
        return this.failure;
    }

    /** Why suggestions are kept to one line on this machine (the sidecar's last answer said so), for the tooltip. */
    singleLineBecause: string | undefined;

    setSingleLineBecause(reason: string | undefined): void {
        if (reason === this.singleLineBecause) return;
        this.singleLineBecause = reason;
        this.changed.fire();
    }

    setFailure(message: string | undefined): void {
        if (message === this.failure) return;
        this.failure = message;
        this.changed.fire();
    }

    /** The state to show for an editor in `languageId` (the active one), or for none. */
    display(languageId?: string): CompletionDisplayState {
        if (!this.enabled) return 'off';
        if (this.snoozedUntil !== undefined) return 'snoozed';
        if (languageId !== undefined && !this.languageEnabled(languageId)) return 'languageOff';
        if (this.failure) return 'error';
        return this.engineStatus?.state ?? 'starting';
    }

    /** Click on the status bar: a snooze ends; otherwise `localAi.completion.enabled` flips where it is set. */
    async toggle(): Promise<void> {
        if (this.snoozedUntil !== undefined) {
            this.endSnooze();
            return;
        }
        const config = vscode.workspace.getConfiguration(SECTION);
        const inspected = config.inspect<boolean>('completion.enabled');
        const target =
            inspected?.workspaceFolderValue !== undefined
                ? vscode.ConfigurationTarget.WorkspaceFolder
                : inspected?.workspaceValue !== undefined
                  ? vscode.ConfigurationTarget.Workspace
                  : vscode.ConfigurationTarget.Global;
        await config.update('completion.enabled', !this.enabled, target);
    }

    /** Pauses completions in this window for `ms`; a second snooze starts the time again. */
    snooze(ms = SNOOZE_MS): void {
        clearTimeout(this.snoozeTimer);
        this.snoozedUntil = Date.now() + ms;
        this.snoozeTimer = setTimeout(() => this.endSnooze(), ms);
        this.changed.fire();
    }

    private endSnooze(): void {
        clearTimeout(this.snoozeTimer);
        this.snoozeTimer = undefined;
        this.snoozedUntil = undefined;
        this.changed.fire();
    }

    dispose(): void {
        clearTimeout(this.snoozeTimer);
        for (const subscription of this.subscriptions) subscription.dispose();
    }
}
