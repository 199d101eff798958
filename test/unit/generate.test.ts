import * as assert from 'node:assert/strict';
import { defaultTemperature, samplingToLlama, toChatHistory } from '../../src/sidecar/local/generate';

describe('samplingToLlama', () => {
    it('passes every option through and defaults the temperature', () => {
        assert.deepEqual(samplingToLlama({ temperature: 0.2, topP: 0.9, topK: 40, seed: 7, maxTokens: 64, stop: ['\n\n'] }), {
            temperature: 0.2,
            topP: 0.9,
            topK: 40,
            seed: 7,
            maxTokens: 64,
            customStopTriggers: ['\n\n'],
        });
        assert.equal(samplingToLlama().temperature, defaultTemperature);
    });

    it('keeps a temperature of 0 (greedy) and ignores empty stop strings', () => {
        const options = samplingToLlama({ temperature: 0, stop: ['', ''] });
        assert.equal(options.temperature, 0);
        assert.equal(options.customStopTriggers, undefined);
    });
});

describe('toChatHistory', () => {
    it('maps roles and opens an empty model turn to generate into', () => {
        assert.deepEqual(
            toChatHistory([
                { role: 'system', content: 's' },
                { role: 'user', content: 'u' },
                { role: 'assistant', content: 'a' },
                { role: 'user', content: 'again' },
            ]),
            [
                { type: 'system', text: 's' },
                { type: 'user', text: 'u' },
                { type: 'model', response: ['a'] },
                { type: 'user', text: 'again' },
                { type: 'model', response: [] },
            ],
        );
    });

    it('continues a conversation that ends with an assistant message', () => {
        assert.deepEqual(
            toChatHistory([
                { role: 'user', content: 'u' },
                { role: 'assistant', content: 'Once upon' },
            ]).at(-1),
            { type: 'model', response: ['Once upon'] },
        );
    });
});
