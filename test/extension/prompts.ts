/**
 * What Local AI shows the user, seen from inside its own extension host (the tests share the extension's
 * `vscode` API object, so they see every call it makes):
 * - notifications are recorded and still shown;
 * - quick picks are recorded and left to the real quick input, which `pick()` drives with the workbench's
 *   own commands, as the keyboard would;
 * - an input box that needs typed text, and a modal dialog, are answered by the reply queued with
 *   `answer()`: the workbench cannot take typed text from a command, and it refuses modal dialogs under
 *   test ("DialogService: refused to show dialog in tests"). An input box's reply must pass its own
 *   `validateInput`, as a user's would;
 * - `env.openExternal` is recorded and not forwarded (it would open a browser).
 * Every replaced function is put back by `dispose()`.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

export type PromptKind = 'info' | 'warning' | 'error' | 'inputBox' | 'quickPick';

export interface Shown {
    kind: PromptKind;
    /** The message, or the title (else the prompt or placeholder) of an input box or quick pick. */
    text: string;
    /** The buttons of a message, the labels of a quick pick's items (separators left out). */
    items: string[];
    modal: boolean;
    /** The options the product passed (detail, password, value…). */
    options: Record<string, unknown>;
    /** A quick pick made with createQuickPick, live: its items as they are now. */
    quickPick?: vscode.QuickPick<vscode.QuickPickItem>;
}

interface Reply {
    kind: PromptKind;
    match: RegExp;
    reply: string | undefined;
}

/** A function of the vscode API, whatever its signature: the wrappers below restate the parameters they read. */
// biome-ignore lint/suspicious/noExplicitAny: the wrappers take any vscode.window function and pass its arguments through.
type ApiFunction = (...args: any[]) => unknown;

type Waiter = { kind: PromptKind; match: RegExp; resolve: (shown: Shown) => void };

const MESSAGE_KINDS = { info: 'showInformationMessage', warning: 'showWarningMessage', error: 'showErrorMessage' } as const;

export class Prompts implements vscode.Disposable {
    readonly shown: Shown[] = [];
    readonly opened: vscode.Uri[] = [];
    private readonly replies: Reply[] = [];
    private waiters: Waiter[] = [];
    private readonly restore: (() => void)[] = [];

    constructor() {
        const window = vscode.window as unknown as Record<string, unknown>;
        for (const [kind, name] of Object.entries(MESSAGE_KINDS) as [PromptKind, string][]) {
            this.replace(window, name, (original) => (message: string, ...rest: unknown[]) => {
                const options = typeof rest[0] === 'object' && rest[0] !== null && !('title' in rest[0]) ? (rest.shift() as Record<string, unknown>) : {};
                const items = rest.map((item) => (typeof item === 'string' ? item : (item as vscode.MessageItem).title));
                const shown = this.record({ kind, text: message, items, modal: options.modal === true, options });
                const reply = this.replyFor(shown);
                if (reply) {
                    assert.ok(reply.reply === undefined || items.includes(reply.reply), `"${message}" has no button ${reply.reply}: ${items.join(', ')}`);
                    return Promise.resolve(reply.reply === undefined ? undefined : rest[items.indexOf(reply.reply)]);
                }
                assert.ok(!shown.modal, `a modal dialog nobody answers (the test workbench refuses it): ${message}`);
                return original(message, options, ...rest);
            });
        }
        this.replace(window, 'showInputBox', (original) => async (options: vscode.InputBoxOptions = {}, token?: vscode.CancellationToken) => {
            const shown = this.record({
                kind: 'inputBox',
                text: options.title ?? options.prompt ?? options.placeHolder ?? '',
                items: [],
                modal: false,
                options: { ...options },
            });
            const reply = this.replyFor(shown);
            if (!reply) return original(options, token);
            if (reply.reply !== undefined && options.validateInput) {
                const problem = await options.validateInput(reply.reply);
                assert.ok(!problem, `the input box "${shown.text}" refuses ${JSON.stringify(reply.reply)}: ${JSON.stringify(problem)}`);
            }
            return reply.reply;
        });
        this.replace(
            window,
            'showQuickPick',
            (original) =>
                async (
                    items: readonly (string | vscode.QuickPickItem)[] | Thenable<readonly (string | vscode.QuickPickItem)[]>,
                    options: vscode.QuickPickOptions = {},
                    token?: vscode.CancellationToken,
                ) => {
                    const resolved = await items;
                    const result = original(resolved, options, token);
                    this.record({
                        kind: 'quickPick',
                        text: options.title ?? options.placeHolder ?? '',
                        items: labelsOf(resolved),
                        modal: false,
                        options: { ...options },
                    });
                    return result;
                },
        );
        this.replace(window, 'createQuickPick', (original) => () => {
            const quickPick = original() as vscode.QuickPick<vscode.QuickPickItem>;
            const show = quickPick.show.bind(quickPick);
            quickPick.show = () => {
                show();
                this.record({
                    kind: 'quickPick',
                    text: quickPick.title ?? quickPick.placeholder ?? '',
                    items: labelsOf(quickPick.items),
                    modal: false,
                    options: {},
                    quickPick,
                });
            };
            return quickPick;
        });
        this.replace(vscode.env as unknown as Record<string, unknown>, 'openExternal', () => (uri: vscode.Uri) => {
            this.opened.push(uri);
            return Promise.resolve(true);
        });
    }

    /** The next prompt of this kind whose text matches gets `reply` (a button, the typed text, or undefined for Escape). */
    answer(kind: PromptKind, match: RegExp, reply: string | undefined): void {
        this.replies.push({ kind, match, reply });
    }

    /** Resolves with the first prompt of this kind whose text matches, already shown or yet to come. */
    next(kind: PromptKind, match: RegExp, timeoutMs = 60_000): Promise<Shown> {
        const found = this.shown.find((shown) => shown.kind === kind && match.test(shown.text));
        if (found) return Promise.resolve(found);
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                this.waiters = this.waiters.filter((waiter) => waiter !== entry);
                reject(new Error(`no ${kind} matching ${match} was shown; shown: ${this.shown.map((s) => `${s.kind} "${s.text}"`).join(' | ') || 'nothing'}`));
            }, timeoutMs);
            const entry: Waiter = {
                kind,
                match,
                resolve: (shown) => {
                    clearTimeout(timer);
                    resolve(shown);
                },
            };
            this.waiters.push(entry);
        });
    }

    /**
     * Waits for the quick pick whose title matches, then picks the item whose label matches with the
     * keyboard's commands: down to it, then Enter.
     */
    async pick(title: RegExp, label: RegExp): Promise<Shown> {
        const shown = await this.next('quickPick', title);
        const index = shown.items.findIndex((item) => label.test(item));
        assert.ok(index >= 0, `"${shown.text}" offers no item matching ${label}: ${shown.items.join(' | ')}`);
        // A round trip to the workbench: the quick pick and its items, sent before, are there once it answers.
        await vscode.commands.getCommands(true);
        for (let step = 0; step < index; step++) await vscode.commands.executeCommand('quickInput.next');
        await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
        return shown;
    }

    /** Waits for the input box whose title matches, then presses Enter on what it holds (its prefilled value). */
    async accept(title: RegExp): Promise<Shown> {
        const shown = await this.next('inputBox', title);
        await vscode.commands.getCommands(true);
        await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
        return shown;
    }

    /** Waits for the notification whose message matches, then closes it, as its × does: the product gets no button. */
    async close(kind: 'info' | 'warning' | 'error', match: RegExp): Promise<Shown> {
        const shown = await this.next(kind, match);
        await vscode.commands.getCommands(true);
        await vscode.commands.executeCommand('notifications.clearAll');
        return shown;
    }

    /** Puts every replaced function back; for a test that passed, also fails on replies no prompt took. */
    dispose(testPassed = true): void {
        for (const undo of this.restore.splice(0).reverse()) undo();
        const unanswered = this.replies.splice(0).map((reply) => `${reply.kind} ${reply.match}`);
        // After a failed test they say nothing new, and a failing hook would skip the suite's other tests.
        if (testPassed) assert.deepEqual(unanswered, [], 'replies queued for prompts that never came');
    }

    private replace(target: Record<string, unknown>, name: string, wrap: (original: ApiFunction) => ApiFunction): void {
        const original = target[name] as ApiFunction;
        target[name] = wrap(original.bind(target));
        this.restore.push(() => (target[name] = original));
    }

    private record(shown: Shown): Shown {
        this.shown.push(shown);
        for (const waiter of this.waiters.filter((candidate) => candidate.kind === shown.kind && candidate.match.test(shown.text))) {
            this.waiters = this.waiters.filter((candidate) => candidate !== waiter);
            waiter.resolve(shown);
        }
        return shown;
    }

    private replyFor(shown: Shown): Reply | undefined {
        const index = this.replies.findIndex((reply) => reply.kind === shown.kind && reply.match.test(shown.text));
        return index < 0 ? undefined : this.replies.splice(index, 1)[0];
    }
}

function labelsOf(items: readonly (string | vscode.QuickPickItem)[]): string[] {
    return items.flatMap((item) => {
        if (typeof item === 'string') return [item];
        return item.kind === vscode.QuickPickItemKind.Separator ? [] : [item.label];
    });
}
