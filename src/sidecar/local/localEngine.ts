/**
 * The local inference engine as the rest of the sidecar sees it: chat, token counts and
 * embeddings on a model that is loaded on demand, plus explicit load and unload. It is the local
 * `ChatEngine` the router puts first; ModelHost keeps the loaded model and its load lifecycle.
 * Build it with createLocalEngine (index.ts); tests build it directly with their own options.
 */
import type { ChatMessage, ChatResult } from '../../common/chat';
import type { LoadedModel } from '../../common/protocol';
import type { SidecarSettings } from '../../common/settings';
import type { SidecarContext } from '../context';
import { countTokens, embed, generateChat } from './generate';
import { ModelHost, type LoadOptions, type ModelHostOptions } from './modelHost';
import type { ChatCall, ChatEngine } from '../chatEngine';

export class LocalEngine implements ChatEngine {
    readonly host: ModelHost;
    private readonly cleanups: (() => void)[] = [];

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
        return this.host.use(
            call.model,
            (state) =>
                generateChat(
                    state,
                    call,
                    {
                        onStart: (engine, truncation) => call.onChunk({ kind: 'start', engine, truncation }),
                        onText: (text) => call.onChunk({ kind: 'text', text }),
                    },
                    call.signal,
                ),
            call.signal,
        );
    }

    countTokens(input: { model?: string; text?: string; messages?: ChatMessage[] }, signal?: AbortSignal): Promise<{ tokens: number; contextSize: number }> {
        return this.host.use(input.model, async (state) => ({ tokens: countTokens(state, input), contextSize: state.context.contextSize }), signal);
    }

    embed(input: { model?: string; input: string[] }, signal?: AbortSignal): Promise<{ vectors: number[][]; model: string }> {
        return this.host.use(input.model, async (state) => ({ vectors: await embed(state, input.input, signal), model: state.info.modelId }), signal);
    }

    /** Follows the GPU mode setting: a new mode needs a new Llama, and the model must be freed before the old one goes. */
    followGpuMode(context: SidecarContext): void {
        const runtime = this.host.runtime;
        const onSettings = (settings: SidecarSettings) => {
            if (!runtime.setGpuMode(settings.gpu)) return;
            context.log.info(`GPU mode is now ${settings.gpu}; it applies to the next model load.`);
            void this.unload().then(() => runtime.dispose());
        };
        context.on('settings', onSettings);
        this.cleanups.push(() => context.off('settings', onSettings));
    }

    /** Idempotent: unloads the model. The runtime (the process's one Llama) is disposed by whoever created it. */
    async dispose(): Promise<void> {
        for (const cleanup of this.cleanups.splice(0)) cleanup();
        await this.host.dispose();
    }
}
