/**
 * Code completion's own status-bar item, beside Local AI's: on, off, snoozed, loading, no model, yielded
 * to chat, remote, or failing, for the active editor's language. A click toggles it (or ends a snooze);
 * the tooltip names the model and says why.
 */
import * as vscode from 'vscode';
import type { CompletionDisplayState, CompletionState } from './completionState';

export class CompletionStatusItem implements vscode.Disposable {
    private readonly item = vscode.window.createStatusBarItem('localAi.completion', vscode.StatusBarAlignment.Right, 99);
    private readonly subscriptions: vscode.Disposable[];
    private shown: CompletionDisplayState = 'starting';

    constructor(private readonly state: CompletionState) {
        this.item.name = 'Local AI Code Completion';
        this.item.command = 'localAi.toggleCompletion';
        this.render();
        this.item.show();
        this.subscriptions = [state.onDidChange(() => this.render()), vscode.window.onDidChangeActiveTextEditor(() => this.render())];
    }

    /** The state it shows now. */
    get display(): CompletionDisplayState {
        return this.shown;
    }

    /** What the item says now, icons as `$(name)`. */
    get text(): string {
        return this.item.text;
    }

    get tooltip(): string {
        const tooltip = this.item.tooltip;
        return typeof tooltip === 'string' ? tooltip : (tooltip?.value ?? '');
    }

    private render(): void {
        const languageId = vscode.window.activeTextEditor?.document.languageId;
        const display = this.state.display(languageId);
        const engine = this.state.engine;
        const model = engine?.model ? `${engine.model.name}${engine.model.quant ? ` ${engine.model.quant}` : ''}` : undefined;
        const [text, tooltip] = ((): [string, string] => {
            switch (display) {
                case 'off':
                    return ['$(circle-slash) Completion off', 'Local AI code completion is off. Click to turn it on.'];
                case 'snoozed':
                    return [
                        '$(bell-slash) Completion snoozed',
                        `Local AI code completion is snoozed until ${new Date(this.state.snoozedUntil ?? Date.now()).toLocaleTimeString()}. Click to resume it now.`,
                    ];
                case 'languageOff':
                    return [
                        `$(circle-slash) Completion off · ${languageId}`,
                        `Local AI code completion is off for ${languageId} (localAi.completion.languages). Click to turn it off everywhere.`,
                    ];
                case 'error':
                    return [
                        '$(warning) Completion',
                        `Local AI code completion failed: ${this.state.lastFailure}. Click to turn it off; Local AI: Show Logs has the details.`,
                    ];
                case 'starting':
                    return ['$(loading~spin) Completion', 'Local AI code completion starts with the sidecar.'];
                case 'loading':
                    return ['$(loading~spin) Completion', `Local AI code completion is loading ${model ?? 'its model'}. ${engine?.message ?? ''}`];
                case 'noModel':
                    return ['$(sparkle) Completion · no model', `Local AI code completion has no model: ${engine?.message ?? ''} Click to turn it off.`];
                case 'yielded':
                    return ['$(debug-pause) Completion · yielded', `Local AI code completion gave way to chat: ${engine?.message ?? ''} Click to turn it off.`];
                case 'remote':
                    return ['$(cloud) Completion', `Local AI code completion: ${engine?.message ?? ''} Click to turn it off.`];
                case 'ready':
                    return [
                        '$(sparkle) Completion',
                        `Local AI code completion: ${engine?.message ?? model ?? ''} ${this.state.singleLineBecause ?? ''} Click to turn it off.`,
                    ];
            }
        })();
        this.shown = display;
        this.item.text = text;
        this.item.tooltip = tooltip.replace(/ {2,}/g, ' ');
        this.item.backgroundColor = display === 'error' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    }

    dispose(): void {
        for (const subscription of this.subscriptions) subscription.dispose();
        this.item.dispose();
    }
}
