/**
 * Draws the chat from a ChatViewState. User text is put in with textContent, model text only through
 * the Markdown renderer; no string from either side is ever used as HTML directly.
 */
import type { Attachment, ChatTurn, ChatViewState, ConversationSummary, ModelChoice } from '../common/webviewProtocol';
import type { MarkdownRenderer } from './markdown';

/** Builds an element; `text` is always set as text, never as HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
}

export function iconButton(options: { action: string; icon: string; title: string; label?: string }): HTMLButtonElement {
    const button = el('button', {
        'data-action': options.action,
        title: options.title,
        'aria-label': options.title,
        class: options.label ? 'text-button' : 'icon-button',
    });
    button.append(el('span', { class: `codicon codicon-${options.icon}`, 'aria-hidden': 'true' }));
    if (options.label) button.append(el('span', { class: 'label' }, options.label));
    return button;
}

export function renderModelPicker(select: HTMLSelectElement, models: ModelChoice[], selected: string): void {
    select.replaceChildren(
        ...models.map((model) => {
            const option = el('option', { value: model.id }, `${model.label} · ${model.detail}`);
            option.selected = model.id === selected;
            return option;
        }),
    );
}

export function renderGauge(container: HTMLElement, state: ChatViewState): void {
    const gauge = state.gauge;
    container.hidden = !gauge;
    if (!gauge) return;
    const ratio = gauge.contextSize > 0 ? Math.min(1, gauge.tokens / gauge.contextSize) : 0;
    const meter = container.querySelector<HTMLElement>('.gauge-fill')!;
    meter.style.width = `${Math.round(ratio * 100)}%`;
    container.classList.toggle('warning', ratio > 0.8);
    container.querySelector('.gauge-text')!.textContent = `${gauge.tokens.toLocaleString()} / ${gauge.contextSize.toLocaleString()} tokens`;
    container.title = `Context used: ${gauge.tokens} of ${gauge.contextSize} tokens (${Math.round(ratio * 100)}%)`;
}

export function renderAttachments(attachments: Attachment[], removable: boolean): HTMLElement {
    const list = el('div', { class: 'attachments' });
    attachments.forEach((attachment, index) => {
        const chip = el('span', { class: 'chip', title: attachment.uri });
        chip.append(
            el('span', { class: `codicon codicon-${attachment.kind === 'selection' ? 'selection' : 'file'}`, 'aria-hidden': 'true' }),
            el('span', {}, attachment.label),
        );
        if (removable) {
            const remove = iconButton({ action: 'remove-attachment', icon: 'close', title: `Remove ${attachment.label}` });
            remove.dataset.index = String(index);
            chip.append(remove);
        }
        list.append(chip);
    });
    return list;
}

export function renderHistory(list: HTMLElement, history: ConversationSummary[], activeId: string): void {
    if (history.length === 0) {
        list.replaceChildren(el('p', { class: 'empty' }, 'No earlier chats in this workspace.'));
        return;
    }
    list.replaceChildren(
        ...history.map((item) => {
            const row = el('div', { class: `history-row${item.id === activeId ? ' active' : ''}` });
            const open = el(
                'button',
                { class: 'history-open', 'data-action': 'open-conversation', 'data-id': item.id, title: new Date(item.updatedAt).toLocaleString() },
                item.title,
            );
            const remove = iconButton({ action: 'delete-conversation', icon: 'trash', title: `Delete "${item.title}"` });
            remove.dataset.id = item.id;
            row.append(open, remove);
            return row;
        }),
    );
}

function engineBadge(turn: ChatTurn): HTMLElement | undefined {
    if (!turn.engine) return undefined;
    const { engine } = turn;
    const where = engine.kind === 'cloud' ? `cloud · ${engine.device}` : engine.device;
    const badge = el('div', { class: `engine-badge ${engine.kind}`, title: `Answered by ${engine.modelName} (${where})` });
    badge.append(
        el('span', { class: `codicon codicon-${engine.kind === 'cloud' ? 'cloud' : 'vm'}`, 'aria-hidden': 'true' }),
        el('span', {}, `${engine.modelName} · ${where}`),
    );
    return badge;
}

const ERROR_ACTION_LABELS: Record<string, { label: string; icon: string }> = {
    retry: { label: 'Retry', icon: 'refresh' },
    restartSidecar: { label: 'Restart Sidecar', icon: 'debug-restart' },
    downloadModel: { label: 'Download Model', icon: 'cloud-download' },
    newChat: { label: 'New Chat', icon: 'add' },
    showLogs: { label: 'Show Logs', icon: 'output' },
    setApiKey: { label: 'Set API Key', icon: 'key' },
};

/** One turn; assistant text goes through the Markdown renderer. */
export function renderTurn(turn: ChatTurn, markdown: MarkdownRenderer, isLast: boolean): HTMLElement {
    // An answer that failed after some text is kept, and marked as the incomplete answer it is.
    const interrupted = turn.role === 'assistant' && turn.status === 'error' && turn.content.length > 0;
    const node = el('div', { class: `turn ${turn.role} ${turn.status}${interrupted ? ' interrupted' : ''}`, 'data-turn': turn.id });
    if (turn.role === 'user') {
        if (turn.attachments?.length) node.append(renderAttachments(turn.attachments, false));
        node.append(el('div', { class: 'user-text' }, turn.content));
        return node;
    }
    const badge = engineBadge(turn);
    if (badge) node.append(badge);
    if (turn.fallback) node.append(el('div', { class: 'note' }, turn.fallback.message));
    if (turn.truncation)
        node.append(
            el(
                'div',
                { class: 'note' },
                `${turn.truncation.droppedMessages} older message(s) were left out to fit the ${turn.truncation.contextSize}-token context.`,
            ),
        );
    const body = el('div', { class: 'markdown-body' });
    body.innerHTML = markdown.render(turn.content);
    if (turn.status === 'streaming' && !turn.content) body.append(el('span', { class: 'thinking' }, 'Thinking…'));
    node.append(body);
    if (turn.status === 'stopped') node.append(el('div', { class: 'note' }, 'Stopped.'));
    if (turn.error) {
        const action = ERROR_ACTION_LABELS[turn.error.action];
        const box = el('div', { class: 'error-box', role: 'alert' });
        const text = el('span', { class: 'error-text' });
        if (interrupted) text.append(el('strong', {}, 'Interrupted:'), ' ');
        text.append(turn.error.message);
        box.append(el('span', { class: 'codicon codicon-error', 'aria-hidden': 'true' }), text);
        const fix = iconButton({ action: 'error-action', icon: action.icon, title: action.label, label: action.label });
        fix.dataset.errorAction = turn.error.action;
        box.append(fix);
        node.append(box);
    }
    // An error brings its own Retry (or the fixing action) instead.
    if (isLast && turn.status !== 'streaming' && !turn.error) {
        const actions = el('div', { class: 'turn-actions' });
        actions.append(iconButton({ action: 'regenerate', icon: 'refresh', title: 'Regenerate', label: 'Regenerate' }));
        node.append(actions);
    }
    return node;
}
