/**
 * Ghost text in every editor, from the sidecar's completion engine. It cuts the window around the cursor,
 * adds recent context, waits a short adaptive debounce (explicit triggers and typing through the last
 * suggestion do not wait: the sidecar's cache answers those), and asks; VS Code cancels the token on the
 * next keystroke, and the client turns that into `$/cancelRequest`, which stops llama.cpp. Failures are
 * logged and shown in the status bar, never as a notification per keystroke.
 */
import * as vscode from 'vscode';
import { CompleteRequest, type CompletionParams, type CompletionResult } from '../../common/completion';
import { COMPLETION_PREFIX_LINES, COMPLETION_SUFFIX_LINES, cutWindow } from '../../common/completionWindow';
import type { SidecarClient } from '../sidecarClient';
import type { CompletionState } from './completionState';
import { AdaptiveDebounce } from './debounce';
import type { RecentContext } from './recentContext';

/** Where the last suggestion was shown, to recognise the user typing it through. */
interface ShownSuggestion {
    document: string;
    position: vscode.Position;
    text: string;
}

/** What the provider has done since activation; the tests read it. */
export interface CompletionCounters {
    /** Requests sent to the sidecar. */
    requested: number;
    /** Of those, cancelled by VS Code before they were answered. */
    cancelled: number;
    /** Answered with text to show. */
    shown: number;
    failed: number;
}

export interface CompletionProviderOptions {
    sidecar: SidecarClient;
    state: CompletionState;
    context: RecentContext;
    log: vscode.LogOutputChannel;
}

export class CompletionProvider implements vscode.InlineCompletionItemProvider {
    readonly debounce = new AdaptiveDebounce();
    readonly counters: CompletionCounters = { requested: 0, cancelled: 0, shown: 0, failed: 0 };
    private lastShown: ShownSuggestion | undefined;
    /** The last failure logged, so that a failure repeated on every keystroke is logged once. */
    private lastLogged: string | undefined;

    constructor(private readonly options: CompletionProviderOptions) {}

    async provideInlineCompletionItems(
        document: vscode.TextDocument,
        position: vscode.Position,
        context: vscode.InlineCompletionContext,
        token: vscode.CancellationToken,
    ): Promise<vscode.InlineCompletionList | undefined> {
        const { state } = this.options;
        const explicit = context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke;
        if (!state.allows(document.languageId)) return undefined;
        if (!explicit) {
            // Nothing to ask while no model is installed, nor over the suggestion widget the user is choosing in.
            if (state.engine?.state === 'noModel' || context.selectedCompletionInfo) return undefined;
            if (!this.typingThrough(document, position) && !(await waitUnlessCancelled(this.debounce.delayMs, token))) return undefined;
        }
        const params = this.paramsAt(document, position, explicit);
        const started = performance.now();
        this.counters.requested++;
        let result: CompletionResult;
        try {
            result = await this.options.sidecar.request(CompleteRequest.type, params, token);
        } catch (error) {
            if (token.isCancellationRequested) {
                this.counters.cancelled++;
                return undefined;
            }
            this.fail(error);
            return undefined;
        }
        state.setFailure(undefined);
        this.lastLogged = undefined;
        if (!result.fromCache) {
            this.debounce.record(performance.now() - started);
            state.setSingleLineBecause(result.singleLineBecause);
        }
        if (token.isCancellationRequested || result.finishReason === 'cancelled') {
            this.counters.cancelled++;
            return undefined;
        }
        if (result.text === '') return undefined;
        this.counters.shown++;
        this.lastShown = { document: document.uri.toString(), position, text: result.text };
        return new vscode.InlineCompletionList([new vscode.InlineCompletionItem(result.text, new vscode.Range(position, position))]);
    }

    private paramsAt(document: vscode.TextDocument, position: vscode.Position, explicit: boolean): CompletionParams {
        // Only the lines the window needs are read: a huge document costs no more than a small one.
        const first = Math.max(0, position.line - COMPLETION_PREFIX_LINES);
        const end = Math.min(document.lineCount, position.line + COMPLETION_SUFFIX_LINES + 1);
        const lines: string[] = [];
        for (let line = first; line < end; line++) lines.push(document.lineAt(line).text);
        const window = cutWindow({ lines, line: position.line - first, character: position.character });
        return {
            prefix: window.prefix,
            suffix: window.suffix,
            languageId: document.languageId,
            fileName: vscode.workspace.asRelativePath(document.uri, false),
            extra: this.options.context.chunksFor(document, first, end),
            trigger: explicit ? 'explicit' : 'automatic',
            // In the middle of a line, a completion that breaks it would push the rest of the line down.
            ...(window.restOfLine.trim() !== '' ? { singleLine: true } : {}),
        };
    }

    /** True when the text typed since the last suggestion was shown is its beginning. */
    private typingThrough(document: vscode.TextDocument, position: vscode.Position): boolean {
        const shown = this.lastShown;
        if (!shown || shown.document !== document.uri.toString() || position.isBeforeOrEqual(shown.position)) return false;
        const typed = document.getText(new vscode.Range(shown.position, position)).replace(/\r\n/g, '\n');
        return typed.length < shown.text.length && shown.text.startsWith(typed);
    }

    private fail(error: unknown): void {
        const message = error instanceof Error ? error.message : String(error);
        this.counters.failed++;
        this.options.state.setFailure(message);
        if (message !== this.lastLogged) this.options.log.warn(`Code completion failed: ${message}`);
        this.lastLogged = message;
    }
}

/** Resolves true after `ms`, or false as soon as the token is cancelled. */
function waitUnlessCancelled(ms: number, token: vscode.CancellationToken): Promise<boolean> {
    if (token.isCancellationRequested) return Promise.resolve(false);
    return new Promise((resolve) => {
        const timer = setTimeout(() => {
            subscription.dispose();
            resolve(true);
        }, ms);
        const subscription = token.onCancellationRequested(() => {
            clearTimeout(timer);
            subscription.dispose();
            resolve(false);
        });
    });
}
