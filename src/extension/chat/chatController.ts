/**
 * The chat behind both webviews (the sidebar view and the editor panel): one conversation, streamed
 * from the sidecar, mirrored to every open surface. Webviews send validated messages here; this sends
 * back whole states, and small deltas while tokens stream.
 */
import * as vscode from 'vscode';
import type { ChatMessage } from '../../common/chat';
import { CountTokensRequest, type ChatParams } from '../../common/protocol';
import type { Attachment, ChatTurn, ChatViewState, ContextGauge, ExtensionToWebview, ModelChoice, WebviewToExtension } from '../../common/webviewProtocol';
import type { ExtensionServices } from '../services';
import { ACTION_COMMANDS, describeChatError } from './chatErrors';
import { CodeActions } from './codeActions';
import type { EditReview } from './editReview';
import { ChatHistory, newId, type Conversation } from './history';
import { streamChat } from './streamChat';

/** Somewhere the chat is drawn: a webview view or panel. */
export interface ChatSurface {
    post(message: ExtensionToWebview): void;
}

const DEFAULT_CHOICE: ModelChoice = { id: '', label: 'Default model', detail: 'Local' };

export class ChatController implements vscode.Disposable {
    readonly history: ChatHistory;
    private conversation: Conversation;
    private readonly surfaces = new Set<ChatSurface>();
    private readonly code: CodeActions;
    private models: ModelChoice[] = [DEFAULT_CHOICE];
    private pendingAttachments: Attachment[] = [];
    private running: { turn: ChatTurn; cancel: vscode.CancellationTokenSource } | undefined;
    private gauge: ContextGauge | undefined;
    private lastEditor: vscode.TextEditor | undefined = vscode.window.activeTextEditor;
    private readonly disposables: vscode.Disposable[] = [];

    constructor(
        private readonly services: ExtensionServices,
        review: EditReview,
    ) {
        this.history = new ChatHistory(services.context.workspaceState);
        this.conversation = this.history.active();
        this.code = new CodeActions({ review, lastEditor: () => this.lastEditor });
        this.refreshModels();
        this.disposables.push(
            vscode.window.onDidChangeActiveTextEditor((editor) => {
                // The webview takes focus from the editor; remember the editor the user was in.
                if (editor && editor.document.uri.scheme !== 'output') this.lastEditor = editor;
            }),
            services.models.onDidChange(() => this.refreshModels()),
        );
    }

    /** Adds a surface; it receives state once it says `ready`. */
    attach(surface: ChatSurface): vscode.Disposable {
        this.surfaces.add(surface);
        return new vscode.Disposable(() => this.surfaces.delete(surface));
    }

    /** The state a surface draws; public so tests can read what the user sees. */
    state(): ChatViewState {
        return {
            conversationId: this.conversation.id,
            turns: this.conversation.turns,
            history: this.history.summaries(),
            models: this.models,
            selectedModel: this.conversation.model,
            pendingAttachments: this.pendingAttachments,
            streaming: this.running !== undefined,
            gauge: this.gauge,
        };
    }

    get isStreaming(): boolean {
        return this.running !== undefined;
    }

    /** Handles a message a surface sent (already validated). */
    async handle(surface: ChatSurface, message: WebviewToExtension): Promise<void> {
        switch (message.type) {
            case 'ready':
                surface.post({ type: 'state', state: this.state() });
                if (!this.services.models.loaded) void this.services.models.refresh();
                return;
            case 'chat/send':
                return this.send(message.text);
            case 'chat/stop':
                return this.stop();
            case 'chat/regenerate':
                return this.regenerate();
            case 'chat/new':
                return this.newChat();
            case 'chat/action':
                if (message.action === 'retry') return this.regenerate();
                if (message.action === 'newChat') return this.newChat();
                await vscode.commands.executeCommand(ACTION_COMMANDS[message.action]!);
                return;
            case 'model/select':
                if (message.modelId === '' || this.models.some((m) => m.id === message.modelId)) {
                    this.conversation.model = message.modelId;
                    await this.history.touch(this.conversation);
                    this.gauge = undefined;
                    this.broadcastState();
                }
                return;
            case 'context/attach':
                return this.attachContext(message.kind);
            case 'context/remove':
                this.pendingAttachments = this.pendingAttachments.filter((_, i) => i !== message.index);
                return this.broadcastState();
            case 'history/open':
                return this.openConversation(message.conversationId);
            case 'history/delete':
                this.history.delete(message.conversationId);
                if (this.conversation.id === message.conversationId) this.conversation = this.history.active();
                return this.broadcastState();
            case 'code/copy':
                return this.code.copy(message.code);
            case 'code/insert':
                return this.code.insert(message.code);
            case 'code/apply':
                return this.code.apply(message.code);
        }
    }

    /** Asks the question; resolves when the answer is complete, stopped or failed. */
    async send(text: string): Promise<void> {
        const question = text.trim();
        if (!question || this.running) return;
        this.conversation.turns.push({ id: newId(), role: 'user', content: question, attachments: this.pendingAttachments, status: 'done' });
        this.pendingAttachments = [];
        await this.answer();
    }

    stop(): void {
        if (!this.running) return;
        const { turn, cancel } = this.running;
        cancel.cancel();
        turn.status = 'stopped';
        this.running = undefined;
        void this.history.touch(this.conversation);
        this.broadcastState();
    }

    async regenerate(): Promise<void> {
        if (this.running) return;
        const turns = this.conversation.turns;
        if (turns.at(-1)?.role === 'assistant') turns.pop();
        if (turns.at(-1)?.role !== 'user') return;
        await this.answer();
    }

    async newChat(): Promise<void> {
        this.stop();
        if (this.conversation.turns.length > 0) this.conversation = this.history.create(this.conversation.model);
        this.pendingAttachments = [];
        this.gauge = undefined;
        this.broadcastState();
        this.post({ type: 'focus' });
    }

    /** Brings the question box into focus in every surface. */
    focus(): void {
        this.post({ type: 'focus' });
    }

    async openConversation(id: string): Promise<void> {
        this.stop();
        const found = this.history.open(id);
        if (!found) return;
        this.conversation = found;
        this.gauge = undefined;
        this.broadcastState();
        void this.updateGauge();
    }

    /** Attaches the current selection, or the whole file, to the next question. */
    async attachContext(kind: 'selection' | 'file'): Promise<void> {
        const editor = this.lastEditor ?? vscode.window.activeTextEditor;
        if (!editor) {
            void vscode.window.showInformationMessage('Local AI: open a file first, then attach its selection or the whole file.');
            return;
        }
        const { document, selection } = editor;
        const name = vscode.workspace.asRelativePath(document.uri);
        const useSelection = kind === 'selection' && !selection.isEmpty;
        this.pendingAttachments.push({
            kind: useSelection ? 'selection' : 'file',
            label: useSelection ? `${name}:${selection.start.line + 1}-${selection.end.line + 1}` : name,
            uri: document.uri.toString(),
            languageId: document.languageId,
            content: useSelection ? document.getText(selection) : document.getText(),
        });
        this.broadcastState();
    }

    private async answer(): Promise<void> {
        const conversation = this.conversation;
        const messages = toChatMessages(conversation.turns);
        const turn: ChatTurn = { id: newId(), role: 'assistant', content: '', status: 'streaming' };
        conversation.turns.push(turn);
        const cancel = new vscode.CancellationTokenSource();
        this.running = { turn, cancel };
        // Saved before the answer starts, so the question survives a crash or a reload.
        await this.history.touch(conversation);
        this.broadcastState();
        try {
            const result = await streamChat(
                this.services.sidecar,
                { ...modelParams(conversation.model), messages },
                {
                    onStart: (start) => {
                        if (this.running?.turn !== turn) return;
                        turn.engine = start.engine;
                        turn.fallback = start.fallback;
                        turn.truncation = start.truncation;
                        this.broadcastState();
                    },
                    onText: (text) => {
                        if (this.running?.turn !== turn) return;
                        turn.content += text;
                        this.post({ type: 'chat/delta', turnId: turn.id, text });
                    },
                },
                cancel.token,
            );
            turn.engine = result.engine;
            turn.fallback = result.fallback ?? turn.fallback;
            turn.truncation = result.truncation ?? turn.truncation;
            // The result holds the whole text: it repairs any progress notification that arrived late.
            if (turn.status === 'streaming') {
                turn.content = result.text;
                turn.status = result.finishReason === 'cancelled' ? 'stopped' : 'done';
            }
        } catch (error) {
            if (turn.status === 'streaming') {
                turn.status = 'error';
                turn.error = describeChatError(error);
                this.services.log.warn(`Chat failed: ${turn.error.message}`);
            }
        } finally {
            cancel.dispose();
            if (this.running?.turn === turn) this.running = undefined;
            await this.history.touch(conversation);
            this.broadcastState();
        }
        void this.updateGauge();
    }

    private async updateGauge(): Promise<void> {
        const conversation = this.conversation;
        const params = modelParams(conversation.model);
        if (params.provider || conversation.turns.length === 0) return;
        try {
            const counted = await this.services.sidecar.request(CountTokensRequest.type, { model: params.model, messages: toChatMessages(conversation.turns) });
            if (this.conversation !== conversation) return;
            // The count is of every message, but a conversation longer than the context is answered from its latest
            // messages only (the oldest are left out to fit): the context is then full, never more.
            this.gauge = { tokens: Math.min(counted.tokens, counted.contextSize), contextSize: counted.contextSize };
            this.broadcastState();
        } catch (error) {
            this.services.log.debug(`Context gauge unavailable: ${error instanceof Error ? error.message : String(error)}`);
        }
    }

    /** The picker: the default model, each installed local model once, then the configured providers. */
    private refreshModels(): void {
        const { models } = this.services;
        const local = new Map<string, ModelChoice>();
        for (const { entry } of models.installed()) local.set(entry.id, { id: `local:${entry.id}`, label: entry.name, detail: 'Local' });
        const cloud = models.cloudProviders.map((p) => ({ id: `cloud:${p.id}:${p.model}`, label: p.model, detail: p.id }));
        this.models = [DEFAULT_CHOICE, ...local.values(), ...cloud];
        this.broadcastState();
    }

    private broadcastState(): void {
        this.post({ type: 'state', state: this.state() });
    }

    private post(message: ExtensionToWebview): void {
        for (const surface of this.surfaces) surface.post(message);
    }

    dispose(): void {
        this.stop();
        for (const disposable of this.disposables) disposable.dispose();
    }
}

/** Picker id → request fields: `local:<id>`, `cloud:<provider>:<model>`, or '' for the default model. */
export function modelParams(choice: string): Pick<ChatParams, 'model' | 'provider' | 'providerModel'> {
    if (choice.startsWith('local:')) return { model: choice.slice('local:'.length) };
    const cloud = /^cloud:([^:]+):(.+)$/.exec(choice);
    if (cloud) return { provider: cloud[1] as ChatParams['provider'], providerModel: cloud[2] };
    return {};
}

/** The conversation as the model sees it: attachments become fenced code before the question. */
export function toChatMessages(turns: ChatTurn[]): ChatMessage[] {
    return turns
        .filter((turn) => turn.role === 'user' || (turn.status !== 'error' && turn.content.length > 0))
        .map((turn) => {
            const attached = (turn.attachments ?? []).map(
                (a) => `${a.kind === 'selection' ? 'Selected code' : 'File'} ${a.label}:\n\`\`\`${a.languageId}\n${a.content}\n\`\`\``,
            );
            return { role: turn.role, content: [...attached, turn.content].join('\n\n') };
        });
}
