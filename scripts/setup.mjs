#!/usr/bin/env node
// Everything `npm start` and `npm test` need before they can run, installed by themselves on a
// fresh clone of a fresh machine, and nothing at all once it is there (so both work offline once
// the caches are filled):
//
//   dependencies    `npm ci` when node_modules is missing or was installed from another lockfile
//   system packages Debian's chromium (the browser the workbench tests drive), and what the VS Code
//                   server's native modules build with (libkrb5-dev, python3, make, g++), installed
//                   with apt-get as root or through `sudo -n`; otherwise it stops with the command to run
//   VS Code server  scripts/vscode-server.mjs, into its cache outside the clone
//
// Uses Node's built-ins only: it runs before node_modules exists.
//
//   node scripts/setup.mjs [start|test]   set up for that command (default: test, every stage)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './run.mjs';
import { chooseTestHost, whichOnPath } from './test-host.mjs';
import { ensureServer, serverInstalled } from './vscode-server.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** Written into node_modules after a complete install: the sha256 of the lockfile it came from. */
const INSTALL_STAMP = join('node_modules', '.local-ai-lockfile-sha256');

/** The browser the workbench tests drive; overridable for machines with Chrome elsewhere. */
export function chromiumPath(env = process.env) {
    return env.LOCAL_AI_CHROMIUM || '/usr/bin/chromium';
}

/**
 * Why the dependencies must be installed, or undefined when node_modules matches the lockfile.
 * @param {{ lockfile: string | undefined, stamp: string | undefined, hasNodeModules: boolean }} state
 *   lockfile: package-lock.json's text; stamp: the install stamp's text
 */
export function dependenciesToInstall({ lockfile, stamp, hasNodeModules }) {
    if (lockfile === undefined) return undefined;
    if (!hasNodeModules) return 'node_modules is missing';
    if (stamp?.trim() !== sha256(lockfile)) return 'node_modules was installed from another package-lock.json';
    return undefined;
}

/**
 * The Debian packages a command needs that this machine lacks.
 * @param {object} options
 * @param {boolean} options.browser the workbench tests will drive Chromium
 * @param {boolean} options.serverBuild the VS Code server must be built (it is not in the cache yet)
 * @param {boolean} options.unzip the VSIX test reads the package with unzip
 * @param {(command: string) => boolean} options.hasCommand
 * @param {(path: string) => boolean} options.hasFile
 * @param {Record<string, string | undefined>} [options.env]
 * @returns {{ name: string, why: string }[]}
 */
export function missingPackages({ browser, serverBuild, unzip, hasCommand, hasFile, env = process.env }) {
    const missing = [];
    if (browser && !hasFile(chromiumPath(env))) missing.push({ name: 'chromium', why: 'the browser the workbench tests drive' });
    if (unzip && !hasCommand('unzip')) missing.push({ name: 'unzip', why: 'the VSIX test reads the package' });
    if (serverBuild) {
        // code-server's kerberos module includes <gssapi/gssapi.h> from libkrb5-dev.
        if (!hasFile('/usr/include/gssapi/gssapi.h')) missing.push({ name: 'libkrb5-dev', why: "the VS Code server's kerberos module builds against it" });
        for (const [name, command] of [
            ['python3', 'python3'],
            ['make', 'make'],
            ['g++', 'g++'],
        ]) {
            if (!hasCommand(command)) missing.push({ name, why: "node-gyp builds the VS Code server's native modules with it" });
        }
    }
    return missing;
}

/**
 * How to install packages on this machine: directly as root, through `sudo -n`, or not at all
 * (then the message names the exact command for the user to run).
 * @param {{ packages: string[], isRoot: boolean, hasAptGet: boolean, sudoWorks: boolean }} options
 * @returns {{ run: string[][] } | { message: string }}
 */
export function installPlan({ packages, isRoot, hasAptGet, sudoWorks }) {
    const list = packages.join(' ');
    if (!hasAptGet) {
        return {
            message: `This machine lacks ${list}, and has no apt-get to install them with: install them with your package manager, then run the command again.`,
        };
    }
    if (!isRoot && !sudoWorks) {
        return {
            message: `This machine lacks ${list}. Install them, then run the command again:\n\n  sudo apt-get update && sudo apt-get install -y ${list}\n`,
        };
    }
    const prefix = isRoot ? [] : ['sudo', '-n'];
    return {
        run: [
            [...prefix, 'apt-get', 'update'],
            [...prefix, 'apt-get', 'install', '-y', '--no-install-recommends', ...packages],
        ],
    };
}

/** Stages of `npm test` whose needs go beyond node_modules. */
const WORKBENCH_STAGES = ['extension', 'e2e'];

/**
 * Sets up what `command` needs.
 * @param {object} [options]
 * @param {'start' | 'test'} [options.command] default 'test'
 * @param {string[]} [options.stages] with 'test': the stages that will run; default: all
 * @param {(line: string) => void} [options.log] default console.log
 */
export async function setup({ command = 'test', stages = ['typecheck', 'build', 'unit', 'sidecar', ...WORKBENCH_STAGES], log = console.log } = {}) {
    await installDependencies(log);
    const host = chooseTestHost();
    const needsServer = command === 'start' ? !host.desktopExecutable : stages.includes('e2e') || (stages.includes('extension') && host.host === 'server');
    const packages = missingPackages({
        browser: command === 'test' && needsServer,
        serverBuild: needsServer && !serverInstalled(),
        unzip: command === 'test' && stages.includes('e2e'),
        hasCommand: (name) => whichOnPath(name) !== undefined,
        hasFile: existsSync,
    });
    if (packages.length) await installPackages(packages, log);
    if (needsServer) await ensureServer({ log });
}

async function installDependencies(log) {
    const lockfilePath = join(repoRoot, 'package-lock.json');
    const lockfile = existsSync(lockfilePath) ? readFileSync(lockfilePath, 'utf8') : undefined;
    const stampPath = join(repoRoot, INSTALL_STAMP);
    const why = dependenciesToInstall({
        lockfile,
        stamp: existsSync(stampPath) ? readFileSync(stampPath, 'utf8') : undefined,
        hasNodeModules: existsSync(join(repoRoot, 'node_modules')),
    });
    if (!why) return;
    log(`[setup] ${why}: npm ci`);
    const flags = ['--ignore-scripts', '--no-audit', '--no-fund'];
    try {
        await run(npm, ['ci', ...flags]);
    } catch {
        // npm ci refuses a lockfile whose optional dependencies this registry cannot serve
        // (node-llama-cpp's other platforms' binaries; npm/cli#9846); scripts/complete-lockfile.mjs
        // keeps the committed lockfile whole. Should an `npm install` have rewritten it without that
        // step, install from the same lockfile with npm install and leave the file as it was.
        log('[setup] npm ci refused the lockfile: npm install from it instead (npm/cli#9846)');
        const saved = join(mkdtempSync(join(tmpdir(), 'local-ai-lock-')), 'package-lock.json');
        copyFileSync(lockfilePath, saved);
        try {
            await run(npm, ['install', ...flags]);
        } finally {
            copyFileSync(saved, lockfilePath);
        }
    }
    writeFileSync(stampPath, `${sha256(lockfile)}\n`);
}

async function installPackages(packages, log) {
    const names = packages.map((p) => p.name);
    for (const { name, why } of packages) log(`[setup] missing ${name}: ${why}`);
    const plan = installPlan({ packages: names, isRoot: process.getuid?.() === 0, hasAptGet: whichOnPath('apt-get') !== undefined, sudoWorks: sudoWorks() });
    if ('message' in plan) throw new SetupError(plan.message);
    for (const [command, ...args] of plan.run) {
        log(`[setup] ${[command, ...args].join(' ')}`);
        await run(command, args, { env: { DEBIAN_FRONTEND: 'noninteractive' } });
    }
}

/** A failure whose message already says what to do; printed without a stack. */
export class SetupError extends Error {}

function sudoWorks() {
    if (!whichOnPath('sudo')) return false;
    try {
        execFileSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
        return true;
    } catch {
        return false;
    }
}

function sha256(text) {
    return createHash('sha256').update(text).digest('hex');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    setup({ command: process.argv[2] === 'start' ? 'start' : 'test' }).catch((error) => {
        console.error(error instanceof SetupError ? error.message : (error.stack ?? String(error)));
        process.exit(1);
    });
}
