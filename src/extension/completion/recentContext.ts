/**
 * Feeds the context ring from the editor: a chunk of lines around each region the user edits (taken when
 * the editing moves elsewhere or a completion is asked for, not on every keystroke) and around the cursor
 * of each editor the user switches to. Only documents of the user's files count (no output panes, diffs'
 * git side or settings).
 */
import * as vscode from 'vscode';
import type { CompletionContextChunk } from '../../common/completion';
import { ContextRing } from './contextRing';

/** Lines a chunk spans (half above its centre, half below). */
export const CHUNK_LINES = 64;
const SCHEMES = new Set(['file', 'untitled', 'vscode-remote', 'vscode-vfs', 'vscode-notebook-cell']);

export class RecentContext implements vscode.Disposable {
    private readonly ring = new ContextRing();
    /** The line of the latest edit in each document, not taken into the ring yet. */
    private readonly pending = new Map<string, { document: vscode.TextDocument; line: number }>();
    private readonly subscriptions: vscode.Disposable[];

    constructor() {
        this.subscriptions = [
            vscode.workspace.onDidChangeTextDocument((event) => {
                const change = event.contentChanges[0];
                if (!change || !SCHEMES.has(event.document.uri.scheme)) return;
                const key = event.document.uri.toString();
                const line = change.range.start.line;
                const previous = this.pending.get(key);
                // Editing moved away from the region: keep what the region looked like.
                if (previous && Math.abs(previous.line - line) > CHUNK_LINES / 2) this.take(previous.document, previous.line);
                this.pending.set(key, { document: event.document, line });
            }),
            vscode.window.onDidChangeActiveTextEditor((editor) => {
                if (editor && SCHEMES.has(editor.document.uri.scheme)) this.take(editor.document, editor.selection.active.line);
            }),
            vscode.workspace.onDidCloseTextDocument((document) => this.pending.delete(document.uri.toString())),
        ];
    }

    /**
     * The chunks to send with a completion in `document` whose window covers lines [windowStart, windowEnd),
     * oldest first; pending edits are taken into the ring first.
     */
    chunksFor(document: vscode.TextDocument, windowStart: number, windowEnd: number): CompletionContextChunk[] {
        for (const { document: edited, line } of this.pending.values()) {
            if (!edited.isClosed) this.take(edited, line);
        }
        this.pending.clear();
        return this.ring.chunksFor(document.uri.toString(), windowStart, windowEnd);
    }

    private take(document: vscode.TextDocument, centre: number): void {
        const startLine = Math.max(0, Math.min(centre - CHUNK_LINES / 2, document.lineCount - CHUNK_LINES));
        const endLine = Math.min(document.lineCount, startLine + CHUNK_LINES);
        const text = document.getText(new vscode.Range(startLine, 0, endLine, 0)).replace(/\r\n/g, '\n');
        this.ring.add({ document: document.uri.toString(), fileName: vscode.workspace.asRelativePath(document.uri, false), text, startLine, endLine });
    }

    dispose(): void {
        for (const subscription of this.subscriptions) subscription.dispose();
        this.pending.clear();
    }
}
