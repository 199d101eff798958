/**
 * Builds code completion once, at activation: its state, the status-bar item, the recent-context ring and
 * the inline completion provider for every language. The engine's state comes from the sidecar's
 * notifications, and is asked for again whenever the sidecar (re)starts or the model list changes, since
 * installing or removing a model decides whether there is one. Nothing here waits for the sidecar.
 */
import * as vscode from 'vscode';
import { CompletionStatusNotification, CompletionStatusRequest, type CompletionStatus } from '../../common/completion';
import type { ExtensionServices } from '../services';
import { CompletionState } from './completionState';
import { CompletionProvider } from './provider';
import { RecentContext } from './recentContext';
import { CompletionStatusItem } from './statusItem';

export interface CompletionFeatures extends vscode.Disposable {
    state: CompletionState;
    provider: CompletionProvider;
    statusItem: CompletionStatusItem;
    /** Asks the sidecar for the engine's state now (the status bar follows). */
    refresh(): Promise<void>;
}

export function createCompletionFeatures({ sidecar, models, log }: ExtensionServices): CompletionFeatures {
    const state = new CompletionState();
    const context = new RecentContext();
    const provider = new CompletionProvider({ sidecar, state, context, log });
    const statusItem = new CompletionStatusItem(state);
    // One question at a time; changes that arrive while it is asked ask once more after it.
    let asking: Promise<void> | undefined;
    let askAgain = false;
    const refresh = (): Promise<void> => {
        if (asking) {
            askAgain = true;
            return asking;
        }
        asking = sidecar
            .request0<CompletionStatus>(CompletionStatusRequest.type)
            .then((status) => state.setEngine(status))
            .catch((error: unknown) => log.debug(`The completion engine's state is not known: ${error instanceof Error ? error.message : String(error)}`))
            .finally(() => {
                asking = undefined;
                if (askAgain) {
                    askAgain = false;
                    void refresh();
                }
            });
        return asking;
    };
    // Asked only while the sidecar runs: a request while the client (re)starts would start a second process.
    const isUp = (health: string) => health === 'ready' || health === 'busy';
    let up = isUp(sidecar.status.health);
    let installed = '';
    const disposables: vscode.Disposable[] = [
        state,
        context,
        statusItem,
        vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, provider),
        sidecar.onNotification<CompletionStatus>(CompletionStatusNotification.type, (status) => state.setEngine(status)),
        sidecar.onStatus((status) => {
            const wasUp = up;
            up = isUp(status.health);
            if (up && !wasUp) void refresh();
        }),
        // The list changes with every status the sidecar sends; only a change of what is installed matters here.
        models.onDidChange(() => {
            const now = models
                .installed()
                .map(({ entry, file }) => `${entry.id}@${file.quant}`)
                .sort()
                .join(',');
            if (now === installed) return;
            installed = now;
            if (up) void refresh();
        }),
    ];
    return {
        state,
        provider,
        statusItem,
        refresh,
        dispose: () => {
            for (const disposable of disposables.reverse()) disposable.dispose();
        },
    };
}
