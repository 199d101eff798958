/**
 * The chat wrapper (prompt format) for a loaded model: node-llama-cpp's resolution from the
 * GGUF's Jinja template, with a generic fallback when the file has no usable template, and the
 * words that tell the user which one is in use.
 *
 * resolveChatWrapper renders the template against every built-in wrapper to find an exact
 * match, which took 5–7 s per load on the 2 shared test cores. The answer depends only on the
 * template, the special tokens and the architecture, so a built-in match is remembered for the
 * process; a Jinja or template wrapper holds the model's tokenizer and is resolved each time.
 */
import type { ChatWrapper, LlamaModel } from 'node-llama-cpp';
import type { Logger } from '../context';
import type { NodeLlamaCpp } from './runtime';

export interface ResolvedChatWrapper {
    wrapper: ChatWrapper;
    /** Which template prompts are written in, in the user's words: the model's tooltip and `local-ai chat --json` show it. */
    template: string;
}

const resolved = new Map<string, ResolvedChatWrapper>();

export function chatWrapperFor(lib: NodeLlamaCpp, model: LlamaModel, log: Logger): ResolvedChatWrapper {
    const metadata = model.fileInfo.metadata as { general?: { architecture?: string }; tokenizer?: { chat_template?: string } };
    const template = metadata.tokenizer?.chat_template;
    const key = JSON.stringify([template ?? null, metadata.general?.architecture, model.tokens.bosString, model.tokens.eosString]);
    const remembered = resolved.get(key);
    if (remembered) return remembered;
    const choice = resolve(lib, model, log, Boolean(template?.trim()));
    if (!(choice.wrapper instanceof lib.JinjaTemplateChatWrapper) && !(choice.wrapper instanceof lib.TemplateChatWrapper)) resolved.set(key, choice);
    return choice;
}

function resolve(lib: NodeLlamaCpp, model: LlamaModel, log: Logger, hasTemplate: boolean): ResolvedChatWrapper {
    const name = model.filename ?? 'The model';
    let wrapper: ChatWrapper;
    try {
        // Thrown to us rather than printed: node-llama-cpp writes a failed sanity test, stack and all, straight to the console.
        wrapper = lib.resolveChatWrapper(model, { fallbackToOtherWrappersOnJinjaError: false });
    } catch (error) {
        // node-llama-cpp's own fallback, without the template that failed: ChatML for a ChatML-like template, and so on.
        const fallback = lib.resolveChatWrapper(model, { noJinja: true });
        const generic = fallback instanceof lib.GeneralChatWrapper ? 'generic' : `generic ${fallback.wrapperName}`;
        log.warn(`${name}: this model's chat template failed a safety check; answering with a ${generic} template instead.`);
        log.debug(`${name}: ${error instanceof Error ? error.message : String(error)}`);
        return { wrapper: fallback, template: `${generic} (fallback)` };
    }
    if (wrapper instanceof lib.JinjaTemplateChatWrapper) return { wrapper, template: "the model's own (Jinja)" };
    if (wrapper instanceof lib.TemplateChatWrapper) return { wrapper, template: "the model's own" };
    if (wrapper instanceof lib.GeneralChatWrapper) {
        log.warn(`${name} has no usable chat template; using a generic prompt format.`);
        return { wrapper, template: hasTemplate ? 'generic (fallback)' : 'generic (the model has none)' };
    }
    return { wrapper, template: hasTemplate ? `the model's own (${wrapper.wrapperName}, built in)` : `${wrapper.wrapperName} (from the model's name)` };
}
