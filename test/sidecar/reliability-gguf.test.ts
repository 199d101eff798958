/**
 * Reliability: every hostile GGUF file of the corpus is loaded through the REAL sidecar over
 * JSON-RPC, the way the extension asks for a load. Each must come back as a typed error that names
 * the file and the problem, and the sidecar must still answer afterwards: a file that crashes or
 * hangs the process fails its test (and the sidecar is restarted for the next file).
 * Chat templates that try to leave the Jinja sandbox are rendered (the prompt shows it) and run nothing.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { JinjaTemplateChatWrapper, LlamaText } from 'node-llama-cpp';
import { ResponseError } from 'vscode-jsonrpc/node';
import type { ChatResult } from '../../src/common/chat';
import { ErrorCode } from '../../src/common/errors';
import { ChatRequest, LoadModelRequest, SidecarInfoRequest, UnloadModelRequest } from '../../src/common/protocol';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';
import { escapingPayloads, hostileChatTemplate, hostileFiles, templateWitnessCount, writeHostileCorpus, writeTemplateModel } from './reliability-hostileGguf';

/**
 * Files llama.cpp itself rejects with an architecture-specific check (a missing or misshapen
 * tensor, an unknown architecture, a vocabulary that does not match the embedding) after the
 * file's structure passed: a typed LoadFailed naming the file is the honest answer for those.
 */
const rejectedByLlamaCpp = new Set(['engine-unknownArchitecture', 'engine-wrongTensorShape', 'missingTensor', 'tooFewTokens']);

/** Files whose only oddity llama.cpp tolerates: they may load, and must then unload cleanly. */
const mayLoad = new Set(['eosTokenOutOfRange', 'contextLengthHuge']);

/** A load that has not answered by then has hung the sidecar; well above a tiny model's load time. */
const hangLimitMs = 45_000;

type Outcome = { kind: 'loaded' } | { kind: 'error'; error: unknown } | { kind: 'crashed'; how: string } | { kind: 'hung' };

describe('reliability: hostile GGUF files through the real sidecar', function () {
    this.timeout(120_000);
    const dir = fs.mkdtempSync(path.join(tmpdir(), 'local-ai-hostile-'));
    const paths = writeHostileCorpus(dir);
    let sidecar: SidecarProcess;
    let restarts = 0;
    /** Set when a file crashed or hung the sidecar: a hung load would hold up every later one. */
    let broken = false;

    const start = () => startSidecar({ settings: { threads: 1, gpu: 'off', contextSize: 512 } });

    /** The prompt size of "hi" in the generic prompt format (a file without a template), for the template tests to compare with. */
    let genericPromptTokens: number;
    before(async () => {
        sidecar = await start();
        const file = writeTemplateModel(dir, 'noTemplate', '');
        genericPromptTokens = (await askHi(file)).usage.promptTokens;
        await sidecar.connection.sendRequest(UnloadModelRequest.type, {});
    });
    after(async () => {
        await sidecar?.stop();
        fs.rmSync(dir, { recursive: true, force: true });
        console.log(`      hostile corpus: ${Object.keys(paths).length} files, sidecar restarts needed: ${restarts}`);
    });

    /** Replaces a sidecar that a previous file crashed or hung, so each file is judged on its own. */
    afterEach(async () => {
        if (!broken && isRunning(sidecar) && (await answers(sidecar))) return;
        broken = false;
        sidecar.child.kill('SIGKILL');
        await sidecar.stop();
        restarts++;
        sidecar = await start();
    });

    async function load(file: string): Promise<Outcome> {
        const exited = new Promise<Outcome>((resolve) =>
            sidecar.child.once('exit', (code, signal) => resolve({ kind: 'crashed', how: signal ?? `exit ${code}` })),
        );
        let timer: NodeJS.Timeout | undefined;
        const hung = new Promise<Outcome>((resolve) => {
            timer = setTimeout(() => resolve({ kind: 'hung' }), hangLimitMs);
        });
        const answered = sidecar.connection.sendRequest(LoadModelRequest.type, { model: file }).then(
            (): Outcome => ({ kind: 'loaded' }),
            (error: unknown): Outcome => ({ kind: 'error', error }),
        );
        try {
            return await Promise.race([answered, exited, hung]);
        } finally {
            clearTimeout(timer);
        }
    }

    it('holds at least 30 hostile files', () => {
        assert.ok(Object.keys(paths).length >= 30, `only ${Object.keys(paths).length} files`);
    });

    for (const [name, { problem }] of Object.entries(hostileFiles)) {
        it(`${mayLoad.has(name) ? 'loads or refuses' : 'refuses'} ${name} (${problem}) with a typed error and stays up`, async () => {
            const file = paths[name];
            const pid = sidecar.child.pid;
            const outcome = await load(file);
            broken = outcome.kind === 'crashed' || outcome.kind === 'hung';
            assert.notEqual(outcome.kind, 'crashed', `${problem} crashed the sidecar (${outcome.kind === 'crashed' ? outcome.how : ''})`);
            assert.notEqual(outcome.kind, 'hung', `${problem} hung the sidecar: no answer to the load in ${hangLimitMs / 1000} s`);
            if (outcome.kind === 'loaded') {
                assert.ok(mayLoad.has(name), `${problem} was loaded as if it were a valid model`);
                await sidecar.connection.sendRequest(UnloadModelRequest.type, {});
            } else if (outcome.kind === 'error') {
                const error = outcome.error;
                assert.ok(error instanceof ResponseError, `not a ResponseError: ${String(error)}`);
                const expected = rejectedByLlamaCpp.has(name) ? ErrorCode.LoadFailed : ErrorCode.InvalidModelFile;
                assert.equal(error.code, expected, `${ErrorCode[error.code] ?? error.code}: ${error.message}`);
                assert.ok(error.message.includes(path.basename(file)), `the message does not name the file: ${error.message}`);
                assert.ok(error.message.length > path.basename(file).length + 20, `the message does not say what is wrong: ${error.message}`);
            }
            const info = await sidecar.connection.sendRequest(SidecarInfoRequest.type);
            assert.equal(info.pid, pid, 'another process answered');
        });
    }

    /** Sends "hi" to `file`: four tokens, a fixed seed. */
    async function askHi(file: string): Promise<ChatResult> {
        return sidecar.connection.sendRequest(ChatRequest.type, {
            model: file,
            messages: [{ role: 'user', content: 'hi' }],
            options: { maxTokens: 4, seed: 1 },
        });
    }

    for (const [name, payload] of Object.entries(escapingPayloads)) {
        it(`renders a chat template that tries to escape its sandbox, and runs nothing from it (${name})`, async () => {
            const workDir = fs.mkdtempSync(path.join(dir, `${name}-`));
            const marker = path.join(workDir, 'ESCAPE_MARKER');
            const template = hostileChatTemplate(payload.replace(/ESCAPE_MARKER/g, marker));

            // What the template renders to in node-llama-cpp's Jinja: the conversation, and no host object.
            const wrapper = new JinjaTemplateChatWrapper({ template });
            const rendered = LlamaText(
                wrapper.generateContextState({
                    chatHistory: [
                        { type: 'user', text: 'hi' },
                        { type: 'model', response: [] },
                    ],
                }).contextText,
            ).toString();
            assert.match(rendered, /<\|im_start\|>user\nhi<\|im_end\|>/);
            assert.doesNotMatch(rendered, /function|native code|class|object|process|uid=/i, 'the template rendered host data');

            // The sidecar uses that template for the file, and the prompt it sends proves it.
            const file = writeTemplateModel(dir, name, template);
            const logged = sidecar.logs.length;
            const outcome = await load(file);
            broken = outcome.kind === 'crashed' || outcome.kind === 'hung';
            assert.equal(
                outcome.kind,
                'loaded',
                `the template ${outcome.kind === 'error' ? `was refused: ${String(outcome.error)}` : `${outcome.kind} the sidecar`}`,
            );
            const result = await askHi(file);
            await sidecar.connection.sendRequest(UnloadModelRequest.type, {});
            assert.ok(
                result.usage.promptTokens >= genericPromptTokens + templateWitnessCount,
                `the prompt has ${result.usage.promptTokens} tokens, the generic format ${genericPromptTokens}: the file's template was not used`,
            );
            const warnings = sidecar.logs.slice(logged).filter((line) => line.includes('no usable chat template'));
            assert.deepEqual(warnings, [], 'the sidecar fell back to a generic prompt format');
            assert.doesNotMatch(result.text, /uid=|process|\[object/, 'the template produced host data');
            assert.equal(fs.existsSync(marker), false, 'the chat template wrote a file');
        });
    }
});

function isRunning(sidecar: SidecarProcess): boolean {
    return sidecar.child.exitCode === null && sidecar.child.signalCode === null;
}

/** True when the sidecar answers a trivial request soon; a hung one does not. */
async function answers(sidecar: SidecarProcess): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), 5_000);
    });
    try {
        return await Promise.race([
            sidecar.connection.sendRequest(SidecarInfoRequest.type).then(
                () => true,
                () => false,
            ),
            late,
        ]);
    } finally {
        clearTimeout(timer);
    }
}
