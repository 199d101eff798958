#!/usr/bin/env node
// The VS Code server our extension tests and e2e tests run in: installed once into a cache outside
// the clone by scripts/vscode-server-install.mjs, started here.
//
//   node scripts/vscode-server.mjs install   install once (no-op when cached)
//   node scripts/vscode-server.mjs serve     start it with this repo as a
//                                            development extension; prints the URL
//   node scripts/vscode-server.mjs paths     print where things are

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheRoot, ensureServer, serverPaths } from './vscode-server-install.mjs';

export { ensureServer, serverInstalled } from './vscode-server-install.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Defaults for a workbench under test: nothing opens on its own, nothing reaches for the
 * network (there is none), so screenshots show what a test did.
 */
export const QUIET_SETTINGS = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
};

/** A port the OS just reported free on 127.0.0.1. */
export function freePort() {
    return new Promise((resolvePromise, reject) => {
        const server = createServer();
        server.unref();
        server.on('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
            server.close(() => resolvePromise(port));
        });
    });
}

/**
 * Starts the VS Code server and resolves once it answers HTTP.
 * @param {object} [options]
 * @param {number} [options.port] default: a free port
 * @param {string} [options.serverDataDir] server state: logs, machine settings, user
 *   settings at `<serverDataDir>/data/User/settings.json`; default: a fresh temp folder,
 *   removed by stop()
 * @param {string} [options.extensionsDir] installed (non-development) extensions; default: `<serverDataDir>/extensions`
 * @param {string} [options.extensionDevelopmentPath] only used to build `url`; the payload
 *   in the URL is what makes the workbench load it
 * @param {string} [options.folder] workspace folder for `url`
 * @param {Record<string, unknown>} [options.settings] User settings, merged over QUIET_SETTINGS and
 *   written to `<serverDataDir>/data/User/settings.json` (code-server's build keeps User settings
 *   on the server, and the extension host sees them); default: QUIET_SETTINGS only
 * @param {Record<string, string>} [options.env] extra environment for the server and its extension host
 * @param {boolean} [options.workspaceTrust] keep VS Code's workspace trust on, so a folder opens in Restricted
 *   Mode until trusted (for tests of what an untrusted folder cannot do); default false: trust is disabled
 * @param {(line: string) => void} [options.onOutput] every line the server prints; default: dropped
 * @param {number} [options.readyTimeoutMs] default 120 000
 * @returns {Promise<{ url: string, port: number, origin: string, serverDataDir: string, remoteUri: (path: string) => string, stop: () => Promise<void> }>}
 */
export async function startServer({
    port,
    serverDataDir,
    extensionsDir,
    extensionDevelopmentPath,
    folder,
    settings = {},
    env = {},
    workspaceTrust = false,
    onOutput = () => {},
    readyTimeoutMs = 120_000,
} = {}) {
    const paths = await ensureServer();
    port ??= await freePort();
    const ownsDataDir = !serverDataDir;
    serverDataDir ??= mkdtempSync(join(tmpdir(), 'local-ai-vscode-server-'));
    extensionsDir ??= join(serverDataDir, 'extensions');
    mkdirSync(join(serverDataDir, 'data', 'User'), { recursive: true });
    mkdirSync(extensionsDir, { recursive: true });
    const settingsFile = join(serverDataDir, 'data', 'User', 'settings.json');
    if (!existsSync(settingsFile) || Object.keys(settings).length > 0) {
        writeFileSync(settingsFile, JSON.stringify({ ...QUIET_SETTINGS, ...settings }, null, 4));
    }

    const child = spawn(
        paths.nodeBin,
        [
            paths.serverMain,
            '--host',
            '127.0.0.1',
            '--port',
            String(port),
            '--without-connection-token',
            '--accept-server-license-terms',
            ...(workspaceTrust ? [] : ['--disable-workspace-trust']),
            '--enable-smoke-test-driver',
            '--disable-telemetry',
            '--server-data-dir',
            serverDataDir,
            '--user-data-dir',
            join(serverDataDir, 'data'),
            '--extensions-dir',
            extensionsDir,
        ],
        {
            // Own process group, so stop() also ends the extension host and its children (our sidecar).
            detached: true,
            stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, ...env, VSCODE_AGENT_FOLDER: serverDataDir },
        },
    );

    const origin = `http://127.0.0.1:${port}`;
    let exited = false;
    const exit = new Promise((resolvePromise) =>
        child.on('exit', (code, signal) => {
            exited = true;
            resolvePromise(signal ?? `exit ${code}`);
        }),
    );
    const output = [];
    let announced;
    const announcedPromise = new Promise((resolvePromise) => {
        announced = resolvePromise;
    });
    for (const stream of [child.stdout, child.stderr]) {
        let pending = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk) => {
            const lines = (pending + chunk).split('\n');
            pending = lines.pop();
            for (const line of lines) {
                output.push(line);
                if (output.length > 200) output.shift();
                onOutput(line);
                if (/Extension host agent listening on/.test(line)) announced();
            }
        });
    }

    const stop = async () => {
        if (!exited) {
            try {
                process.kill(-child.pid, 'SIGTERM');
            } catch {}
        }
        const killTimer = setTimeout(() => {
            try {
                process.kill(-child.pid, 'SIGKILL');
            } catch {}
        }, 5_000);
        await exit;
        clearTimeout(killTimer);
        // Anything the server left behind in its group (an extension host, a sidecar) goes too.
        try {
            process.kill(-child.pid, 'SIGKILL');
        } catch {}
        if (ownsDataDir) rmSync(serverDataDir, { recursive: true, force: true });
    };

    const deadline = new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`VS Code server did not answer on ${origin} within ${readyTimeoutMs} ms`)), readyTimeoutMs).unref(),
    );
    try {
        await Promise.race([
            announcedPromise.then(() => waitForHttp(origin, () => exited)),
            exit.then((how) => {
                throw new Error(`VS Code server exited before it was ready (${how})`);
            }),
            deadline,
        ]);
    } catch (error) {
        await stop();
        throw new Error(`${error.message}\n--- server output ---\n${output.join('\n')}`);
    }

    const remoteUri = (path) => `vscode-remote://127.0.0.1:${port}${resolve(path)}`;
    const url = workbenchUrl({ origin, remoteUri, folder, extensionDevelopmentPath });
    return { url, port, origin, serverDataDir, remoteUri, stop };
}

/**
 * The workbench URL. `payload` is how VS Code web receives what the desktop gets as
 * command-line flags (@vscode/test-web passes the same pairs).
 * @param {{ origin: string, remoteUri: (path: string) => string, folder?: string,
 *   extensionDevelopmentPath?: string, extensionTestsPath?: string }} options
 */
export function workbenchUrl({ origin, remoteUri, folder, extensionDevelopmentPath, extensionTestsPath }) {
    const params = new URLSearchParams();
    if (folder) params.set('folder', resolve(folder));
    const payload = [];
    if (extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', remoteUri(extensionDevelopmentPath)]);
    if (extensionTestsPath) payload.push(['extensionTestsPath', remoteUri(extensionTestsPath)]);
    if (payload.length) params.set('payload', JSON.stringify(payload));
    const query = params.toString();
    return `${origin}/${query ? `?${query}` : ''}`;
}

/** Retries a GET on `/` until the server answers; the first refusals are expected. */
async function waitForHttp(origin, hasExited) {
    for (let attempt = 0; !hasExited(); attempt++) {
        try {
            const response = await fetch(origin, { signal: AbortSignal.timeout(10_000) });
            if (response.status < 500) return;
        } catch {
            // Not listening yet.
        }
        await new Promise((resolvePromise) => setTimeout(resolvePromise, Math.min(100 * 2 ** attempt, 1_000)));
    }
}

/**
 * Starts the server with a development extension and keeps it running until Ctrl+C.
 * @param {object} [options]
 * @param {string} [options.extensionDevelopmentPath] default: this repo
 * @param {string} [options.folder] workspace to open; default: this repo
 * @param {number} [options.port] default: $PORT, else a free port
 */
export async function serve({ extensionDevelopmentPath = repoRoot, folder = repoRoot, port = process.env.PORT ? Number(process.env.PORT) : undefined } = {}) {
    const server = await startServer({
        extensionDevelopmentPath,
        folder,
        port,
        serverDataDir: join(cacheRoot(), 'serve'),
        onOutput: (line) => process.env.LOCAL_AI_SERVER_LOG && console.log(`[server] ${line}`),
    });
    console.log(`\nVS Code with Local AI as a development extension:\n\n  ${server.url}\n`);
    console.log('Open it in a browser. Press Ctrl+C to stop.');
    await new Promise((resolvePromise) => {
        process.once('SIGINT', resolvePromise);
        process.once('SIGTERM', resolvePromise);
    });
    await server.stop();
}

async function main(command = 'install') {
    if (command === 'install') {
        const paths = await ensureServer();
        console.log(`[vscode-server] ready: ${paths.serverMain}`);
    } else if (command === 'paths') {
        console.log(JSON.stringify(serverPaths(), null, 2));
    } else if (command === 'serve') {
        await serve();
    } else {
        console.error('usage: node scripts/vscode-server.mjs install|serve|paths');
        process.exit(2);
    }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    main(process.argv[2]).catch((error) => {
        console.error(error.stack ?? String(error));
        process.exit(1);
    });
}
