/**
 * What node-llama-cpp has to say reaches the user through the product's logger, as plain lines: a GGUF
 * whose chat template fails node-llama-cpp's Jinja sanity test prints one warning on the CLI's stderr,
 * not node-llama-cpp's stack trace, and `local-ai chat --json` names the template the answer used. What
 * node-llama-cpp itself writes with console.* (outside llama.cpp's logger) is forwarded the same way.
 */
import { strict as assert } from 'node:assert';
import { resolveChatWrapper } from 'node-llama-cpp';
import type { ChatResult, EngineInfo } from '../../src/common/chat';
import type { Logger } from '../../src/sidecar/context';
import { forwardNodeLlamaCppConsole } from '../../src/sidecar/llama/runtime';
import { runCli, type CliRun } from '../fixtures/cliProcess';
import { failingChatTemplate, ownChatTemplate } from '../fixtures/gguf/chatTemplates';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';

type ChatLine = { kind: 'start'; engine: EngineInfo } | { kind: 'text'; text: string } | { kind: 'result'; result: ChatResult };

describe('node-llama-cpp output through the logger', function () {
    this.timeout(120_000);
    const explain = (run: CliRun) => `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;

    /** `local-ai chat --json` on `model`: the exit, stderr's lines and the JSON lines. */
    async function chat(model: string): Promise<{ run: CliRun; lines: ChatLine[]; stderrLines: string[] }> {
        const run = await runCli(['chat', 'Hello', '--model', model, '--max-tokens', '4', '--threads', '1', '--json'], { LOCAL_AI_OFFLINE: '1' }).done;
        assert.equal(run.code, 0, explain(run));
        const lines = run.stdout
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line) as ChatLine);
        return { run, lines, stderrLines: run.stderr.split('\n').filter(Boolean) };
    }

    it('says in one plain line that a chat template failed its safety check, and answers with the fallback it names', async () => {
        const model = ensureFixtureModel(defaultFixtureDir(), { ...tinyModel, name: 'failing-template', chatTemplate: failingChatTemplate });
        const { run, lines, stderrLines } = await chat(model);
        assert.deepEqual(
            stderrLines,
            [`[warn] ${model.split('/').at(-1)}: this model's chat template failed a safety check; answering with a generic ChatML template instead.`],
            explain(run),
        );
        const start = lines[0];
        const end = lines.at(-1);
        assert.ok(start.kind === 'start' && end?.kind === 'result', run.stdout);
        assert.equal(start.engine.chatTemplate, 'generic ChatML (fallback)');
        assert.equal(end.result.engine.chatTemplate, 'generic ChatML (fallback)');
    });

    it("names the model's own template when it passes, and prints nothing", async () => {
        const model = ensureFixtureModel(defaultFixtureDir(), { ...tinyModel, name: 'own-template', chatTemplate: ownChatTemplate });
        const { run, lines, stderrLines } = await chat(model);
        assert.deepEqual(stderrLines, [], explain(run));
        const end = lines.at(-1);
        assert.ok(end?.kind === 'result', run.stdout);
        assert.equal(end.result.engine.chatTemplate, "the model's own (Jinja)");
    });

    it("forwards node-llama-cpp's own console lines to the logger as plain lines, and leaves other console output alone", () => {
        const lines: string[] = [];
        const log: Logger = {
            error: (message) => lines.push(`error ${message}`),
            warn: (message) => lines.push(`warn ${message}`),
            info: (message) => lines.push(`info ${message}`),
            debug: (message) => lines.push(`debug ${message}`),
        };
        // What reaches the terminal: console.* ends in process.stderr.write, whichever wrapper is installed.
        let printed = '';
        const write = process.stderr.write;
        process.stderr.write = ((chunk: string | Uint8Array) => {
            printed += String(chunk);
            return true;
        }) as typeof process.stderr.write;
        try {
            forwardNodeLlamaCppConsole(log);
            // Both print through console.* in node-llama-cpp, the second with an Error whose stack it would show.
            resolveChatWrapper({ type: 'jinjaTemplate', bosString: '<s>' });
            resolveChatWrapper({ type: 'jinjaTemplate', customWrapperSettings: { jinjaTemplate: { template: failingChatTemplate } } });
            console.warn('not from node-llama-cpp');
        } finally {
            process.stderr.write = write;
            forwardNodeLlamaCppConsole({ error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined });
        }
        // The failing template is tried twice (as asked, then as the file's own), and each failure is reported.
        const [first, ...failures] = lines;
        assert.equal(first, 'warn node-llama-cpp: Jinja template chat wrapper received no template. Falling back to resolve other chat wrapper types.');
        assert.ok(failures.length > 0, lines.join('\n'));
        for (const line of failures)
            assert.match(line, /^warn node-llama-cpp: Error creating Jinja template chat wrapper\. .*This template refuses every conversation/);
        for (const line of lines) assert.doesNotMatch(line, /\n|\s+at /, 'one line, no stack');
        assert.equal(printed, 'not from node-llama-cpp\n');
    });
});
