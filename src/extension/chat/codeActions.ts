/** The buttons on a code block in the chat: Copy, Insert at Cursor, Apply to Selection (reviewed as a diff first). */
import * as vscode from 'vscode';
import type { EditReview } from './editReview';

export interface CodeActionsOptions {
    review: EditReview;
    /** The text editor the user was last in (the chat webview has the focus when a button is clicked). */
    lastEditor: () => vscode.TextEditor | undefined;
}

export class CodeActions {
    constructor(private readonly options: CodeActionsOptions) {}

    async copy(code: string): Promise<void> {
        await vscode.env.clipboard.writeText(code);
        void vscode.window.setStatusBarMessage('$(check) Code copied', 2000);
    }

    async insert(code: string): Promise<void> {
        const editor = await this.editor('insert the code');
        if (!editor) return;
        const position = editor.selection.active;
        await editor.edit((builder) => builder.insert(position, code));
    }

    /** Opens the change as a diff with Accept/Reject; nothing is written before Accept. */
    async apply(code: string): Promise<void> {
        const editor = await this.editor('apply the code to its selection');
        if (!editor) return;
        const { document, selection } = editor;
        await this.options.review.begin({
            document,
            range: selection,
            title: `Apply to Selection: ${vscode.workspace.asRelativePath(document.uri)} ↔ proposed`,
        });
        this.options.review.update(code);
        await askAcceptOrReject(this.options.review);
    }

    private async editor(purpose: string): Promise<vscode.TextEditor | undefined> {
        const editor = this.options.lastEditor();
        if (!editor || editor.document.isClosed) {
            void vscode.window.showInformationMessage(`Local AI: open a file and place the cursor where you want to ${purpose}.`);
            return undefined;
        }
        // Give the editor the focus back, so the user sees where the code went.
        return vscode.window.showTextDocument(editor.document, { viewColumn: editor.viewColumn, selection: editor.selection });
    }
}

/** A notification with Accept/Reject next to the diff; the title bar buttons and commands do the same. */
export async function askAcceptOrReject(review: EditReview): Promise<void> {
    const pending = review.current;
    if (!pending) return;
    let settled: vscode.Disposable | undefined;
    const choice = await Promise.race([
        vscode.window.showInformationMessage(`Local AI proposes a change to ${vscode.workspace.asRelativePath(pending.document.uri)}.`, 'Accept', 'Reject'),
        new Promise<undefined>((resolve) => (settled = review.onDidSettle(() => resolve(undefined)))),
    ]).finally(() => settled?.dispose());
    // Settled meanwhile through the title bar buttons or another command: nothing left to do.
    if (review.current !== pending) return;
    if (choice === 'Accept') await review.accept();
    else if (choice === 'Reject') await review.reject();
}
