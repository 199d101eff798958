/**
 * The `local-ai models` CLI as a script meets it, each command a real process against a loopback hub
 * and a real models folder: `list` shows what is installed and what is half fetched, `cleanup` deletes
 * partials nothing uses but spares one another process is downloading, `delete` removes a model's
 * files and names a model it does not know, and a disk too small for a download exits 7.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { ModelListResult } from '../../src/common/protocol';
import { formatBytes } from '../../src/common/format';
import { runCli, sizeOf, waitFor, type CliRun } from '../fixtures/cliProcess';
import { startFakeHub, type FakeHub } from '../fixtures/fakeHub/server';

const REPO = 'test/cli-GGUF';
const FILE_A = 'cli-a-Q4_K_M.gguf';
const FILE_B = 'cli-b-Q8_0.gguf';
const URI_A = `hf:${REPO}/${FILE_A}`;
const URI_B = `hf:${REPO}/${FILE_B}`;
const SIZE = 4 * 1024 * 1024;
const STALL_AT = 1024 * 1024;

/** A file larger than the disk holding the models has free; sparse, so it takes no space itself. */
const HUGE_REPO = 'test/huge-GGUF';
const HUGE_FILE = 'huge-Q4_K_M.gguf';

describe('local-ai models list, cleanup and delete', function () {
    this.timeout(120_000);
    let hub: FakeHub;
    let dir: string;
    let env: NodeJS.ProcessEnv;
    /** Folders this test made, removed after it. */
    let scratch: string[] = [];

    /** `local-ai models <args> --models-dir <dir>`. */
    const models = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => runCli(['models', ...args, '--models-dir', dir], { ...env, ...extraEnv });
    const explain = (run: CliRun) => `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
    const pathOf = (file: string) => path.join(dir, ...REPO.split('/'), file);

    beforeEach(async () => {
        dir = mkdtempSync(path.join(tmpdir(), 'local-ai-cli-'));
        const hubFolder = mkdtempSync(path.join(tmpdir(), 'local-ai-cli-hub-'));
        const home = mkdtempSync(path.join(tmpdir(), 'local-ai-home-'));
        scratch = [dir, hubFolder, home];
        const hugeFile = path.join(hubFolder, HUGE_FILE);
        const fd = openSync(hugeFile, 'w');
        const disk = statfsSync(dir);
        ftruncateSync(fd, disk.bavail * disk.bsize + 2 ** 40);
        closeSync(fd);
        hub = await startFakeHub({
            files: [
                { repo: REPO, path: FILE_A, data: randomBytes(SIZE) },
                { repo: REPO, path: FILE_B, data: randomBytes(SIZE) },
                // The hash of a terabyte of zeros is never needed: nothing may be fetched.
                { repo: HUGE_REPO, path: HUGE_FILE, filePath: hugeFile, sha256: 'a'.repeat(64) },
            ],
        });
        env = { HF_ENDPOINT: hub.url, HOME: home, HF_TOKEN: '', LOCAL_AI_MODELS_PATH: '' };
    });

    afterEach(async () => {
        await hub.stop();
        for (const folder of scratch) rmSync(folder, { recursive: true, force: true });
    });

    /** Starts a download the hub holds at STALL_AT bytes; resolves once those bytes are in the partial. */
    async function stalledDownload(uri: string, file: string): Promise<ReturnType<typeof runCli>> {
        hub.addFault({ kind: 'stall', afterBytes: STALL_AT, path: file });
        const stalled = once(hub.events, 'stalled');
        const run = models(['download', '--model', uri]);
        await stalled;
        await waitFor(() => sizeOf(`${pathOf(file)}.partial`) === STALL_AT);
        return run;
    }

    /** A partial left by a download whose process was killed: nothing uses it any more. */
    async function abandonedPartial(uri: string, file: string): Promise<void> {
        const run = await stalledDownload(uri, file);
        run.child.kill('SIGKILL');
        assert.equal((await run.done).signal, 'SIGKILL');
    }

    it('list shows an installed model with its path and a half-fetched one as partial, in text and JSON', async () => {
        const installed = await models(['download', '--model', URI_A]).done;
        assert.equal(installed.code, 0, explain(installed));
        await abandonedPartial(URI_B, FILE_B);

        const listed = await models(['list']).done;
        assert.equal(listed.code, 0, explain(listed));
        const rows = listed.stdout.split('\n');
        assert.match(rows[0], /^MODEL +QUANT +STATE +SIZE +FIT +PATH$/);
        const rowA = rows.find((row) => row.startsWith(`${URI_A} `));
        const rowB = rows.find((row) => row.startsWith(`${URI_B} `));
        assert.match(rowA ?? '', new RegExp(`^\\S+ +Q4_K_M +installed +${escapeRegExp(formatBytes(SIZE))} .*${escapeRegExp(pathOf(FILE_A))}$`), listed.stdout);
        assert.match(rowB ?? '', new RegExp(`^\\S+ +Q8_0 +partial ${escapeRegExp(formatBytes(STALL_AT))} +${escapeRegExp(formatBytes(SIZE))}`), listed.stdout);
        // The catalog is listed beside what is on disk, not installed.
        assert.match(listed.stdout, /^qwen2\.5-coder-7b-instruct +Q4_K_M +available /m);
        assert.ok(listed.stdout.includes(`Models folder: ${dir}\n`), listed.stdout);

        const json = await models(['list', '--json']).done;
        assert.equal(json.code, 0, explain(json));
        const result = JSON.parse(json.stdout) as ModelListResult;
        const fileOf = (id: string) => result.models.find((model) => model.id === id)?.files[0];
        assert.equal(fileOf(URI_A)?.state, 'installed');
        assert.equal(fileOf(URI_A)?.path, pathOf(FILE_A));
        assert.equal(fileOf(URI_B)?.state, 'partial');
        assert.equal(fileOf(URI_B)?.partialBytes, STALL_AT);
        assert.equal(result.modelsPath, dir);
    });

    it('cleanup deletes a partial nothing uses and spares one another process is still downloading', async () => {
        await abandonedPartial(URI_A, FILE_A);
        const running = await stalledDownload(URI_B, FILE_B);
        try {
            const cleaned = await models(['cleanup']).done;
            assert.equal(cleaned.code, 0, explain(cleaned));
            assert.equal(sizeOf(`${pathOf(FILE_B)}.partial`), STALL_AT, 'the partial of the running download was deleted');
            assert.equal(sizeOf(`${pathOf(FILE_A)}.partial`), -1, 'the abandoned partial is still there');
            assert.equal(sizeOf(`${pathOf(FILE_A)}.partial.json`), -1, "the abandoned partial's journal is still there");
            assert.ok(cleaned.stdout.includes(`removed ${pathOf(FILE_A)}.partial\n`), cleaned.stdout);
            // The journal adds a few hundred bytes to the partial's, below the figure's precision.
            assert.match(cleaned.stdout, new RegExp(`^Freed ${escapeRegExp(formatBytes(STALL_AT))}\\.$`, 'm'));
            assert.ok(existsSync(`${pathOf(FILE_B)}.partial.json`), 'the journal of the running download was deleted');
            assert.ok(!cleaned.stdout.includes(FILE_B), cleaned.stdout);
        } finally {
            running.child.kill('SIGINT');
        }
        const ended = await running.done;
        assert.equal(ended.code, 130, JSON.stringify({ signal: ended.signal, stderr: ended.stderr.slice(-2000), stdout: ended.stdout.slice(-500) }));

        // Once that download stopped, nothing uses its partial any more.
        const again = await models(['cleanup']).done;
        assert.equal(again.code, 0, explain(again));
        assert.ok(again.stdout.includes(`removed ${pathOf(FILE_B)}.partial\n`), again.stdout);
        assert.deepEqual(readdirSync(dir), [], 'cleanup left files or emptied folders behind');
    });

    it('delete removes the model and its manifest; an unknown model exits 4 and says so', async () => {
        const installed = await models(['download', '--model', URI_A]).done;
        assert.equal(installed.code, 0, explain(installed));

        const deleted = await models(['delete', '--model', URI_A]).done;
        assert.equal(deleted.code, 0, explain(deleted));
        assert.equal(deleted.stdout, `deleted ${pathOf(FILE_A)}\ndeleted ${pathOf(FILE_A)}.manifest.json\n`);
        assert.equal(existsSync(pathOf(FILE_A)), false, 'the model file is still there');
        const listed = JSON.parse((await models(['list', '--json']).done).stdout) as ModelListResult;
        assert.ok(!listed.models.some((model) => model.files.some((file) => file.state === 'installed')), 'a deleted model is still listed as installed');

        const twice = await models(['delete', '--model', URI_A]).done;
        assert.equal(twice.code, 0, explain(twice));
        assert.equal(twice.stdout, 'Nothing to delete.\n');

        const unknown = await models(['delete', '--model', 'no-such-model']).done;
        assert.equal(unknown.code, 4, explain(unknown));
        assert.equal(unknown.stderr, 'local-ai: "no-such-model" is not a catalog id, a hf: URI or an absolute path to a .gguf file.\n');
        const usage = await models(['delete']).done;
        assert.equal(usage.code, 2, explain(usage));
        assert.match(usage.stderr, /^local-ai models: delete needs --model\.$/m);
    });

    it('exit 7: a download larger than the free disk space is refused before any byte is fetched', async () => {
        const run = await models(['download', '--model', `hf:${HUGE_REPO}/${HUGE_FILE}`]).done;
        assert.equal(run.code, 7, explain(run));
        const folder = path.join(dir, ...HUGE_REPO.split('/'));
        assert.match(
            run.stderr,
            new RegExp(`^local-ai: Not enough disk space: the download needs [\\d.]+ GB more, [\\d.]+ GB is free in ${escapeRegExp(folder)}\\.$`, 'm'),
        );
        assert.match(run.stderr, /Free some space or choose another models folder/);
        assert.equal(hub.requests.filter((request) => request.port === 'cdn').length, 0, 'bytes were fetched for a download that cannot fit');
        assert.equal(existsSync(path.join(folder, `${HUGE_FILE}.partial`)), false);
    });
});

function escapeRegExp(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
