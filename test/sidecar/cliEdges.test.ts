/**
 * The `local-ai` CLI at the edges a script meets, each command a real process: a reader that closes
 * the pipe early (`| head -1`) ends it quietly with exit 0, and a models folder the file system refuses
 * (a file, a path through a file, a name too long) exits 9 with one plain message, not 5 (the network)
 * and not a raw stack.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runCli, type CliRun } from '../fixtures/cliProcess';
import { startFakeHub, type FakeHub } from '../fixtures/fakeHub/server';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { repoRoot } from '../fixtures/sidecarProcess';

const REPO = 'test/edges-GGUF';
const FILE = 'edges-Q4_K_M.gguf';
/** Longer than any file system takes for one name (255 bytes on ext4, APFS and NTFS). */
const LONG_FILE = `${'n'.repeat(300)}-Q4_K_M.gguf`;

/** No stack frame, no raw error class: what a user should never read. */
const RAW = /^\s+at |Error: |errno|syscall/m;

describe('local-ai at the edges: closed pipes and file-system faults', function () {
    this.timeout(120_000);
    let home: string;
    let env: NodeJS.ProcessEnv;
    const explain = (run: CliRun) => `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;

    beforeEach(() => {
        home = mkdtempSync(path.join(tmpdir(), 'local-ai-edges-'));
        env = { HOME: home, HF_TOKEN: '', LOCAL_AI_MODELS_PATH: path.join(home, 'models'), LOCAL_AI_OFFLINE: '1' };
    });
    afterEach(() => rmSync(home, { recursive: true, force: true }));

    /**
     * Runs `local-ai <args>` with a stdout whose reader is gone before the first byte: the read end
     * of the real pipe is closed at once, as `| head -1` closes it once it has its line.
     */
    async function withClosedStdout(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
        const child = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'cli.mjs'), ...args], {
            env: { ...process.env, ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        child.stdout.destroy();
        let stderr = '';
        child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
        const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
        return { code, signal, stderr };
    }

    it('ends quietly with exit 0 when the reader of `models list` closes the pipe', async () => {
        const run = await withClosedStdout(['models', 'list']);
        assert.deepEqual(run, { code: 0, signal: null, stderr: '' });
    });

    it('ends quietly with exit 0 when the reader of a streamed `chat` closes the pipe', async () => {
        const model = ensureFixtureModel(defaultFixtureDir(), tinyModel);
        const run = await withClosedStdout(['chat', 'Hello', '--model', model, '--max-tokens', '8', '--threads', '1', '--json']);
        assert.deepEqual(run, { code: 0, signal: null, stderr: '' });
    });

    it('refuses a models folder that is a file: exit 9 and one plain message, for every command that reads it', async () => {
        const file = path.join(home, 'not-a-folder');
        writeFileSync(file, 'x');
        const runs = await Promise.all([
            runCli(['models', 'list', '--models-dir', file], env).done,
            runCli(['models', 'download', '--model', `hf:${REPO}/${FILE}`, '--models-dir', file], env).done,
            runCli(['chat', 'Hello', '--models-dir', file], env).done,
        ]);
        for (const [run, command] of [
            [runs[0], 'models'],
            [runs[1], 'models'],
            [runs[2], 'chat'],
        ] as const) {
            assert.equal(run.code, 9, explain(run));
            assert.equal(run.stderr.split('\n')[0], `local-ai ${command}: The models folder ${file} is a file, not a folder.`, explain(run));
            assert.doesNotMatch(run.stderr, RAW, explain(run));
        }
    });

    describe('downloads the file system refuses', () => {
        let hub: FakeHub;
        beforeEach(async () => {
            hub = await startFakeHub({
                files: [
                    { repo: REPO, path: FILE, data: Buffer.alloc(64 * 1024, 7) },
                    { repo: REPO, path: LONG_FILE, data: Buffer.alloc(64 * 1024, 7) },
                ],
            });
            env = { ...env, HF_ENDPOINT: hub.url, LOCAL_AI_OFFLINE: '' };
        });
        afterEach(() => hub.stop());

        it('exits 9, not 5, when a file stands where the download needs a folder', async () => {
            const models = path.join(home, 'models');
            // The store keeps hub files under <owner>/<repo>/: a file named like the owner blocks the path.
            const owner = path.join(models, REPO.split('/')[0]);
            mkdirSync(models, { recursive: true });
            writeFileSync(owner, 'in the way');
            const run = await runCli(['models', 'download', '--model', `hf:${REPO}/${FILE}`, '--models-dir', models], env).done;
            assert.equal(run.code, 9, explain(run));
            assert.match(run.stderr, /a part of the path is a file, not a folder|a file is in the way/, explain(run));
            assert.doesNotMatch(run.stderr, RAW, explain(run));
        });

        it('exits 9, not 5, when the hub names a file too long for the file system', async () => {
            const run = await runCli(['models', 'download', '--model', `hf:${REPO}/${LONG_FILE}`], env).done;
            assert.equal(run.code, 9, explain(run));
            assert.match(run.stderr, /the name is too long for the file system/, explain(run));
            assert.doesNotMatch(run.stderr, RAW, explain(run));
        });
    });
});
