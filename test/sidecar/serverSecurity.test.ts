/**
 * The local server's gate, against the REAL `local-ai serve`: the bearer token, the Host header (DNS
 * rebinding), browser Origins, the body cap, unknown models, the queue limit, and that no answer or log
 * line carries the token. Then the command itself: a printed token, the warning for a non-loopback
 * address, a port already taken, and a clean stop on SIGTERM.
 */
import * as assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { runCli, waitFor } from '../fixtures/cliProcess';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { startServe, type ServeProcess } from '../fixtures/serveProcess';

interface RawAnswer {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: string;
}

describe('local server security', function () {
    this.timeout(180_000);
    const modelFile = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    let serve: ServeProcess;
    /** Every answer this file received, to check that none carries the token. */
    const answers: string[] = [];

    before(async () => {
        serve = await startServe(modelFile, { args: ['--max-pending', '1'] });
    });
    after(async () => {
        await serve?.stop();
    });

    /** A request with exactly these headers (fetch would not let a test set Host). */
    function raw(options: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<RawAnswer> {
        return new Promise((resolve, reject) => {
            const request = http.request(
                { host: '127.0.0.1', port: serve.port, method: options.method ?? 'GET', path: options.path ?? '/v1/models', headers: options.headers },
                (response) => {
                    let body = '';
                    response.on('data', (d: Buffer) => (body += d.toString()));
                    response.on('end', () => {
                        answers.push(JSON.stringify(response.headers) + body);
                        resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
                    });
                },
            );
            request.on('error', reject);
            request.end(options.body);
        });
    }
    const authorized = () => ({ Authorization: `Bearer ${serve.token}` });
    const errorCode = (answer: RawAnswer) => (JSON.parse(answer.body) as { error: { code: string } }).error.code;

    it('refuses a request without the token, or with a wrong one (401)', async () => {
        assert.equal((await raw({})).status, 401);
        const wrong = await raw({ headers: { Authorization: `Bearer ${serve.token.slice(0, -1)}x` } });
        assert.equal(wrong.status, 401);
        assert.equal(errorCode(wrong), 'invalid_api_key');
        // Through the SDK as a user would see it.
        await assert.rejects(serve.client({ apiKey: 'not-the-token' }).models.list(), (error: unknown) => error instanceof OpenAI.AuthenticationError);
        assert.equal((await raw({ headers: authorized() })).status, 200);
    });

    it('refuses a Host that does not name it (403), so a rebound DNS name cannot reach it', async () => {
        const rebound = await raw({ headers: { ...authorized(), Host: `attacker.example:${serve.port}` } });
        assert.equal(rebound.status, 403);
        assert.equal(errorCode(rebound), 'forbidden_host');
        assert.equal((await raw({ headers: { ...authorized(), Host: '127.0.0.1:1' } })).status, 403);
        assert.equal((await raw({ headers: { ...authorized(), Host: `localhost:${serve.port}` } })).status, 200);
    });

    it('refuses a web page (403) and sends no CORS headers', async () => {
        const page = await raw({ headers: { ...authorized(), Origin: 'https://example.com' } });
        assert.equal(page.status, 403);
        assert.equal(errorCode(page), 'forbidden_origin');
        assert.equal(page.headers['access-control-allow-origin'], undefined);
        const preflight = await raw({ method: 'OPTIONS', headers: { Origin: 'https://example.com', 'Access-Control-Request-Method': 'POST' } });
        assert.equal(preflight.status, 403);
        assert.equal(preflight.headers['access-control-allow-origin'], undefined);
    });

    it('refuses a body over the cap (413)', async () => {
        const body = JSON.stringify({ model: serve.modelId, messages: [{ role: 'user', content: 'x'.repeat(9 * 1024 * 1024) }] });
        const answer = await raw({ method: 'POST', path: '/v1/chat/completions', headers: { ...authorized(), 'Content-Type': 'application/json' }, body });
        assert.equal(answer.status, 413);
        assert.equal(errorCode(answer), 'request_too_large');
    });

    it('answers an unknown model with 404', async () => {
        await assert.rejects(
            serve.client().chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'Hi' }] }),
            (error: unknown) => error instanceof OpenAI.NotFoundError && error.code === 'model_not_found',
        );
    });

    it('answers 429 with Retry-After past its queue limit', async () => {
        const client = serve.client();
        const running = await client.chat.completions.create({
            model: serve.modelPath,
            messages: [{ role: 'user', content: 'Talk.' }],
            max_tokens: 3000,
            stream: true,
        });
        const refused = await raw({
            method: 'POST',
            path: '/v1/chat/completions',
            headers: { ...authorized(), 'Content-Type': 'application/json' },
            body: JSON.stringify({ model: serve.modelPath, messages: [{ role: 'user', content: 'Me too.' }] }),
        });
        running.controller.abort();
        // Its place in the queue is free once its generation has stopped.
        await serve.logLine(/client left/);
        assert.equal(refused.status, 429);
        assert.equal(refused.headers['retry-after'], '1');
        assert.equal(errorCode(refused), 'queue_full');
    });

    it('never echoes the token, in an answer or in its log', async () => {
        await raw({ headers: authorized() });
        await raw({ headers: { Authorization: `Bearer ${serve.token}x` } });
        for (const answer of answers) assert.ok(!answer.includes(serve.token), answer);
        assert.ok(!serve.stderr().includes(serve.token));
        assert.match(serve.stderr(), /GET \/v1\/models 401/);
    });

    /** A models folder and a Hugging Face cache of its own: nothing of this machine's is listed. */
    const hermetic = () => ({
        LOCAL_AI_MODELS_PATH: mkdtempSync(path.join(tmpdir(), 'local-ai-serve-')),
        HF_HUB_CACHE: mkdtempSync(path.join(tmpdir(), 'local-ai-hf-')),
    });

    it('prints a new token, warns about a non-loopback address, and stops cleanly on SIGTERM', async () => {
        const other = runCli(['serve', '--port', '0', '--host', '0.0.0.0'], { ...hermetic(), LOCAL_AI_SERVER_TOKEN: '' });
        let stdout = '';
        other.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
        await waitFor(() => /Token .*: (\S+)\n/.test(stdout));
        const address = /serves at (\S+)/.exec(stdout)?.[1] as string;
        const token = /Token .*: (\S+)\n/.exec(stdout)?.[1] as string;
        const response = await fetch(`${address.replace('0.0.0.0', '127.0.0.1')}/models`, { headers: { Authorization: `Bearer ${token}` } });
        assert.equal(response.status, 200);
        other.child.kill('SIGTERM');
        const run = await other.done;
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, /Warning: listening on 0\.0\.0\.0/);
        assert.match(run.stderr, /SIGTERM: stopping/);
    });

    it('says when the port is taken, and whether by Local AI', async () => {
        const second = await runCli(['serve', '--port', String(serve.port)], hermetic()).done;
        assert.equal(second.code, 1);
        assert.match(second.stderr, /Another Local AI window or `local-ai serve` already serves at http:\/\/127\.0\.0\.1:\d+\/v1/);
        const foreign = http.createServer((_request, response) => response.end('not Local AI'));
        await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
        try {
            const port = (foreign.address() as AddressInfo).port;
            const third = await runCli(['serve', '--port', String(port)], hermetic()).done;
            assert.equal(third.code, 1);
            assert.match(third.stderr, new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is used by another program`));
        } finally {
            foreign.close();
        }
    });
});
