/**
 * The local inference engine as the rest of the sidecar sees it: chat, token counts and
 * embeddings on a model that is loaded on demand, plus explicit load and unload.
 * It is the local `ChatEngine` the router puts first.
 */
import type { ChatMessage, ChatResult } from '../../common/chat';
import type { LoadedModel } from '../../common/protocol';
import { countTokens, embed, generateChat } from './generate';
import { ModelHost, type LoadOptions, type ModelHostOptions } from './modelHost';
import type { ChatCall, ChatEngine } from './types';

export class InferenceEngine implements ChatEngine {
    readonly host: ModelHost;

    constructor(options: ModelHostOptions) {
        this.host = new ModelHost(options);
    }

    load(options: LoadOptions = {}): Promise<LoadedModel> {
        return this.host.load(options);
    }

    unload(model?: string): Promise<string[]> {
        return this.host.unload(model);
    }

    listLoaded(): LoadedModel[] {
        return this.host.listLoaded();
    }

    /** Streams 'start' then text chunks; resolves with finishReason 'cancelled' when the signal aborts mid-answer. */
    chat(call: ChatCall): Promise<ChatResult> {
        return this.host.use(call.model, state => generateChat(state, call, {
            onStart: (engine, truncation) => call.onChunk({ kind: 'start', engine, truncation }),
            onText: text => call.onChunk({ kind: 'text', text }),
        }, call.signal), call.signal);
    }

    countTokens(input: { model?: string; text?: string; messages?: ChatMessage[] }, signal?: AbortSignal): Promise<{ tokens: number; contextSize: number }> {
        return this.host.use(input.model, async state => ({ tokens: countTokens(state, input), contextSize: state.context.contextSize }), signal);
    }

    embed(input: { model?: string; input: string[] }, signal?: AbortSignal): Promise<{ vectors: number[][]; model: string }> {
        return this.host.use(input.model, async state => ({ vectors: await embed(state, input.input, signal), model: state.info.modelId }), signal);
    }

    /** Idempotent: unloads the model. The runtime (the process's one Llama) is disposed by whoever created it. */
    async dispose(): Promise<void> {
        await this.host.dispose();
    }
}
