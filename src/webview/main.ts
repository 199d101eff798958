/**
 * The chat webview. It owns nothing: the extension sends the state, this draws it and sends back what
 * the user did. Every message from the extension is validated; the draft and scroll position survive
 * the view being hidden through getState/setState.
 */
import DOMPurifyFactory from 'dompurify';
import { parseExtensionMessage, type ChatViewState, type ErrorAction, type WebviewToExtension } from '../common/webviewProtocol';
import { createMarkdownRenderer } from './markdown';
import { el, iconButton, renderAttachments, renderGauge, renderHistory, renderModelPicker, renderTurn } from './render';

interface VsCodeApi {
    postMessage(message: WebviewToExtension): void;
    getState(): SavedState | undefined;
    setState(state: SavedState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** What the webview keeps while hidden. */
interface SavedState {
    draft: string;
    scrollTop: number;
    view?: ChatViewState;
}

const vscode = acquireVsCodeApi();
const markdown = createMarkdownRenderer(DOMPurifyFactory(window));
const saved: SavedState = vscode.getState() ?? { draft: '', scrollTop: 0 };
let view: ChatViewState | undefined = saved.view;
const send = (message: WebviewToExtension) => vscode.postMessage(message);

// ---------------------------------------------------------------- layout

const app = document.getElementById('app')!;
app.removeAttribute('aria-busy');
app.textContent = '';
const header = el('header', { class: 'toolbar' });
const modelPicker = el('select', { id: 'model-picker', 'aria-label': 'Model' });
const gauge = el('div', { class: 'gauge', role: 'meter', 'aria-label': 'Context used' });
gauge.append(el('div', { class: 'gauge-bar' }), el('span', { class: 'gauge-text' }));
gauge.querySelector('.gauge-bar')!.append(el('div', { class: 'gauge-fill' }));
header.append(
    modelPicker,
    gauge,
    iconButton({ action: 'toggle-history', icon: 'history', title: 'Chat History' }),
    iconButton({ action: 'new-chat', icon: 'add', title: 'New Chat' }),
);
const historyPanel = el('div', { class: 'history', hidden: '' });
const messages = el('div', { id: 'messages', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' });
const empty = el('div', { class: 'empty-chat' }, 'Ask about your code. Answers come from the model on this machine unless you choose a cloud provider.');
const composer = el('footer', { class: 'composer' });
const pending = el('div', { class: 'pending' });
const input = el('textarea', {
    id: 'question',
    rows: '3',
    placeholder: 'Ask Local AI… (Enter to send, Shift+Enter for a new line, Escape to stop)',
    'aria-label': 'Question',
});
input.value = saved.draft;
const row = el('div', { class: 'composer-row' });
const sendButton = iconButton({ action: 'send', icon: 'send', title: 'Send', label: 'Send' });
const stopButton = iconButton({ action: 'stop', icon: 'debug-stop', title: 'Stop', label: 'Stop' });
row.append(
    iconButton({ action: 'attach-selection', icon: 'selection', title: 'Attach Selection' }),
    iconButton({ action: 'attach-file', icon: 'file-add', title: 'Attach Current File' }),
    el('span', { class: 'spacer' }),
    stopButton,
    sendButton,
);
composer.append(pending, input, row);
app.append(header, historyPanel, messages, composer);

// ---------------------------------------------------------------- drawing

function save(): void {
    vscode.setState({ draft: input.value, scrollTop: messages.scrollTop, view });
}

function nearBottom(): boolean {
    return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
}

function draw(state: ChatViewState): void {
    const stick = nearBottom();
    renderModelPicker(modelPicker, state.models, state.selectedModel);
    renderGauge(gauge, state);
    renderHistory(historyPanel, state.history, state.conversationId);
    pending.replaceChildren(renderAttachments(state.pendingAttachments, true));
    messages.replaceChildren(...(state.turns.length ? state.turns.map((turn, i) => renderTurn(turn, markdown, i === state.turns.length - 1)) : [empty]));
    messages.setAttribute('aria-busy', String(state.streaming));
    stopButton.hidden = !state.streaming;
    sendButton.hidden = state.streaming;
    if (stick) messages.scrollTop = messages.scrollHeight;
}

/** Re-renders one streaming turn at most once a frame, however fast tokens arrive. */
let frame = 0;
function redrawTurn(turnId: string): void {
    if (frame) return;
    frame = requestAnimationFrame(() => {
        frame = 0;
        const turn = view?.turns.find((t) => t.id === turnId);
        const node = messages.querySelector<HTMLElement>(`[data-turn="${CSS.escape(turnId)}"]`);
        if (!turn || !node || !view) return;
        const stick = nearBottom();
        node.replaceWith(renderTurn(turn, markdown, view.turns.at(-1) === turn));
        if (stick) messages.scrollTop = messages.scrollHeight;
    });
}

// ---------------------------------------------------------------- from the extension

window.addEventListener('message', (event: MessageEvent<unknown>) => {
    const parsed = parseExtensionMessage(event.data);
    if (!parsed.ok) {
        console.warn(`Local AI chat: ignored an invalid message (${parsed.problem})`);
        return;
    }
    const message = parsed.message;
    switch (message.type) {
        case 'state':
            view = message.state;
            draw(view);
            save();
            break;
        case 'chat/delta': {
            const turn = view?.turns.find((t) => t.id === message.turnId);
            if (!turn) return;
            turn.content += message.text;
            redrawTurn(turn.id);
            break;
        }
        case 'focus':
            input.focus();
            break;
    }
});

// ---------------------------------------------------------------- to the extension

function submit(): void {
    const text = input.value.trim();
    if (!text || view?.streaming) return;
    send({ type: 'chat/send', text });
    input.value = '';
    save();
}

function codeOf(button: HTMLElement): string {
    return button.closest('.code-block')?.querySelector('code')?.textContent ?? '';
}

document.addEventListener('click', (event) => {
    const target = event.target as HTMLElement;
    // Links in answers open through VS Code (http/https only; others were rendered inert).
    const button = target.closest<HTMLElement>('[data-action]');
    if (!button) return;
    switch (button.dataset.action) {
        case 'send':
            return submit();
        case 'stop':
            return send({ type: 'chat/stop' });
        case 'regenerate':
            return send({ type: 'chat/regenerate' });
        case 'new-chat':
            return send({ type: 'chat/new' });
        case 'toggle-history':
            historyPanel.hidden = !historyPanel.hidden;
            return;
        case 'open-conversation':
            historyPanel.hidden = true;
            return send({ type: 'history/open', conversationId: button.dataset.id ?? '' });
        case 'delete-conversation':
            return send({ type: 'history/delete', conversationId: button.dataset.id ?? '' });
        case 'attach-selection':
            return send({ type: 'context/attach', kind: 'selection' });
        case 'attach-file':
            return send({ type: 'context/attach', kind: 'file' });
        case 'remove-attachment':
            return send({ type: 'context/remove', index: Number(button.dataset.index) });
        case 'error-action':
            return send({ type: 'chat/action', action: button.dataset.errorAction as ErrorAction });
        case 'copy':
            return send({ type: 'code/copy', code: codeOf(button) });
        case 'insert':
            return send({ type: 'code/insert', code: codeOf(button) });
        case 'apply':
            return send({ type: 'code/apply', code: codeOf(button) });
    }
});

modelPicker.addEventListener('change', () => send({ type: 'model/select', modelId: modelPicker.value }));

input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
    }
});
input.addEventListener('input', save);
messages.addEventListener('scroll', save, { passive: true });

document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && view?.streaming) {
        event.preventDefault();
        send({ type: 'chat/stop' });
    }
});

if (view) draw(view);
messages.scrollTop = saved.scrollTop;
send({ type: 'ready' });
