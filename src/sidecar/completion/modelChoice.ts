/**
 * Which model code completion uses: the request's, else `localAi.completion.model`, else the installed model
 * the registry recommends for completion, else the first installed model that can fill in the middle (the
 * catalog's `fim`, or the FIM tokens in its GGUF). None of these: a ModelNotInstalled error saying what to get.
 */
import { ErrorCode, isLocalAiError, LocalAiError } from '../../common/errors';
import type { ModelEntry, ModelFile } from '../../common/models';
import type { SidecarContext } from '../context';
import { importNodeLlamaCpp } from '../llama/runtime';
import { installedSource, registryModelResolver, type ModelResolver, type ModelSource } from '../local/index';
import type { ModelRegistry } from '../models/registry';

export const NO_COMPLETION_MODEL_HINT =
    'Download a code model that can fill in the middle (Qwen2.5-Coder 0.5B or 1.5B in the Models view, or local-ai models download), or set localAi.completion.model.';

/** Whether a GGUF carries FIM tokens: the `tokenizer.ggml.fim_*` keys, or the tokens llama.cpp finds by their text. */
export async function ggufHasFim(filePath: string): Promise<boolean> {
    const { readGgufFileInfo } = await importNodeLlamaCpp();
    const info = await readGgufFileInfo(filePath, { sourceType: 'filesystem', logWarnings: false, readTensorInfo: false });
    const tokenizer = info.metadata?.tokenizer?.ggml as Record<string, unknown> | undefined;
    if (!tokenizer) return false;
    if (tokenizer.fim_pre_token_id !== undefined || tokenizer.prefix_token_id !== undefined) return true;
    const tokens = tokenizer.tokens;
    return Array.isArray(tokens) && (tokens.includes('<|fim_prefix|>') || tokens.includes('<fim_prefix>') || tokens.includes('<fim-prefix>'));
}

/** Chooses and resolves the completion model; file checks are remembered per path. */
export class CompletionModelChoice {
    private readonly fimByPath = new Map<string, Promise<boolean>>();
    private readonly byName: ModelResolver;

    constructor(
        private readonly registry: ModelRegistry,
        private readonly context: SidecarContext,
    ) {
        this.byName = registryModelResolver(registry, context);
    }

    /** The model a request would use; throws ModelNotInstalled when there is none. */
    readonly resolve: ModelResolver = async (model) => {
        const named = model || this.context.settings.completion.model || undefined;
        if (named) return this.resolveNamed(named);
        const chosen = await this.installedChoice();
        if (!chosen) {
            throw new LocalAiError(ErrorCode.ModelNotInstalled, 'No code completion model is installed.', { hint: NO_COMPLETION_MODEL_HINT });
        }
        return chosen;
    };

    private async resolveNamed(named: string): Promise<ModelSource> {
        try {
            return await this.byName(named);
        } catch (error) {
            // `id@QUANT`, as the setting may hold it.
            const at = named.lastIndexOf('@');
            if (!isLocalAiError(error) || error.code !== ErrorCode.ModelNotFound || at <= 0) throw error;
            return installedSource(await this.registry.resolveInstalled(named.slice(0, at), named.slice(at + 1)), this.context, named);
        }
    }

    private async installedChoice(): Promise<ModelSource | undefined> {
        const list = await this.registry.list();
        const installed = (entry: ModelEntry, quant?: string): ModelFile | undefined =>
            entry.files.find((file) => file.state === 'installed' && file.path && (quant === undefined || file.quant === quant));
        const source = async (entry: ModelEntry, file: ModelFile) =>
            installedSource(await this.registry.resolveInstalled(entry.id, file.quant), this.context, entry.id);
        const recommended = list.recommendedCompletion;
        const recommendedEntry = recommended && list.models.find((entry) => entry.id === recommended.modelId);
        const recommendedFile = recommendedEntry && installed(recommendedEntry, recommended.quant);
        if (recommendedEntry && recommendedFile) return source(recommendedEntry, recommendedFile);
        for (const entry of list.models) {
            const file = installed(entry);
            if (!file?.path || entry.fim === false) continue;
            if (entry.fim === true || (await this.fileHasFim(file.path))) return source(entry, file);
        }
        return undefined;
    }

    private fileHasFim(filePath: string): Promise<boolean> {
        let known = this.fimByPath.get(filePath);
        if (!known) {
            known = ggufHasFim(filePath).catch(() => false);
            this.fimByPath.set(filePath, known);
        }
        return known;
    }
}
