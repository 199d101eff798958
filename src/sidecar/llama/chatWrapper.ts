/**
 * The chat wrapper (prompt format) for a loaded model: node-llama-cpp's resolution from the
 * GGUF's Jinja template, with a generic fallback when the file has no usable template.
 *
 * resolveChatWrapper renders the template against every built-in wrapper to find an exact
 * match, which took 5–7 s per load on the 2 shared test cores. The answer depends only on the
 * template, the special tokens and the architecture, so a built-in match is remembered for the
 * process; a Jinja or template wrapper holds the model's tokenizer and is resolved each time.
 */
import type { ChatWrapper, LlamaModel } from 'node-llama-cpp';
import type { Logger } from '../context';
import type { NodeLlamaCpp } from './runtime';

const resolved = new Map<string, ChatWrapper>();

export function chatWrapperFor(lib: NodeLlamaCpp, model: LlamaModel, log: Logger): ChatWrapper {
    const metadata = model.fileInfo.metadata as { general?: { architecture?: string }; tokenizer?: { chat_template?: string } };
    const key = JSON.stringify([metadata.tokenizer?.chat_template ?? null, metadata.general?.architecture, model.tokens.bosString, model.tokens.eosString]);
    const remembered = resolved.get(key);
    if (remembered) return remembered;
    const wrapper = lib.resolveChatWrapper(model) ?? new lib.GeneralChatWrapper();
    if (wrapper instanceof lib.GeneralChatWrapper) log.warn(`${model.filename ?? 'The model'} has no usable chat template; using a generic prompt format.`);
    if (!(wrapper instanceof lib.JinjaTemplateChatWrapper) && !(wrapper instanceof lib.TemplateChatWrapper)) resolved.set(key, wrapper);
    return wrapper;
}
