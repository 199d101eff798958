/**
 * Downloads through real processes: the `local-ai models` CLI killed with SIGKILL mid-download and run
 * again, its exit codes, and the real sidecar over JSON-RPC (progress, cancel, resume, list state).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCode } from '../../src/common/errors';
import type { DownloadProgress } from '../../src/common/models';
import {
    CancelDownloadRequest,
    CheckModelsRequest,
    DownloadProgressType,
    DownloadRequest,
    ModelListRequest,
    ModelsChangedNotification,
} from '../../src/common/protocol';
import { runCli, sizeOf, waitFor } from '../fixtures/cliProcess';
import { startFakeHub, type FakeHub } from '../fixtures/fakeHub/server';
import { repoRoot, startSidecar } from '../fixtures/sidecarProcess';

const REPO = 'test/process-GGUF';
const FILE = 'process-Q4_K_M.gguf';
const URI = `hf:${REPO}/${FILE}`;
const SIZE = 8 * 1024 * 1024;
const STALL_AT = 2 * 1024 * 1024;

/** The catalog's largest model. */
const BIG_MODEL = 'qwen2.5-coder-32b-instruct';
const BIG_REPO = 'bartowski/Qwen2.5-Coder-32B-Instruct-GGUF';
const BIG_FILE = 'Qwen2.5-Coder-32B-Instruct-Q4_K_M.gguf';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** `local-ai models <args>`. */
const cli = (args: string[], env: NodeJS.ProcessEnv) => runCli(['models', ...args], env);

describe('downloads through real processes', function () {
    this.timeout(120_000);
    let hub: FakeHub;
    let data: Buffer;
    let dir: string;
    let env: NodeJS.ProcessEnv;

    beforeEach(async () => {
        data = randomBytes(SIZE);
        hub = await startFakeHub({
            files: [
                { repo: REPO, path: FILE, data },
                { repo: 'test/gated-GGUF', path: 'gated-Q4_K_M.gguf', data: randomBytes(1024), gatedToken: 'hf_ok' },
                // Served small: only the catalog's facts (a 20 GB file) decide whether it fits.
                { repo: BIG_REPO, path: BIG_FILE, data: randomBytes(1024) },
            ],
        });
        dir = mkdtempSync(path.join(tmpdir(), 'local-ai-proc-'));
        const home = mkdtempSync(path.join(tmpdir(), 'local-ai-home-'));
        env = { HF_ENDPOINT: hub.url, HOME: home, HF_TOKEN: '', LOCAL_AI_MODELS_PATH: '' };
    });

    afterEach(async () => {
        await hub.stop();
    });

    /** Starts a CLI download the hub holds at STALL_AT bytes; resolves once those bytes are in the partial. */
    async function stalledDownload(): Promise<{ run: ReturnType<typeof cli>; partial: string }> {
        hub.addFault({ kind: 'stall', afterBytes: STALL_AT });
        const stalled = once(hub.events, 'stalled');
        const run = cli(['download', '--model', URI, '--models-dir', dir], env);
        await stalled;
        const partial = path.join(dir, REPO, `${FILE}.partial`);
        await waitFor(() => sizeOf(partial) === STALL_AT);
        return { run, partial };
    }

    it('the CLI resumes after being killed with SIGKILL mid-download, fetching only the missing bytes', async () => {
        const { run: first } = await stalledDownload();
        first.child.kill('SIGKILL');
        assert.equal((await first.done).signal, 'SIGKILL');
        assert.equal(existsSync(path.join(dir, REPO, FILE)), false, 'nothing installed by the killed process');

        hub.resetCounters();
        const second = await cli(['download', '--model', URI, '--models-dir', dir], env).done;
        assert.equal(second.code, 0, second.stderr);
        assert.match(second.stdout, /Installed/);
        const cdn = hub.requests.filter((r) => r.port === 'cdn');
        assert.deepEqual(
            cdn.map((r) => r.range),
            [`bytes=${STALL_AT}-`],
        );
        assert.equal(hub.bytesServed(), SIZE - STALL_AT, 'only the missing bytes were fetched');
        assert.equal(sha(readFileSync(path.join(dir, REPO, FILE))), sha(data));

        const check = await cli(['check', '--models-dir', dir, '--json'], env).done;
        assert.equal(check.code, 0, check.stderr);
        assert.deepEqual(
            (JSON.parse(check.stdout) as { results: { ok: boolean }[] }).results.map((r) => r.ok),
            [true],
        );
    });

    it('the CLI downloads over HTTPS, the bytes read from the TLS socket into its slabs, trusting the hub through NODE_EXTRA_CA_CERTS', async () => {
        // The real Hub and its CDN speak HTTPS only: the socket path (socketResponse.ts) must too.
        const certs = mkdtempSync(path.join(tmpdir(), 'local-ai-tls-'));
        const key = path.join(certs, 'key.pem');
        const cert = path.join(certs, 'cert.pem');
        const subject = ['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'];
        const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', ...subject]);
        assert.equal(made.status, 0, String(made.stderr));
        const secure = await startFakeHub({ files: [{ repo: REPO, path: FILE, data }], tls: { key: readFileSync(key), cert: readFileSync(cert) } });
        try {
            assert.match(secure.cdnUrl, /^https:/);
            const run = await cli(['download', '--model', URI, '--models-dir', dir], { ...env, HF_ENDPOINT: secure.url, NODE_EXTRA_CA_CERTS: cert }).done;
            assert.equal(run.code, 0, run.stderr);
            assert.match(run.stdout, /Installed/);
            assert.equal(sha(readFileSync(path.join(dir, REPO, FILE))), sha(data));
            assert.equal(secure.bytesServed(), SIZE, 'the file came from the HTTPS CDN, once');
            // Without the certificate trusted, the download refuses rather than fetching unverified bytes.
            const untrusted = await cli(['download', '--model', URI, '--models-dir', mkdtempSync(path.join(tmpdir(), 'local-ai-proc-'))], {
                ...env,
                HF_ENDPOINT: secure.url,
            }).done;
            assert.notEqual(untrusted.code, 0, untrusted.stdout);
            assert.match(untrusted.stderr, /certificate/i);
        } finally {
            await secure.stop();
        }
    });

    it('the CLI interrupted with Ctrl+C exits 130, keeps the partial and installs nothing', async () => {
        const { run, partial } = await stalledDownload();
        run.child.kill('SIGINT');
        const interrupted = await run.done;
        assert.equal(interrupted.code, 130, `stdout: ${interrupted.stdout}\nstderr: ${interrupted.stderr}`);
        assert.equal(sizeOf(partial), STALL_AT, 'the partial was not kept');
        assert.equal(existsSync(path.join(dir, REPO, FILE)), false, 'an interrupted download was installed');
    });

    it('check says "unverified" for a file it could only measure, "ok" once the hub\'s sha256 confirms it', async () => {
        const downloaded = await cli(['download', '--model', URI, '--models-dir', dir], env).done;
        assert.equal(downloaded.code, 0, downloaded.stderr);
        // As a file whose hash was never recorded (a hub that gave none): offline, nothing can vouch for its bytes.
        const manifestPath = path.join(dir, REPO, `${FILE}.manifest.json`);
        const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { sha256?: string };
        assert.ok(manifest.sha256, 'the download recorded no sha256');
        delete manifest.sha256;
        writeFileSync(manifestPath, JSON.stringify(manifest));
        const offline = await cli(['check', '--models-dir', dir], { ...env, LOCAL_AI_OFFLINE: '1' }).done;
        assert.equal(offline.code, 0, offline.stderr);
        assert.match(offline.stdout, /^unverified +hf:test\/process-GGUF\/process-Q4_K_M\.gguf Q4_K_M .*\n +the size matches; no sha256 is known/m);
        assert.doesNotMatch(offline.stdout, /^ok /m);
        const online = await cli(['check', '--models-dir', dir, '--json'], env).done;
        assert.deepEqual(
            (JSON.parse(online.stdout) as { results: { ok: boolean; verified: boolean }[] }).results.map((r) => [r.ok, r.verified]),
            [[true, true]],
        );
    });

    it('the CLI exit codes say what went wrong', async () => {
        const gated = await cli(['download', '--model', 'hf:test/gated-GGUF:Q4_K_M', '--models-dir', dir], env).done;
        assert.equal(gated.code, 6, gated.stderr);
        assert.match(gated.stderr, /licence/);
        assert.ok(gated.stderr.includes(`${hub.url}/test/gated-GGUF`), 'prints the licence URL');

        const withToken = await cli(['download', '--model', 'hf:test/gated-GGUF:Q4_K_M', '--models-dir', dir], { ...env, HF_TOKEN: 'hf_ok' }).done;
        assert.equal(withToken.code, 0, withToken.stderr);

        const missing = await cli(['download', '--model', `hf:${REPO}:Q8_0`, '--models-dir', dir], env).done;
        assert.equal(missing.code, 4, `stdout: ${missing.stdout}\nstderr: ${missing.stderr}`);
        assert.match(missing.stderr, /has no Q8_0/);

        hub.addFault({ kind: 'corrupt' });
        const corrupt = await cli(['download', '--model', URI, '--models-dir', dir], env).done;
        assert.equal(corrupt.code, 3, corrupt.stderr);
        assert.equal(existsSync(path.join(dir, REPO, FILE)), false);

        // A 20 GB catalog model on a 4 GB laptop: refused with exit 8, then downloaded when forced.
        const big = { ...env, LOCAL_AI_HARDWARE_PROFILE: path.join(repoRoot(), 'test', 'fixtures', 'hardware', 'laptop-4gb-cpu.json') };
        const tooBig = await cli(['download', '--model', BIG_MODEL, '--quant', 'Q4_K_M', '--models-dir', dir], big).done;
        assert.equal(tooBig.code, 8, `stdout: ${tooBig.stdout}\nstderr: ${tooBig.stderr}`);
        assert.match(tooBig.stderr, /does not fit this machine/);
        assert.equal(
            hub.requests.some((r) => r.port === 'cdn' && r.url.includes(BIG_FILE)),
            false,
            'the refused model was fetched',
        );
        const forced = await cli(['download', '--model', BIG_MODEL, '--quant', 'Q4_K_M', '--force', '--models-dir', dir], big).done;
        assert.equal(forced.code, 0, forced.stderr);
        assert.match(forced.stdout, /Installed/);
        assert.ok(existsSync(path.join(dir, BIG_REPO, BIG_FILE)));

        const offline = await cli(['download', '--model', URI, '--models-dir', dir], { ...env, LOCAL_AI_OFFLINE: '1' }).done;
        assert.equal(offline.code, 5, offline.stderr);
        assert.equal(await cli(['frobnicate'], env).done.then((r) => r.code), 2);
    });

    it('the real sidecar streams progress, cancels keeping the partial, lists it, and resumes', async () => {
        const sidecar = await startSidecar({ settings: { hubEndpoint: hub.url }, modelsPath: dir, env });
        try {
            const { connection } = sidecar;
            let changes = 0;
            connection.onNotification(ModelsChangedNotification.type, () => changes++);
            hub.addFault({ kind: 'stall', afterBytes: STALL_AT });
            const stalled = once(hub.events, 'stalled');
            const firstProgress: DownloadProgress[] = [];
            connection.onProgress(DownloadProgressType, 'first', (p) => firstProgress.push(p));
            const first = connection.sendRequest(DownloadRequest.type, { model: URI, partialResultToken: 'first' });
            const firstOutcome = first.then(
                () => assert.fail('the cancelled download resolved'),
                (error: unknown) => error,
            );
            await stalled;
            const partial = path.join(dir, REPO, `${FILE}.partial`);
            await waitFor(() => sizeOf(partial) === STALL_AT);
            assert.deepEqual(await connection.sendRequest(CancelDownloadRequest.type, { model: URI }), { cancelled: true });
            const error = await firstOutcome;
            assert.ok(error instanceof ResponseError);
            assert.equal(error.code, ErrorCode.Cancelled);
            assert.ok(firstProgress.some((p) => p.state === 'downloading'));
            assert.equal(sizeOf(partial), STALL_AT, 'the partial is kept');

            const listed = await connection.sendRequest(ModelListRequest.type, {});
            const entry = listed.models.find((m) => m.id === URI);
            assert.equal(entry?.files[0].state, 'partial');
            assert.equal(entry?.files[0].partialBytes, STALL_AT);

            hub.resetCounters();
            const progress: DownloadProgress[] = [];
            connection.onProgress(DownloadProgressType, 'second', (p) => progress.push(p));
            const result = await connection.sendRequest(DownloadRequest.type, { model: URI, partialResultToken: 'second' });
            assert.equal(result.downloaded, true);
            assert.equal(result.bytesFetched, SIZE - STALL_AT);
            assert.equal(hub.bytesServed(), SIZE - STALL_AT);
            await waitFor(() => progress.some((p) => p.state === 'done'));
            assert.equal(progress.at(-1)?.receivedBytes, SIZE);
            assert.ok(
                sidecar.statuses.some((s) => s.downloads.some((d) => d.modelId === URI)),
                'status carried the download',
            );
            assert.ok(changes > 0, 'models/changed was sent');

            const check = await connection.sendRequest(CheckModelsRequest.type, { model: URI });
            assert.deepEqual(
                check.results.map((r) => r.ok),
                [true],
            );
        } finally {
            await sidecar.stop();
        }
    });
});
