/**
 * `local-ai models check --repair` as a user runs it, a real process against a loopback hub: a damaged
 * or missing file is fetched again from the commit its manifest recorded (even after main moved), only
 * that file, and verified; a repair that cannot reach the hub leaves the damaged copy exactly as it was,
 * says so, and exits 5 like any network failure.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { ModelManifest } from '../../src/common/models';
import { runCli, type CliRun } from '../fixtures/cliProcess';
import { startFakeHub, type FakeHub } from '../fixtures/fakeHub/server';

const REPO = 'test/repair-GGUF';
const FILE_A = 'repair-a-Q4_K_M.gguf';
const FILE_B = 'repair-b-Q8_0.gguf';
const SIZE = 2 * 1024 * 1024;

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const explain = (run: CliRun) => `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;

describe('local-ai models check --repair', function () {
    this.timeout(120_000);
    let hub: FakeHub;
    let dir: string;
    let home: string;
    const data: Record<string, Buffer> = {};

    const models = async (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
        runCli(['models', ...args, '--models-dir', dir], { HF_ENDPOINT: hub.url, HOME: home, HF_TOKEN: '', LOCAL_AI_MODELS_PATH: '', ...extraEnv }).done;
    const pathOf = (file: string) => path.join(dir, ...REPO.split('/'), file);
    const manifestOf = (file: string) => JSON.parse(readFileSync(`${pathOf(file)}.manifest.json`, 'utf8')) as ModelManifest;
    const cdnRequests = () => hub.requests.filter((r) => r.port === 'cdn');

    /** Flips one byte in the middle of an installed file: same size, wrong sha256. */
    function flipByte(file: string): Buffer {
        const bytes = readFileSync(pathOf(file));
        bytes[bytes.length >> 1] ^= 0xff;
        writeFileSync(pathOf(file), bytes);
        return bytes;
    }

    beforeEach(async () => {
        dir = mkdtempSync(path.join(tmpdir(), 'local-ai-repair-'));
        home = mkdtempSync(path.join(tmpdir(), 'local-ai-repair-home-'));
        data[FILE_A] = randomBytes(SIZE);
        data[FILE_B] = randomBytes(SIZE);
        hub = await startFakeHub({ files: [FILE_A, FILE_B].map((file) => ({ repo: REPO, path: file, data: data[file] })) });
        for (const file of [FILE_A, FILE_B]) {
            const run = await models(['download', '--model', `hf:${REPO}/${file}`]);
            assert.equal(run.code, 0, explain(run));
        }
    });

    afterEach(async () => {
        await hub.stop();
        rmSync(dir, { recursive: true, force: true });
        rmSync(home, { recursive: true, force: true });
    });

    it('fetches only the damaged file again, from the commit it came from although main moved, and verifies it', async () => {
        const installedAt = manifestOf(FILE_A).commit;
        flipByte(FILE_A);
        hub.publish({ repo: REPO, path: FILE_A, data: randomBytes(SIZE) });
        hub.resetCounters();

        const run = await models(['check', '--repair']);
        assert.equal(run.code, 0, explain(run));
        assert.match(run.stdout, new RegExp(`^REPAIRED .*${FILE_A}\\n +fetched again and verified`, 'm'), explain(run));
        assert.match(run.stdout, new RegExp(`^ok .*${FILE_B}`, 'm'), explain(run));
        assert.equal(sha(readFileSync(pathOf(FILE_A))), sha(data[FILE_A]), 'the file holds the bytes of its own commit again');
        assert.equal(manifestOf(FILE_A).commit, installedAt);
        assert.ok(cdnRequests().length > 0);
        for (const r of cdnRequests()) assert.equal(r.url, `/${REPO}/${FILE_A}`, 'only the damaged file was fetched');
        assert.equal(hub.bytesServed(FILE_A), SIZE);
        const resolves = hub.requests.filter((r) => r.url.includes('/resolve/'));
        for (const r of resolves) assert.equal(r.url, `/${REPO}/resolve/${installedAt}/${FILE_A}`);

        const again = await models(['check']);
        assert.equal(again.code, 0, explain(again));
    });

    it('check MODEL --repair fetches a missing file of that model only', async () => {
        rmSync(pathOf(FILE_B));
        flipByte(FILE_A);
        hub.resetCounters();

        const run = await models(['check', `hf:${REPO}/${FILE_B}`, '--repair']);
        assert.equal(run.code, 0, explain(run));
        assert.match(run.stdout, new RegExp(`^REPAIRED .*${FILE_B}`, 'm'), explain(run));
        assert.doesNotMatch(run.stdout, new RegExp(FILE_A), 'the other model was not checked');
        assert.equal(sha(readFileSync(pathOf(FILE_B))), sha(data[FILE_B]));
        for (const r of cdnRequests()) assert.equal(r.url, `/${REPO}/${FILE_B}`);
    });

    it('with the hub down, leaves the damaged copy as it was, says so, and exits 5', async () => {
        const damaged = flipByte(FILE_A);
        const down = await startFakeHub({ files: [] });
        const deadEndpoint = down.url;
        await down.stop();

        const run = await models(['check', '--repair'], { HF_ENDPOINT: deadEndpoint });
        assert.equal(run.code, 5, explain(run));
        assert.match(
            run.stdout,
            new RegExp(`^DAMAGED .*${FILE_A}\\n.*the repair failed, the file was left as it was: Could not reach the hub`, 'm'),
            explain(run),
        );
        assert.deepEqual(readFileSync(pathOf(FILE_A)), damaged, 'the damaged copy is unchanged');
        assert.equal(manifestOf(FILE_A).sha256, sha(data[FILE_A]), 'the manifest still names the right bytes');
    });
});
