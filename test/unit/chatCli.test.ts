import * as assert from 'node:assert/strict';
import { parseChatArgs } from '../../src/sidecar/cli/chat';

describe('local-ai chat arguments', () => {
    it('builds the conversation and the sampling options', () => {
        assert.deepEqual(
            parseChatArgs([
                'Hello',
                'there',
                '--model',
                '/m.gguf',
                '--system',
                'Be brief',
                '--max-tokens',
                '5',
                '--temperature',
                '0.3',
                '--seed',
                '9',
                '--threads',
                '1',
                '--json',
            ]),
            {
                messages: [
                    { role: 'system', content: 'Be brief' },
                    { role: 'user', content: 'Hello there' },
                ],
                model: '/m.gguf',
                options: { maxTokens: 5, temperature: 0.3, topP: undefined, seed: 9 },
                threads: 1,
                json: true,
                modelsDir: undefined,
                verbose: false,
            },
        );
    });

    it('refuses a missing prompt and malformed numbers', () => {
        assert.throws(() => parseChatArgs(['--model', 'x']), /Give a prompt/);
        assert.throws(() => parseChatArgs(['hi', '--max-tokens', 'many']), /--max-tokens needs a whole number/);
        assert.throws(() => parseChatArgs(['hi', '--seed', '1.5']), /--seed needs a whole number/);
        assert.equal(parseChatArgs(['--help']), 'help');
    });
});
