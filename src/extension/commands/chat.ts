/** Commands of the chat: the sidebar view, the editor panel, a new conversation, and the inline chat. */
import type { ChatFeatures } from '../chat/chatFeatures';
import type { CommandRow } from './commandRow';

/** `localAi.inlineChat` accepts `{ instruction }` so tests and keybindings can skip the input box. */
function inlineArgs(arg: unknown): { instruction?: string } {
    if (typeof arg === 'object' && arg !== null && typeof (arg as { instruction?: unknown }).instruction === 'string') {
        return { instruction: (arg as { instruction: string }).instruction };
    }
    return {};
}

export function chatCommands(chat: ChatFeatures): CommandRow[] {
    return [
        { id: 'localAi.openChat', run: () => chat.view.reveal() },
        { id: 'localAi.openChatInEditor', run: () => chat.panel.show() },
        {
            id: 'localAi.newChat',
            run: async () => {
                await chat.controller.newChat();
                await chat.view.reveal();
            },
        },
        { id: 'localAi.inlineChat', run: (arg) => chat.inline.start(inlineArgs(arg)) },
        { id: 'localAi.inlineChatAccept', run: () => chat.review.accept() },
        {
            id: 'localAi.inlineChatReject',
            run: async () => {
                chat.inline.cancel();
                await chat.review.reject();
            },
        },
    ];
}
