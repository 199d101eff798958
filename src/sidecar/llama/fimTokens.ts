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

/** Each header's answer: the model list asks on every list, for every installed file, of the same parsed header. */
const answers = new WeakMap<GgufFileInfo, boolean>();

/** True when the header names a prefix, a suffix and a middle token, by id or by text in the vocabulary. */
export function hasFimTokens(info: GgufFileInfo): boolean {
    let answer = answers.get(info);
    if (answer === undefined) {
        answer = readFimTokens(info);
        answers.set(info, answer);
    }
    return answer;
}

function readFimTokens(info: GgufFileInfo): boolean {
    const ggml = info.metadata?.tokenizer?.ggml;
    if (!ggml) return false;
    const byId =
        (ggml.fim_pre_token_id ?? ggml.prefix_token_id) !== undefined &&
        (ggml.fim_suf_token_id ?? ggml.suffix_token_id) !== undefined &&
        (ggml.fim_mid_token_id ?? ggml.middle_token_id) !== undefined;
    if (byId) return true;
    // One pass over the vocabulary (tens of thousands of strings) for the few texts wanted.
    const roles = new Map(Object.entries(FIM_TEXTS).flatMap(([role, texts]) => texts.map((text) => [text, role] as const)));
    const found = new Set<string>();
    for (const token of ggml.tokens ?? []) {
        const role = roles.get(token);
        if (role === undefined) continue;
        found.add(role);
        if (found.size === Object.keys(FIM_TEXTS).length) return true;
    }
    return false;
}
