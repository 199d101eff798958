/**
 * What node-llama-cpp has to say reaches the user through the product's logger, as plain lines: a GGUF
 * whose chat template fails node-llama-cpp's Jinja sanity test prints one warning on the CLI's stderr,
 * not node-llama-cpp's stack trace, and `local-ai chat --json` names the template the answer used.
 */
import { strict as assert } from 'node:assert';
import type { ChatResult, EngineInfo } from '../../src/common/chat';
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
});
