/**
 * A proposed edit the user reviews before it lands: the proposal lives in a read-only virtual
 * document shown in a diff against the real file, streamed in as the model writes it, and the range it
 * would replace is highlighted in the editor. The real document is not touched until Accept, which
 * applies one edit (one undo step); Reject or cancel leaves it exactly as it was.
 * Used by the inline chat and by the chat's "Apply to Selection".
 */
import * as vscode from 'vscode';

export const PROPOSAL_SCHEME = 'local-ai-proposal';
/** Context key that shows the Reject button (and Accept, once the proposal is complete). */
const PENDING_CONTEXT = 'localAi.inlineChatPending';
/** Context key set while the proposal is still streaming: Accept waits for the whole answer. */
const STREAMING_CONTEXT = 'localAi.inlineChatStreaming';

export interface ReviewOptions {
    document: vscode.TextDocument;
    /** What the proposal replaces; an empty range inserts. */
    range: vscode.Range;
    /** Title of the diff editor, e.g. "Inline Chat: make it async". */
    title: string;
}

export interface PendingEdit {
    readonly document: vscode.TextDocument;
    readonly range: vscode.Range;
    readonly originalText: string;
    /** The replacement so far. */
    readonly replacement: string;
    readonly proposalUri: vscode.Uri;
}

/** Serves proposal documents from memory. */
class ProposalDocuments implements vscode.TextDocumentContentProvider {
    private readonly contents = new Map<string, string>();
    private readonly changed = new vscode.EventEmitter<vscode.Uri>();
    readonly onDidChange = this.changed.event;

    set(uri: vscode.Uri, text: string): void {
        this.contents.set(uri.toString(), text);
        this.changed.fire(uri);
    }

    delete(uri: vscode.Uri): void {
        this.contents.delete(uri.toString());
    }

    provideTextDocumentContent(uri: vscode.Uri): string {
        return this.contents.get(uri.toString()) ?? '';
    }

    dispose(): void {
        this.changed.dispose();
    }
}

export class EditReview implements vscode.Disposable {
    private readonly proposals = new ProposalDocuments();
    private readonly decoration = vscode.window.createTextEditorDecorationType({
        backgroundColor: new vscode.ThemeColor('diffEditor.removedTextBackground'),
        isWholeLine: false,
        after: { contentText: '  ⟵ Local AI proposal: Accept or Reject', color: new vscode.ThemeColor('editorCodeLens.foreground') },
    });
    private readonly disposables: vscode.Disposable[];
    private pending: (PendingEdit & { version: number; replacement: string }) | undefined;
    private counter = 0;
    private streaming = false;
    private readonly settled = new vscode.EventEmitter<{ accepted: boolean }>();
    /** Fires when the pending edit is accepted or rejected. */
    readonly onDidSettle = this.settled.event;

    constructor() {
        this.disposables = [
            vscode.workspace.registerTextDocumentContentProvider(PROPOSAL_SCHEME, this.proposals),
            this.proposals,
            this.decoration,
            this.settled,
        ];
    }

    get current(): PendingEdit | undefined {
        return this.pending;
    }

    /** Opens the diff with an empty proposal; any earlier pending edit is rejected first. */
    async begin(options: ReviewOptions): Promise<PendingEdit> {
        if (this.pending) await this.reject();
        const { document, range, title } = options;
        const base = document.uri.path.split('/').pop() ?? 'file';
        const proposalUri = vscode.Uri.from({ scheme: PROPOSAL_SCHEME, path: `/${++this.counter}/${base}` });
        this.pending = { document, range, originalText: document.getText(range), replacement: '', proposalUri, version: document.version };
        this.proposals.set(proposalUri, this.proposedText());
        await vscode.commands.executeCommand('setContext', PENDING_CONTEXT, true);
        this.highlight();
        await vscode.commands.executeCommand('vscode.diff', document.uri, proposalUri, title, { preview: true, preserveFocus: false });
        return this.pending;
    }

    /** Marks the proposal as still being written (Accept is offered only once it is complete). */
    async setStreaming(streaming: boolean): Promise<void> {
        this.streaming = streaming;
        await vscode.commands.executeCommand('setContext', STREAMING_CONTEXT, streaming);
    }

    /** Replaces the proposal's text (the whole replacement so far, not a delta). */
    update(replacement: string): void {
        if (!this.pending) return;
        this.pending.replacement = replacement;
        this.proposals.set(this.pending.proposalUri, this.proposedText());
    }

    /** Applies the proposal to the document as one edit. Throws if the document changed under it. */
    async accept(): Promise<boolean> {
        const pending = this.pending;
        if (!pending) throw new Error('There is no Local AI edit to accept.');
        if (this.streaming) throw new Error('The proposal is still being written: wait for it to finish, or Reject it.');
        const { document, range, originalText, replacement } = pending;
        if (document.version !== pending.version && document.getText(range) !== originalText) {
            throw new Error(`${vscode.workspace.asRelativePath(document.uri)} changed since the edit was proposed; reject it and ask again.`);
        }
        const edit = new vscode.WorkspaceEdit();
        edit.replace(document.uri, range, replacement);
        const applied = await vscode.workspace.applyEdit(edit);
        if (!applied) throw new Error('VS Code refused the edit (is the file read-only?).');
        await this.close(true);
        return true;
    }

    /** Drops the proposal; the document is left as it is. */
    async reject(): Promise<void> {
        if (this.pending) await this.close(false);
    }

    private proposedText(): string {
        const { document, range, replacement } = this.pending!;
        const text = document.getText();
        return text.slice(0, document.offsetAt(range.start)) + replacement + text.slice(document.offsetAt(range.end));
    }

    private highlight(): void {
        const pending = this.pending;
        for (const editor of vscode.window.visibleTextEditors) {
            const mine = pending && editor.document === pending.document;
            editor.setDecorations(this.decoration, mine ? [new vscode.Range(pending.range.start, pending.range.end)] : []);
        }
    }

    private async close(accepted: boolean): Promise<void> {
        const pending = this.pending!;
        this.pending = undefined;
        this.highlight();
        await vscode.commands.executeCommand('setContext', PENDING_CONTEXT, false);
        const tabs = proposalTabs(pending.proposalUri);
        // Back to the file only from its own review: a user who has moved on to another editor keeps
        // it, so an inline chat or a paste right after Accept/Reject lands where the user is.
        const reviewing = tabs.some((tab) => tab.isActive && tab.group.isActive);
        if (tabs.length) await vscode.window.tabGroups.close(tabs);
        this.proposals.delete(pending.proposalUri);
        if (reviewing) await vscode.window.showTextDocument(pending.document, { preserveFocus: false });
        this.settled.fire({ accepted });
    }

    dispose(): void {
        void vscode.commands.executeCommand('setContext', PENDING_CONTEXT, false);
        for (const disposable of this.disposables) disposable.dispose();
    }
}

/** The diff tabs showing this proposal (compared by scheme and path: URI strings may differ in encoding). */
export function proposalTabs(proposalUri: vscode.Uri): vscode.Tab[] {
    return vscode.window.tabGroups.all
        .flatMap((group) => group.tabs)
        .filter((tab) => {
            const modified = (tab.input as { modified?: unknown } | undefined)?.modified;
            return modified instanceof vscode.Uri && modified.scheme === proposalUri.scheme && modified.path === proposalUri.path;
        });
}
