/**
 * OpenAI's request bodies read into the sidecar's own types, each malformed field a 400 that names it.
 * Only what a local model can honour is accepted: `n` other than 1, tools or token-array prompts are
 * refused rather than silently ignored.
 */
import type { ChatMessage, SamplingOptions } from '../../common/chat';
import { badParam } from './httpErrors';

type Body = Record<string, unknown>;

function optionalNumber(body: Body, name: string, range: { min: number; max: number; integer?: boolean }): number | undefined {
    const value = body[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < range.min || value > range.max || (range.integer && !Number.isInteger(value))) {
        throw badParam(name, `'${name}' must be ${range.integer ? 'an integer' : 'a number'} from ${range.min} to ${range.max}.`);
    }
    return value;
}

/** `model`: an id or a path; absent or empty means the active model. */
export function readModel(body: Body): string | undefined {
    const model = body.model;
    if (model === undefined || model === null || model === '') return undefined;
    if (typeof model !== 'string') throw badParam('model', "'model' must be a string.");
    return model;
}

export function readStream(body: Body): { stream: boolean; includeUsage: boolean } {
    if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw badParam('stream', "'stream' must be a boolean.");
    const options = body.stream_options as { include_usage?: unknown } | undefined | null;
    return { stream: body.stream === true, includeUsage: body.stream === true && options?.include_usage === true };
}

function readStop(body: Body): string[] | undefined {
    const stop = body.stop;
    if (stop === undefined || stop === null) return undefined;
    const list = typeof stop === 'string' ? [stop] : stop;
    if (!Array.isArray(list) || list.length > 4 || !list.every((each) => typeof each === 'string')) {
        throw badParam('stop', "'stop' must be a string or up to 4 strings.");
    }
    return list;
}

/** The sampling fields chat and completions share. `max_completion_tokens` is the newer name of `max_tokens`. */
export function readSampling(body: Body): SamplingOptions {
    // One choice per request: a local model answers one at a time anyway.
    optionalNumber(body, 'n', { min: 1, max: 1, integer: true });
    return {
        maxTokens:
            optionalNumber(body, 'max_completion_tokens', { min: 1, max: 1_000_000, integer: true }) ??
            optionalNumber(body, 'max_tokens', { min: 1, max: 1_000_000, integer: true }),
        temperature: optionalNumber(body, 'temperature', { min: 0, max: 2 }),
        topP: optionalNumber(body, 'top_p', { min: 0, max: 1 }),
        seed: optionalNumber(body, 'seed', { min: -(2 ** 53), max: 2 ** 53, integer: true }),
        stop: readStop(body),
    };
}

/** A message's content: a string, or text parts (images and audio are refused). */
function contentText(content: unknown, index: number): string {
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) {
        return content
            .map((part: { type?: unknown; text?: unknown }) => {
                if (part?.type !== 'text' || typeof part.text !== 'string')
                    throw badParam(`messages[${index}].content`, 'Only text content parts are supported.');
                return part.text;
            })
            .join('');
    }
    if (content === null || content === undefined) return '';
    throw badParam(`messages[${index}].content`, 'A message content must be a string or text parts.');
}

/** `messages`, with OpenAI's `developer` role read as `system`. */
export function readMessages(body: Body): ChatMessage[] {
    const messages = body.messages;
    if (!Array.isArray(messages) || messages.length === 0) throw badParam('messages', "'messages' must be a non-empty array.");
    return messages.map((message: { role?: unknown; content?: unknown }, index): ChatMessage => {
        const role = message?.role === 'developer' ? 'system' : message?.role;
        if (role !== 'system' && role !== 'user' && role !== 'assistant') {
            throw badParam(`messages[${index}].role`, `Role '${String(message?.role)}' is not supported: use system, user or assistant.`);
        }
        return { role, content: contentText(message.content, index) };
    });
}

/** `prompt` of /v1/completions: one string (a one-string array too). */
export function readPrompt(body: Body): string {
    const prompt = Array.isArray(body.prompt) && body.prompt.length === 1 ? body.prompt[0] : body.prompt;
    if (typeof prompt !== 'string') throw badParam('prompt', "'prompt' must be a string.");
    return prompt;
}

/** `input` of /v1/embeddings: a string or strings. */
export function readEmbeddingInput(body: Body): string[] {
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    if (!Array.isArray(input) || input.length === 0 || !input.every((each) => typeof each === 'string')) {
        throw badParam('input', "'input' must be a string or a non-empty array of strings.");
    }
    return input;
}

export function readEncoding(body: Body): 'float' | 'base64' {
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') throw badParam('encoding_format', "'encoding_format' must be 'float' or 'base64'.");
    return format;
}
