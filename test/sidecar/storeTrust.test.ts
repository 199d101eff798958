/**
 * The models folder as an attacker (or a careless tool) leaves it, met by the real `local-ai models` CLI
 * against a loopback hub: links out of the store are never followed (a decoy folder stays byte-for-byte
 * the same through list, check, cleanup, delete and download), bad manifests and journals are skipped and
 * named instead of breaking the listing, hostile hub file names are refused before anything is written,
 * and a models folder the file system refuses exits with the file-system code, not the network's.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { ModelListResult } from '../../src/common/protocol';
import { runCli, type CliRun } from '../fixtures/cliProcess';
import { startFakeHub, type FakeHub } from '../fixtures/fakeHub/server';
import { treeDigest, treePaths } from '../fixtures/storeTree';

const REPO = 'test/trust-GGUF';
const FILE_A = 'trust-a-Q4_K_M.gguf';
const FILE_B = 'trust-b-Q8_0.gguf';
/** A repository whose folder in the store is a link to the decoy. */
const LINKED_REPO = 'linked/repo';
const LINKED_FILE = 'm-Q4_K_M.gguf';
const HOSTILE_REPO = 'test/hostile-GGUF';
const NEWLINE_NAME = 'evil\nInstalled /etc/passwd-Q4_K_M.gguf';
const ESCAPE_NAME = '\u001b[2J\u001b[31mred-Q8_0.gguf';
const PARTIAL_NAME = 'x-Q5_K_M.gguf.partial';
const LONG_NAME = `${'n'.repeat(300)}-Q4_K_M.gguf`;
const SIZE = 256 * 1024;

/** Any control character but the newline that ends each line the CLI prints. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('the model store never follows links and never trusts its own files (CLI)', function () {
    this.timeout(120_000);
    let hub: FakeHub;
    let dir: string;
    let decoy: string;
    let env: NodeJS.ProcessEnv;
    let linkedData: Buffer;
    let scratch: string[] = [];

    const models = (args: string[]) => runCli(['models', ...args, '--models-dir', dir], env).done;
    const explain = (run: CliRun) => `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
    const inRepo = (file: string) => path.join(dir, ...REPO.split('/'), file);
    const ok = async (args: string[]) => {
        const run = await models(args);
        assert.equal(run.code, 0, explain(run));
        return run;
    };

    beforeEach(async () => {
        dir = mkdtempSync(path.join(tmpdir(), 'local-ai-trust-'));
        decoy = mkdtempSync(path.join(tmpdir(), 'local-ai-decoy-'));
        const home = mkdtempSync(path.join(tmpdir(), 'local-ai-home-'));
        scratch = [dir, decoy, home];
        linkedData = randomBytes(SIZE);
        hub = await startFakeHub({
            files: [
                { repo: REPO, path: FILE_A, data: randomBytes(SIZE) },
                { repo: REPO, path: FILE_B, data: randomBytes(SIZE) },
                { repo: REPO, path: LONG_NAME, data: randomBytes(1024) },
                { repo: LINKED_REPO, path: LINKED_FILE, data: linkedData },
                { repo: HOSTILE_REPO, path: NEWLINE_NAME, data: randomBytes(1024) },
                { repo: HOSTILE_REPO, path: ESCAPE_NAME, data: randomBytes(1024) },
                { repo: HOSTILE_REPO, path: PARTIAL_NAME, data: randomBytes(1024) },
            ],
        });
        env = { HF_ENDPOINT: hub.url, HOME: home, HF_TOKEN: '', LOCAL_AI_MODELS_PATH: '' };
    });

    afterEach(async () => {
        await hub.stop();
        for (const folder of scratch) rmSync(folder, { recursive: true, force: true });
    });

    /**
     * A decoy outside the store that looks like store content (an installed model with its manifest, a
     * partial and its journal), and links to it from inside the store: a folder, a loop, a file, and links
     * carrying the store's own endings.
     */
    function seedLinks(): void {
        mkdirSync(path.join(decoy, 'repo'));
        writeFileSync(path.join(decoy, 'repo', LINKED_FILE), linkedData);
        const manifest = { modelId: `hf:${LINKED_REPO}/${LINKED_FILE}`, repo: LINKED_REPO, file: LINKED_FILE, quant: 'Q4_K_M', sizeBytes: SIZE };
        writeFileSync(path.join(decoy, 'repo', `${LINKED_FILE}.manifest.json`), JSON.stringify({ ...manifest, sha256: sha(linkedData) }));
        writeFileSync(path.join(decoy, 'repo', 'stale-Q4_K_M.gguf.partial'), randomBytes(1000));
        const journal = { repo: LINKED_REPO, revision: 'main', file: 'stale-Q4_K_M.gguf', sizeBytes: 5000, startedAt: new Date(0).toISOString() };
        writeFileSync(path.join(decoy, 'repo', 'stale-Q4_K_M.gguf.partial.json'), JSON.stringify(journal));
        writeFileSync(path.join(decoy, 'orphan.manifest.json'), JSON.stringify({ ...manifest, file: 'orphan-Q4_K_M.gguf' }));
        writeFileSync(path.join(decoy, 'secret.txt'), 'the user keeps this\n');

        symlinkSync(decoy, path.join(dir, 'linked'));
        symlinkSync('../..', inRepo('loop'));
        symlinkSync(path.join(decoy, 'secret.txt'), inRepo('ghost-Q4_K_M.gguf.partial'));
        symlinkSync(path.join(decoy, 'repo', 'stale-Q4_K_M.gguf.partial.json'), inRepo('ghost-Q4_K_M.gguf.partial.json'));
        symlinkSync(path.join(decoy, 'orphan.manifest.json'), inRepo('zombie-Q4_K_M.gguf.manifest.json'));
        symlinkSync(path.join(decoy, 'repo', LINKED_FILE), inRepo('alias-Q4_K_M.gguf'));
    }

    it('links to a decoy folder: list, check, download, delete and cleanup leave it byte-for-byte the same and list nothing twice', async () => {
        await ok(['download', '--model', `hf:${REPO}/${FILE_A}`]);
        seedLinks();
        const before = treeDigest(decoy);
        const links = [path.join(dir, 'linked'), ...['loop', 'ghost-Q4_K_M.gguf.partial', 'zombie-Q4_K_M.gguf.manifest.json', 'alias-Q4_K_M.gguf'].map(inRepo)];

        const listed = await ok(['list', '--json']);
        const result = JSON.parse(listed.stdout) as ModelListResult;
        const ids = result.models.map((model) => model.id);
        assert.deepEqual(ids, [...new Set(ids)], 'a model is listed twice');
        const installed = result.models.filter((model) => model.files.some((file) => file.state === 'installed')).map((model) => model.id);
        assert.deepEqual(installed, [`hf:${REPO}/${FILE_A}`], 'only the real download is installed');
        for (const link of links) assert.ok(listed.stderr.includes(`Skipped ${link}: it is a symbolic link`), `${link} not named:\n${listed.stderr}`);

        const checked = await ok(['check']);
        assert.equal(checked.stdout, `${'ok'.padEnd(10)} hf:${REPO}/${FILE_A} Q4_K_M  ${inRepo(FILE_A)}\n`);

        // Through the linked folder the store would write into (or delete from) the decoy: both are refused.
        const linkedUri = `hf:${LINKED_REPO}/${LINKED_FILE}`;
        for (const action of ['download', 'delete']) {
            const refused = await models([action, '--model', linkedUri]);
            assert.equal(refused.code, 9, explain(refused));
            assert.ok(
                refused.stderr.includes(`local-ai: ${path.join(dir, 'linked')} is a symbolic link; Local AI never follows links inside the models folder`),
                refused.stderr,
            );
        }
        await ok(['download', '--model', `hf:${REPO}/${FILE_B}`]);

        const cleaned = await ok(['cleanup']);
        const removed = ['ghost-Q4_K_M.gguf.partial', 'ghost-Q4_K_M.gguf.partial.json', 'zombie-Q4_K_M.gguf.manifest.json'].map(inRepo);
        assert.deepEqual(
            cleaned.stdout
                .split('\n')
                .filter((line) => line.startsWith('removed '))
                .sort(),
            removed.map((file) => `removed ${file}`).sort(),
        );
        for (const file of removed) assert.equal(lstatSync(file, { throwIfNoEntry: false }), undefined, `${file} kept`);
        assert.ok(lstatSync(path.join(dir, 'linked')).isSymbolicLink(), 'cleanup removed a link to a folder the user may have made');

        const deleted = await ok(['delete', '--model', `hf:${REPO}/${FILE_A}`]);
        assert.equal(deleted.stdout, `deleted ${inRepo(FILE_A)}\ndeleted ${inRepo(FILE_A)}.manifest.json\n`);
        assert.deepEqual(treeDigest(decoy), before, 'the decoy outside the store changed');
    });

    it('bad manifests and journals are skipped and named; download still works, check reports the damaged models, cleanup removes the bookkeeping', async () => {
        await ok(['download', '--model', `hf:${REPO}/${FILE_A}`]);
        const now = new Date(0).toISOString();
        const bad: Record<string, string> = {
            'dotdot-Q4_K_M.gguf.manifest.json': JSON.stringify({ modelId: 'x', repo: '../../..', file: 'etc/passwd', quant: 'Q4_K_M', sizeBytes: 1 }),
            'escape-Q4_K_M.gguf.partial.json': JSON.stringify({
                repo: REPO,
                revision: 'main',
                file: '../../../outside-Q4_K_M.gguf',
                sizeBytes: 10,
                startedAt: now,
            }),
            'types-Q4_K_M.gguf.manifest.json': JSON.stringify({ modelId: 7, repo: REPO, file: 'types-Q4_K_M.gguf', quant: null, sizeBytes: '12' }),
            'moved-Q4_K_M.gguf.manifest.json': JSON.stringify({ modelId: 'm', repo: 'other/place', file: 'moved-Q4_K_M.gguf', quant: 'Q4_K_M', sizeBytes: 5 }),
            'array-Q4_K_M.gguf.partial.json': '[]',
            // These two lie beside their model files: the models are damaged, not just their bookkeeping.
            'scalar-Q4_K_M.gguf.manifest.json': '42',
            'broken-Q4_K_M.gguf.manifest.json': '{"modelId": ',
        };
        for (const [name, text] of Object.entries(bad)) writeFileSync(inRepo(name), text);
        for (const model of ['scalar-Q4_K_M.gguf', 'broken-Q4_K_M.gguf']) writeFileSync(inRepo(model), randomBytes(1000));

        const listed = await ok(['list']);
        assert.match(listed.stdout, new RegExp(`^hf:${REPO}/${FILE_A} +Q4_K_M +installed `, 'm'));
        for (const name of Object.keys(bad)) assert.ok(listed.stderr.includes(`[warn] Skipped ${inRepo(name)}: `), `${name} not named:\n${listed.stderr}`);
        assert.ok(listed.stderr.includes(`Skipped ${inRepo('broken-Q4_K_M.gguf.manifest.json')}: it is not valid JSON.`), listed.stderr);

        const downloaded = await ok(['download', '--model', `hf:${REPO}/${FILE_B}`]);
        assert.equal(downloaded.stdout, `Installed ${inRepo(FILE_B)} (256 KB fetched)\n`);

        const checked = await models(['check']);
        assert.equal(checked.code, 3, explain(checked));
        assert.ok(!checked.stdout.includes('undefined'), checked.stdout);
        for (const model of ['scalar-Q4_K_M.gguf', 'broken-Q4_K_M.gguf']) {
            assert.match(checked.stdout, new RegExp(`^DAMAGED +hf:${REPO}/${model} Q4_K_M  ${inRepo(model)}\n +its manifest cannot be trusted`, 'm'));
        }
        assert.match(checked.stdout, new RegExp(`^ok +hf:${REPO}/${FILE_A} `, 'm'));
        assert.match(checked.stdout, new RegExp(`^ok +hf:${REPO}/${FILE_B} `, 'm'));

        const cleaned = await ok(['cleanup']);
        const bookkeeping = Object.keys(bad).filter((name) => !/^(scalar|broken)-/.test(name));
        assert.deepEqual(
            cleaned.stdout
                .split('\n')
                .filter((line) => line.startsWith('removed '))
                .sort(),
            bookkeeping.map((name) => `removed ${inRepo(name)}`).sort(),
        );
        for (const model of ['scalar-Q4_K_M.gguf', 'broken-Q4_K_M.gguf']) assert.ok(existsSync(inRepo(model)) && existsSync(inRepo(`${model}.manifest.json`)));

        const after = await ok(['list']);
        assert.equal(after.stderr.match(/Skipped /g)?.length, 2, after.stderr);
        assert.match(after.stdout, new RegExp(`^hf:${REPO}/${FILE_B} +Q8_0 +installed `, 'm'));
    });

    it('hub file names with a newline, an escape sequence or a store ending are refused, print no control character and create nothing', async () => {
        const cases = [
            { model: `hf:${HOSTILE_REPO}:Q4_K_M`, name: NEWLINE_NAME, problem: 'it contains control characters' },
            { model: `hf:${HOSTILE_REPO}/${ESCAPE_NAME}`, name: ESCAPE_NAME, problem: 'it contains control characters' },
            { model: `hf:${HOSTILE_REPO}/${PARTIAL_NAME}`, name: PARTIAL_NAME, problem: 'it ends in .partial, which the models folder uses for its own files' },
        ];
        for (const { model, name, problem } of cases) {
            const run = await models(['download', '--model', model]);
            assert.equal(run.code, 2, explain(run));
            const output = run.stdout + run.stderr;
            assert.ok(!RAW_CONTROL.test(output), `raw control character printed: ${JSON.stringify(output)}`);
            assert.ok(!/^Installed/m.test(output), output);
            // biome-ignore lint/suspicious/noControlCharactersInRegex: the printed name has each control character as ?
            const shown = name.replace(/[\u0000-\u001f]/g, '?');
            assert.ok(run.stderr.startsWith('local-ai: Refused the hub file "'), run.stderr);
            assert.ok(run.stderr.includes(`${shown}": ${problem}.`), run.stderr);
            assert.deepEqual(treePaths(dir), [], `${JSON.stringify(name)} left files in the store`);
        }
        assert.equal(hub.requests.filter((request) => request.port === 'cdn').length, 0, 'bytes of a refused file were fetched');
    });

    it('exit 9, not 5: a models folder that is a file, and a name too long for the file system', async () => {
        const longRun = await models(['download', '--model', `hf:${REPO}/${LONG_NAME}`]);
        assert.equal(longRun.code, 9, explain(longRun));
        assert.match(longRun.stderr, /^local-ai: Cannot use .*: the name is too long for the file system\.\n {2}Choose a models folder you can write to/m);

        const file = path.join(dir, 'not-a-folder');
        writeFileSync(file, 'a file where the models folder should be\n');
        for (const args of [['list'], ['download', '--model', `hf:${REPO}/${FILE_A}`]]) {
            const run = await runCli(['models', ...args, '--models-dir', file], env).done;
            assert.equal(run.code, 9, explain(run));
            // One plain line and the hint, from the check every command makes of its folder before it starts.
            const [message, hint, ...rest] = run.stderr.split('\n');
            assert.ok(message.startsWith('local-ai models: ') && message.includes(file) && message.endsWith('a file, not a folder.'), run.stderr);
            assert.equal(hint, '  Choose a models folder you can write to: --models-dir, LOCAL_AI_MODELS_PATH or localAi.modelsPath.');
            assert.deepEqual(rest, ['']);
        }
    });
});
