/**
 * Conversations kept per workspace in `workspaceState`, so they survive a reload of the window. Saved
 * on every change (a failed answer included: the question the user typed is never lost).
 */
import type * as vscode from 'vscode';
import type { ChatTurn, ConversationSummary } from '../../common/webviewProtocol';

export interface Conversation {
    id: string;
    title: string;
    createdAt: number;
    updatedAt: number;
    turns: ChatTurn[];
    /** The model picked for this conversation (`ModelChoice.id`), empty for the default. */
    model: string;
}

interface StoredHistory {
    version: 1;
    conversations: Conversation[];
    activeId?: string;
}

const STORAGE_KEY = 'localAi.chat.history';

export interface ChatHistoryOptions {
    /** Oldest conversations beyond this many are forgotten. Default: 50. */
    maxConversations?: number;
}

export class ChatHistory {
    private conversations: Conversation[];
    private activeId: string | undefined;
    private readonly maxConversations: number;

    constructor(
        private readonly memento: vscode.Memento,
        options: ChatHistoryOptions = {},
    ) {
        this.maxConversations = options.maxConversations ?? 50;
        const stored = memento.get<StoredHistory>(STORAGE_KEY);
        this.conversations = stored?.version === 1 && Array.isArray(stored.conversations) ? stored.conversations : [];
        this.activeId = stored?.activeId;
        // A window closed mid-answer leaves a turn marked streaming; it will never finish now.
        for (const turn of this.conversations.flatMap((c) => c.turns)) {
            if (turn.status === 'streaming') turn.status = 'stopped';
        }
    }

    /** The conversation shown in the chat; a new empty one when there is none. */
    active(): Conversation {
        const found = this.conversations.find((c) => c.id === this.activeId);
        if (found) return found;
        return this.create();
    }

    create(model = ''): Conversation {
        const now = Date.now();
        const conversation: Conversation = { id: newId(), title: 'New chat', createdAt: now, updatedAt: now, turns: [], model };
        this.conversations.unshift(conversation);
        this.activeId = conversation.id;
        this.trim();
        void this.save();
        return conversation;
    }

    open(id: string): Conversation | undefined {
        const found = this.conversations.find((c) => c.id === id);
        if (found) {
            this.activeId = id;
            void this.save();
        }
        return found;
    }

    delete(id: string): void {
        this.conversations = this.conversations.filter((c) => c.id !== id);
        if (this.activeId === id) this.activeId = this.conversations[0]?.id;
        void this.save();
    }

    /** Newest first; empty conversations are not worth listing. */
    summaries(): ConversationSummary[] {
        return this.conversations
            .filter((c) => c.turns.length > 0)
            .sort((a, b) => b.updatedAt - a.updatedAt)
            .map(({ id, title, updatedAt }) => ({ id, title, updatedAt }));
    }

    /** Records a change to a conversation (its title follows the first question). */
    touch(conversation: Conversation): Promise<void> {
        conversation.updatedAt = Date.now();
        const first = conversation.turns.find((t) => t.role === 'user');
        if (first) conversation.title = first.content.replace(/\s+/g, ' ').trim().slice(0, 60) || 'New chat';
        return this.save();
    }

    private trim(): void {
        if (this.conversations.length > this.maxConversations) {
            this.conversations = [...this.conversations].sort((a, b) => b.updatedAt - a.updatedAt).slice(0, this.maxConversations);
        }
    }

    private save(): Promise<void> {
        const stored: StoredHistory = { version: 1, conversations: this.conversations, activeId: this.activeId };
        return Promise.resolve(this.memento.update(STORAGE_KEY, stored));
    }
}

export function newId(): string {
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
