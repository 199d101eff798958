/**
 * Whether a GGUF can fill in the middle (code completion): llama.cpp's own rule, read from the header
 * node-llama-cpp already parsed. The converter writes `tokenizer.ggml.fim_pre/suf/mid_token_id` (older files:
 * `prefix/suffix/middle_token_id`); files converted before those keys existed still carry the tokens, and
 * llama.cpp finds them by their text, as here.
 */
import type { GgufFileInfo } from 'node-llama-cpp';

/** The texts llama.cpp's vocabulary loader recognises for each FIM token (Qwen, StarCoder, CodeLlama, DeepSeek, CodeGemma). */
const FIM_TEXTS = {
    prefix: ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<PRE>', '▁<PRE>', '<｜fim▁begin｜>', '<|fim_begin|>', '<|fim▁begin|>'],
    suffix: ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<SUF>', '▁<SUF>', '<｜fim▁hole｜>', '<|fim_hole|>', '<|fim▁hole|>'],
    middle: ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<MID>', '▁<MID>', '<｜fim▁end｜>', '<|fim_end|>', '<|fim▁end|>'],
};

/** True when the header names a prefix, a suffix and a middle token, by id or by text in the vocabulary. */
export function hasFimTokens(info: GgufFileInfo): boolean {
    const ggml = info.metadata?.tokenizer?.ggml;
    if (!ggml) return false;
    const byId =
        (ggml.fim_pre_token_id ?? ggml.prefix_token_id) !== undefined &&
        (ggml.fim_suf_token_id ?? ggml.suffix_token_id) !== undefined &&
        (ggml.fim_mid_token_id ?? ggml.middle_token_id) !== undefined;
    if (byId) return true;
    const tokens = new Set(ggml.tokens ?? []);
    return Object.values(FIM_TEXTS).every((texts) => texts.some((text) => tokens.has(text)));
}
