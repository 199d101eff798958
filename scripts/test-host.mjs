// Where the extension-host tests run: desktop VS Code through @vscode/test-electron (the standard
// runner of every extension sample) when this machine has desktop VS Code, else the VS Code server
// from npm in headless Chromium (scripts/vscode-server.mjs), which needs no download from VS Code's
// update service and so also works on machines that cannot reach it.
//
//   LOCAL_AI_TEST_HOST=desktop|server   force one; `desktop` without a VS Code found here lets
//                                       @vscode/test-electron download one (it needs the network)
//   LOCAL_AI_VSCODE_PATH                desktop VS Code's executable (or its `code` command)
//
// Automatic choice: desktop when LOCAL_AI_VSCODE_PATH or `code` on PATH names desktop VS Code (and,
// on Linux, a display is there to open its window on); otherwise the server.
import { existsSync, realpathSync } from 'node:fs';
import { basename, delimiter, dirname, join } from 'node:path';

/**
 * The Electron executable behind a `code` command (`code` itself is a launcher script): the layouts of
 * VS Code's Linux packages, its macOS app and its Windows install. Undefined when none is found (a
 * `code` that belongs to something else, such as code-server).
 * @param {string} command the `code` command's resolved path
 * @param {(path: string) => boolean} [exists]
 */
export function desktopExecutableFor(command, exists = existsSync) {
    const bin = dirname(command);
    const candidates = [
        join(bin, '..', 'code'), // Linux: /usr/share/code/bin/code → /usr/share/code/code
        join(bin, '..', '..', '..', 'MacOS', 'Electron'), // macOS: Code.app/Contents/Resources/app/bin/code
        join(bin, '..', '..', '..', 'MacOS', 'Code'),
        join(bin, '..', 'Code.exe'), // Windows: …\Microsoft VS Code\bin\code.cmd
    ];
    return candidates.find((candidate) => exists(candidate));
}

/**
 * @param {object} [options]
 * @param {Record<string, string | undefined>} [options.env] default process.env
 * @param {NodeJS.Platform} [options.platform] default process.platform
 * @param {(name: string) => string | undefined} [options.which] the resolved path of a command on PATH
 * @param {(path: string) => boolean} [options.exists]
 * @returns {{ host: 'desktop' | 'server', reason: string, desktopExecutable?: string }}
 */
export function chooseTestHost({ env = process.env, platform = process.platform, which = (name) => whichOnPath(name, env), exists = existsSync } = {}) {
    const forced = env.LOCAL_AI_TEST_HOST;
    if (forced && forced !== 'desktop' && forced !== 'server') {
        throw new Error(`LOCAL_AI_TEST_HOST=${forced}: use desktop or server`);
    }
    const desktopExecutable = findDesktop({ env, platform, which, exists });
    if (forced === 'server') return { host: 'server', reason: 'LOCAL_AI_TEST_HOST=server', desktopExecutable };
    if (forced === 'desktop') {
        return desktopExecutable
            ? { host: 'desktop', reason: `LOCAL_AI_TEST_HOST=desktop, VS Code at ${desktopExecutable}`, desktopExecutable }
            : { host: 'desktop', reason: 'LOCAL_AI_TEST_HOST=desktop and no VS Code here: @vscode/test-electron downloads one' };
    }
    if (!desktopExecutable) return { host: 'server', reason: 'no desktop VS Code here (LOCAL_AI_VSCODE_PATH, or `code` on PATH)' };
    if (platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY) {
        return { host: 'server', reason: `desktop VS Code at ${desktopExecutable}, but no display to open it on`, desktopExecutable };
    }
    return { host: 'desktop', reason: `desktop VS Code at ${desktopExecutable}`, desktopExecutable };
}

function findDesktop({ env, platform, which, exists }) {
    const named = env.LOCAL_AI_VSCODE_PATH;
    if (named) {
        if (!exists(named)) throw new Error(`LOCAL_AI_VSCODE_PATH=${named}: no such file`);
        // Either the executable itself or its `code` launcher.
        return /^code(\.cmd)?$/.test(basename(named)) ? (desktopExecutableFor(named, exists) ?? named) : named;
    }
    const code = which(platform === 'win32' ? 'code.cmd' : 'code');
    return code ? desktopExecutableFor(code, exists) : undefined;
}

/** The resolved path of a command on PATH, or undefined. */
export function whichOnPath(name, env = process.env) {
    for (const dir of (env.PATH ?? '').split(delimiter)) {
        const candidate = dir && join(dir, name);
        if (candidate && existsSync(candidate)) return realpathSync(candidate);
    }
    return undefined;
}
