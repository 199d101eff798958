/**
 * Speculative decoding from the prompt, for answers that mostly copy it (an inline edit rewrites the
 * selection it was given). node-llama-cpp's InputLookupTokenPredictor finds the last tokens generated
 * in the last user message and proposes the tokens that followed them there; llama.cpp checks them all
 * in one batch and keeps those the sampler would have chosen anyway, so the answer is the same, only
 * sooner. A sequence takes its predictor when it is created, so every sequence gets one that stays off
 * (predicts nothing) unless the request asks for it: a chat answer rarely copies its prompt, and a
 * refuted guess costs a wider batch.
 */
import type { LlamaContextSequence, Token, TokenPredictor } from 'node-llama-cpp';
import type { NodeLlamaCpp } from '../llama/runtime';

/** The predictor a sequence is created with: input lookup while `enabled`, else no guesses. */
export interface SwitchablePredictor extends TokenPredictor {
    enabled: boolean;
}

export function createSwitchablePredictor(lib: NodeLlamaCpp): SwitchablePredictor {
    class SwitchableInputLookup extends lib.TokenPredictor implements SwitchablePredictor {
        enabled = false;
        private readonly lookup = new lib.InputLookupTokenPredictor();

        reset(params: Parameters<TokenPredictor['reset']>[0]): void {
            // Off, nothing reads the state; the next evaluation resets it again before guessing.
            if (this.enabled) this.lookup.reset(params);
        }

        pushTokens(tokens: Token[]): void {
            if (this.enabled) this.lookup.pushTokens(tokens);
        }

        predictTokens(): Token[] {
            return this.enabled ? this.lookup.predictTokens() : [];
        }

        override updateInputTokens(tokens: Token[]): void {
            this.lookup.updateInputTokens(this.enabled ? tokens : []);
        }

        override dispose(): void {
            this.lookup.dispose();
        }
    }
    return new SwitchableInputLookup();
}

/** Turns the sequence's input lookup on or off for the next answer; a sequence created without one is left alone. */
export function useInputLookup(sequence: LlamaContextSequence, enabled: boolean): void {
    const predictor = sequence.tokenPredictor as Partial<SwitchablePredictor> | undefined;
    if (predictor && typeof predictor.enabled === 'boolean') predictor.enabled = enabled;
}
