/**
 * Inline chat (Ctrl+Alt+I): ask for a change to the selection (or the current line, or at the cursor),
 * watch the replacement stream into a diff, then Accept or Reject it. The document is only written on
 * Accept, as one edit, so one Undo takes it back.
 */
import * as vscode from 'vscode';
import type { ChatMessage } from '../../common/chat';
import type { ExtensionServices } from '../services';
import { describeChatError } from './chatErrors';
import { askAcceptOrReject } from './codeActions';
import type { EditReview } from './editReview';
import { streamChat } from './streamChat';

/** Lines of the file around the edit sent as context, on each side. */
const CONTEXT_LINES = 20;
/** The fewest tokens a replacement may use; bigger selections get about twice their own size. */
const MIN_REPLACEMENT_TOKENS = 256;

export interface InlineChatRequest {
    /** The change to make; default: asked with an input box. */
    instruction?: string;
    /** Wait for the Accept/Reject prompt (tests settle it with the commands instead). Default: false. */
    waitForReview?: boolean;
}

export class InlineChat {
    private running: vscode.CancellationTokenSource | undefined;

    constructor(
        private readonly services: ExtensionServices,
        private readonly review: EditReview,
    ) {}

    /** Resolves once the proposal has finished streaming (or was cancelled or failed). */
    async start(request: InlineChatRequest = {}): Promise<void> {
        const editor = vscode.window.activeTextEditor;
        if (!editor) {
            void vscode.window.showInformationMessage('Local AI: open a file and select the code to change, then run the inline chat again.');
            return;
        }
        const { document } = editor;
        const range = targetRange(editor);
        const what = range.isEmpty ? 'Insert at the cursor' : editor.selection.isEmpty ? 'Change this line' : 'Change the selection';
        const instruction =
            request.instruction ??
            (await vscode.window.showInputBox({ title: `Local AI: ${what}`, prompt: 'Describe the change', placeHolder: 'e.g. add error handling' }));
        if (!instruction?.trim()) return;

        this.running?.cancel();
        const cancel = new vscode.CancellationTokenSource();
        this.running = cancel;
        await this.review.begin({ document, range, title: `Inline Chat: ${instruction.slice(0, 40)}` });
        await this.review.setStreaming(true);
        let text = '';
        try {
            await vscode.window.withProgress(
                { location: vscode.ProgressLocation.Notification, title: 'Local AI is writing the change…', cancellable: true },
                async (_progress, token) => {
                    token.onCancellationRequested(() => cancel.cancel());
                    const result = await streamChat(
                        this.services.sidecar,
                        {
                            messages: editMessages({ document, range, instruction }),
                            options: { temperature: 0.2, maxTokens: replacementBudget(document.getText(range)), copiesInput: true },
                        },
                        {
                            onText: (piece) => {
                                if (cancel.token.isCancellationRequested) return;
                                text += piece;
                                this.review.update(stripFences(text));
                            },
                        },
                        cancel.token,
                    );
                    if (!cancel.token.isCancellationRequested) this.review.update(stripFences(result.text));
                },
            );
        } catch (error) {
            if (!cancel.token.isCancellationRequested) {
                await this.review.reject();
                const problem = describeChatError(error);
                void vscode.window.showErrorMessage(`Local AI: ${problem.message}`);
                return;
            }
        } finally {
            if (this.running === cancel) this.running = undefined;
            cancel.dispose();
            await this.review.setStreaming(false);
        }
        if (cancel.token.isCancellationRequested) {
            await this.review.reject();
            return;
        }
        const review = askAcceptOrReject(this.review);
        if (request.waitForReview) await review;
    }

    /** Cancels the streaming proposal; the document is untouched. */
    cancel(): void {
        this.running?.cancel();
    }
}

/** Bounds a runaway answer: a rewrite is rarely much longer than what it replaces (about 4 characters a token). */
function replacementBudget(original: string): number {
    return Math.max(MIN_REPLACEMENT_TOKENS, Math.ceil(original.length / 2));
}

/** The selection; else the current line when it has text; else an empty range at the cursor. */
export function targetRange(editor: vscode.TextEditor): vscode.Range {
    const { selection, document } = editor;
    if (!selection.isEmpty) return selection;
    const line = document.lineAt(selection.active.line);
    return line.isEmptyOrWhitespace ? new vscode.Range(selection.active, selection.active) : line.range;
}

function editMessages(options: { document: vscode.TextDocument; range: vscode.Range; instruction: string }): ChatMessage[] {
    const { document, range, instruction } = options;
    const before = document.getText(new vscode.Range(Math.max(0, range.start.line - CONTEXT_LINES), 0, range.start.line, range.start.character));
    const after = document.getText(new vscode.Range(range.end, document.lineAt(Math.min(document.lineCount - 1, range.end.line + CONTEXT_LINES)).range.end));
    const target = range.isEmpty ? 'Write the code to insert at the cursor.' : `Rewrite this code:\n${document.getText(range)}`;
    return [
        {
            role: 'system',
            content:
                "You edit code in the user's editor. Answer with the new code only: no explanation and no Markdown fences. Keep the indentation of the surrounding code.",
        },
        {
            role: 'user',
            content: `File ${vscode.workspace.asRelativePath(document.uri)} (${document.languageId}).\nCode before:\n${before}\n\nCode after:\n${after}\n\n${target}\n\nInstruction: ${instruction}`,
        },
    ];
}

/** Models often wrap code in a fence despite being asked not to; the editor wants the code alone. */
export function stripFences(text: string): string {
    const opened = /^\s*```[\w+-]*[^\S\n]*\n/.exec(text);
    if (!opened) return text;
    const body = text.slice(opened[0].length);
    const close = body.lastIndexOf('```');
    return close >= 0 ? body.slice(0, close).replace(/\n$/, '') : body;
}
