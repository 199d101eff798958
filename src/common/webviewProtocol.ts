/**
 * The protocol between the extension and the chat webview (sidebar view and editor panel): one
 * discriminated union each way, and a validator for each, because a webview is a browser page and
 * whatever crosses `postMessage` is untrusted input on both ends. Never imports 'vscode'.
 */
import type { EngineInfo, FallbackInfo, TruncationReport } from './chat';

// ---------------------------------------------------------------- shared shapes

/** Code or text the user attached to a question, shown on the message it was sent with. */
export interface Attachment {
    kind: 'selection' | 'file';
    /** What the chip says: `sample.ts:3-7` or `sample.ts`. */
    label: string;
    /** The document's URI, so the chip can say where it came from. */
    uri: string;
    languageId: string;
    content: string;
}

/** What the user can do about an error, rendered as a button under it. */
export type ErrorAction = 'retry' | 'restartSidecar' | 'downloadModel' | 'newChat' | 'showLogs' | 'setApiKey';

export interface TurnError {
    message: string;
    action: ErrorAction;
}

export interface ChatTurn {
    id: string;
    role: 'user' | 'assistant';
    content: string;
    /** What was attached to a user turn. */
    attachments?: Attachment[];
    /** Which engine answered an assistant turn. */
    engine?: EngineInfo;
    fallback?: FallbackInfo;
    truncation?: TruncationReport;
    /** `streaming` while tokens arrive; `stopped` when the user stopped it. */
    status: 'streaming' | 'done' | 'stopped' | 'error';
    error?: TurnError;
}

export interface ConversationSummary {
    id: string;
    title: string;
    updatedAt: number;
}

/** A model the picker offers: an installed local model or a configured cloud provider. */
export interface ModelChoice {
    /** `local:<modelId>` or `cloud:<provider>:<model>`. */
    id: string;
    label: string;
    /** `Local`, `openai`, … shown after the label. */
    detail: string;
}

/** Tokens the conversation uses of the model's context (from CountTokensRequest). */
export interface ContextGauge {
    tokens: number;
    contextSize: number;
}

/** Everything the webview draws, sent whole on `ready` and after every change except streamed text. */
export interface ChatViewState {
    conversationId: string;
    turns: ChatTurn[];
    history: ConversationSummary[];
    models: ModelChoice[];
    /** The chosen `ModelChoice.id`; empty = the default local model. */
    selectedModel: string;
    /** Attached to the next question. */
    pendingAttachments: Attachment[];
    streaming: boolean;
    gauge?: ContextGauge;
}

// ---------------------------------------------------------------- webview → extension

export type WebviewToExtension =
    | { type: 'ready' }
    | { type: 'chat/send'; text: string }
    | { type: 'chat/stop' }
    | { type: 'chat/regenerate' }
    | { type: 'chat/new' }
    | { type: 'chat/action'; action: ErrorAction }
    | { type: 'model/select'; modelId: string }
    | { type: 'context/attach'; kind: 'selection' | 'file' }
    | { type: 'context/remove'; index: number }
    | { type: 'history/open'; conversationId: string }
    | { type: 'history/delete'; conversationId: string }
    | { type: 'code/copy'; code: string }
    | { type: 'code/insert'; code: string }
    | { type: 'code/apply'; code: string };

// ---------------------------------------------------------------- extension → webview

export type ExtensionToWebview =
    | { type: 'state'; state: ChatViewState }
    /** Text appended to a streaming assistant turn; cheaper than a whole state per token. */
    | { type: 'chat/delta'; turnId: string; text: string }
    /** Puts the cursor in the question box (the Open Chat command). */
    | { type: 'focus' };

// ---------------------------------------------------------------- validation

/** Checks that an unknown value has a shape; `at` names the field for the error. */
type Check = (value: unknown, at: string) => string | undefined;

const str: Check = (v, at) => (typeof v === 'string' ? undefined : `${at} must be a string`);
const num: Check = (v, at) => (typeof v === 'number' && Number.isFinite(v) ? undefined : `${at} must be a finite number`);
const bool: Check = (v, at) => (typeof v === 'boolean' ? undefined : `${at} must be a boolean`);
const oneOf =
    (...values: string[]): Check =>
    (v, at) =>
        typeof v === 'string' && values.includes(v) ? undefined : `${at} must be one of ${values.join(', ')}`;
const optional =
    (check: Check): Check =>
    (v, at) =>
        v === undefined ? undefined : check(v, at);
const array =
    (check: Check): Check =>
    (v, at) => {
        if (!Array.isArray(v)) return `${at} must be an array`;
        for (let i = 0; i < v.length; i++) {
            const problem = check(v[i], `${at}[${i}]`);
            if (problem) return problem;
        }
        return undefined;
    };
const object =
    (fields: Record<string, Check>): Check =>
    (v, at) => {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${at} must be an object`;
        const record = v as Record<string, unknown>;
        for (const [key, check] of Object.entries(fields)) {
            const problem = check(record[key], `${at}.${key}`);
            if (problem) return problem;
        }
        return undefined;
    };

const ERROR_ACTIONS: ErrorAction[] = ['retry', 'restartSidecar', 'downloadModel', 'newChat', 'showLogs', 'setApiKey'];
const errorAction = oneOf(...ERROR_ACTIONS);

const attachment = object({ kind: oneOf('selection', 'file'), label: str, uri: str, languageId: str, content: str });
const engine = object({ kind: oneOf('local', 'cloud'), model: str, modelName: str, device: str, contextSize: optional(num) });
const turn = object({
    id: str,
    role: oneOf('user', 'assistant'),
    content: str,
    attachments: optional(array(attachment)),
    engine: optional(engine),
    fallback: optional(object({ reason: str, message: str, provider: str })),
    truncation: optional(object({ strategy: str, droppedMessages: num, contextSize: num })),
    status: oneOf('streaming', 'done', 'stopped', 'error'),
    error: optional(object({ message: str, action: errorAction })),
});
const viewState = object({
    conversationId: str,
    turns: array(turn),
    history: array(object({ id: str, title: str, updatedAt: num })),
    models: array(object({ id: str, label: str, detail: str })),
    selectedModel: str,
    pendingAttachments: array(attachment),
    streaming: bool,
    gauge: optional(object({ tokens: num, contextSize: num })),
});

const toExtension: Record<WebviewToExtension['type'], Record<string, Check>> = {
    ready: {},
    'chat/send': { text: str },
    'chat/stop': {},
    'chat/regenerate': {},
    'chat/new': {},
    'chat/action': { action: errorAction },
    'model/select': { modelId: str },
    'context/attach': { kind: oneOf('selection', 'file') },
    'context/remove': { index: num },
    'history/open': { conversationId: str },
    'history/delete': { conversationId: str },
    'code/copy': { code: str },
    'code/insert': { code: str },
    'code/apply': { code: str },
};

const toWebview: Record<ExtensionToWebview['type'], Record<string, Check>> = {
    state: { state: viewState },
    'chat/delta': { turnId: str, text: str },
    focus: {},
};

export type Validation<T> = { ok: true; message: T } | { ok: false; problem: string };

function validate<T>(value: unknown, table: Record<string, Record<string, Check>>): Validation<T> {
    if (typeof value !== 'object' || value === null) return { ok: false, problem: 'message must be an object' };
    const type = (value as { type?: unknown }).type;
    if (typeof type !== 'string' || !Object.hasOwn(table, type)) return { ok: false, problem: `unknown message type ${JSON.stringify(type)}` };
    const problem = object(table[type])(value, type);
    return problem ? { ok: false, problem } : { ok: true, message: value as T };
}

/** Validates a message the extension received from a chat webview. */
export function parseWebviewMessage(value: unknown): Validation<WebviewToExtension> {
    return validate<WebviewToExtension>(value, toExtension);
}

/** Validates a message the chat webview received from the extension. */
export function parseExtensionMessage(value: unknown): Validation<ExtensionToWebview> {
    return validate<ExtensionToWebview>(value, toWebview);
}
