/**
 * What makes code completion fast, through the REAL sidecar on a generated FIM model: a keystroke after a
 * request at a ~1,500-token prefix evaluates only the prompt's last tokens (the completion sequence's KV
 * cache), $/cancelRequest stops generation in llama.cpp, and typing through a suggestion is answered from
 * the cache of recent completions without a model call.
 */
import * as assert from 'node:assert/strict';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { CompleteRequest, type CompletionParams, type CompletionResult } from '../../src/common/completion';
import { waitFor } from '../fixtures/cliProcess';
import { defaultFixtureDir, ensureFixtureModel, tinyCoderModel } from '../fixtures/gguf/model';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';

/** About 1,500 tokens of code before the cursor's line. */
function longPrefix(): string {
    const lines: string[] = [];
    for (let i = 0; lines.join('\n').length < 4_500; i++) lines.push(`    const value${i} = compute(${i}, "item ${i}");`);
    return `function main() {\n${lines.join('\n')}\n`;
}

describe('fast code completion through the sidecar', function () {
    this.timeout(300_000);
    const coderPath = ensureFixtureModel(defaultFixtureDir(), tinyCoderModel);
    let sidecar: SidecarProcess;

    before(async () => {
        sidecar = await startSidecar({ settings: { threads: 1, gpu: 'off' } });
    });
    after(async () => {
        await sidecar?.stop();
    });

    const complete = (params: Omit<CompletionParams, 'model'>, cancel?: CancellationTokenSource): Promise<CompletionResult> => {
        const request = { model: coderPath, timeoutMs: 120_000, seed: 1, ...params };
        return (
            cancel
                ? sidecar.connection.sendRequest(CompleteRequest.method, request, cancel.token)
                : sidecar.connection.sendRequest(CompleteRequest.method, request)
        ) as Promise<CompletionResult>;
    };

    it('evaluates only the last tokens when one character is typed after a request at a ~1,500-token prefix', async () => {
        const head = longPrefix();
        // The editor's window: tens of lines after the cursor, which a keystroke must not evaluate again.
        const suffix = `\n${Array.from({ length: 30 }, (_, i) => `    check(value${i});`).join('\n')}\n    return value0;\n}\n`;
        const first = await complete({ prefix: `${head}    const total = sum`, suffix, maxTokens: 4 });
        assert.ok(first.usage.promptTokens >= 1_400, `prompt of ${first.usage.promptTokens} tokens`);
        assert.equal(first.usage.evaluatedTokens, first.usage.promptTokens);
        // A character the suggestion did not start with, so the model answers again.
        const typed = first.text.startsWith('(') ? '[' : '(';
        const second = await complete({ prefix: `${head}    const total = sum${typed}`, suffix, maxTokens: 4 });
        assert.equal(second.fromCache, false);
        assert.ok(second.usage.promptTokens > first.usage.promptTokens - 2);
        assert.ok(second.usage.evaluatedTokens <= 16, `${second.usage.evaluatedTokens} of ${second.usage.promptTokens} tokens evaluated`);
    });

    it('stops generating in llama.cpp when the request is cancelled', async () => {
        const started = sidecar.logs.length;
        const cancel = new CancellationTokenSource();
        const pending = complete({ prefix: 'let answer = ', suffix: '', maxTokens: 3_000 }, cancel);
        // The first token is logged once generation runs; then the keystroke that cancels it.
        const generating = () => sidecar.logs.slice(started).some((line) => line.includes('Completion: first token'));
        await waitFor(generating, 120_000);
        cancel.cancel();
        const result = await pending;
        assert.equal(result.finishReason, 'cancelled');
        assert.ok(result.usage.completionTokens < 1_500, `${result.usage.completionTokens} tokens generated after the cancel`);
        // The sequence is free again: the next keystroke's request is answered.
        const next = await complete({ prefix: 'let answer = 4', suffix: '', maxTokens: 2 });
        assert.equal(next.usage.completionTokens, 2);
    });

    it('answers from the cache, without a model call, while the user types through a suggestion', async () => {
        const prefix = 'def greet(name):\n    return ';
        const suffix = '\n';
        const first = await complete({ prefix, suffix, maxTokens: 8 });
        assert.equal(first.fromCache, false);
        assert.ok(first.text.length >= 2, first.text);
        const typed = first.text.slice(0, 2);
        const second = await complete({ prefix: prefix + typed, suffix, maxTokens: 8 });
        assert.equal(second.fromCache, true);
        assert.equal(second.text, first.text.slice(2));
        assert.equal(second.usage.evaluatedTokens, 0);
        assert.equal(second.engine.model, coderPath);
        // A character the suggestion does not have asks the model again.
        const third = await complete({ prefix: `${prefix}\u00a7`, suffix, maxTokens: 8 });
        assert.equal(third.fromCache, false);
        assert.ok(third.usage.evaluatedTokens > 0);
    });
});
