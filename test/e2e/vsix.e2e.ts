/**
 * The packaged extension as a user installs it: `npm run package -- --all` writes one VSIX per VS Code
 * target, each read here (its manifest, and every binary's header: native code for another platform
 * cannot run here, so those are proven by inspection); the VS Code server installs the linux-x64 one
 * offline with --install-extension, and the installed copy activates, starts its
 * sidecar from its own folder, and its CLI runs node-llama-cpp from the VSIX's node_modules.
 */
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { readVsix } from './vsixContents';
import { openLocalAiView, repoRoot, UI_TIMEOUT_MS, waitForStatusBarItem } from './workbench';

interface ServerScripts {
    ensureServer(): Promise<{ nodeBin: string; serverMain: string }>;
    startServer(options: {
        serverDataDir: string;
        extensionsDir: string;
        folder: string;
        env?: Record<string, string>;
    }): Promise<{ url: string; stop(): Promise<void> }>;
}

interface HeadersModule {
    HEADER_BYTES: number;
    readBinaryHeader(bytes: Uint8Array): { format: string; archs: string[] } | undefined;
}

const importScript = <T>(name: string) => import(pathToFileURL(path.join(repoRoot, 'scripts', name)).href) as Promise<T>;
const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };

/**
 * What each VS Code target's VSIX must carry: node-llama-cpp's CPU package for that platform (Metal
 * included on Apple Silicon), whose every binary is built for it.
 */
const TARGETS: Record<string, { binaries: string; format: string; arch: string }> = {
    'win32-x64': { binaries: 'win-x64', format: 'pe', arch: 'x64' },
    'win32-arm64': { binaries: 'win-arm64', format: 'pe', arch: 'arm64' },
    'darwin-arm64': { binaries: 'mac-arm64-metal', format: 'mach-o', arch: 'arm64' },
    'darwin-x64': { binaries: 'mac-x64', format: 'mach-o', arch: 'x64' },
    'linux-x64': { binaries: 'linux-x64', format: 'elf', arch: 'x64' },
    'linux-arm64': { binaries: 'linux-arm64', format: 'elf', arch: 'arm64' },
};
const MAX_VSIX_BYTES = 20 * 1024 * 1024;
/** File names that native code goes by on Linux, macOS and Windows. */
const NATIVE_NAME = /\.(node|so|dylib|dll|exe)$|\.so\.\d/;

/**
 * Another extension, installed beside Local AI as a user's other extensions are: once activated it
 * writes what it can reach through Local AI's exports to $LOCAL_AI_PROBE_OUT.
 */
const PROBE_EXTENSION = `
const vscode = require('vscode');
const fs = require('node:fs');
exports.activate = async () => {
    const localAi = vscode.extensions.getExtension('local-ai.local-ai');
    const api = localAi ? await localAi.activate() : undefined;
    const services = api && api.services;
    let secrets = null;
    try { secrets = services ? await services.secrets.read() : null; } catch (error) { secrets = String(error); }
    // Written whole, then renamed: the test reads it as soon as it appears.
    fs.writeFileSync(process.env.LOCAL_AI_PROBE_OUT + '.partial', JSON.stringify({ found: !!localAi, keys: Object.keys(api || {}), secrets }));
    fs.renameSync(process.env.LOCAL_AI_PROBE_OUT + '.partial', process.env.LOCAL_AI_PROBE_OUT);
};
`;

/** Packs the probe extension with vsce, as any extension a user installs is packed. */
function packProbe(folder: string): string {
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(
        path.join(folder, 'package.json'),
        JSON.stringify({
            name: 'exports-probe',
            publisher: 'probe',
            version: '0.0.1',
            main: './extension.js',
            engines: { vscode: '^1.90.0' },
            activationEvents: ['onStartupFinished'],
        }),
    );
    fs.writeFileSync(path.join(folder, 'extension.js'), PROBE_EXTENSION);
    const vsix = path.join(folder, 'probe.vsix');
    execFileSync(
        process.execPath,
        [path.join(repoRoot, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--allow-missing-repository', '--skip-license', '--out', vsix],
        { cwd: folder, stdio: 'ignore' },
    );
    return vsix;
}

describe('VSIX package', function () {
    this.timeout(10 * 60_000);
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-vsix-e2e-'));
    const extensionsDir = path.join(scratch, 'extensions');
    const probeOut = path.join(scratch, 'probe-report.json');
    const vsixes = new Map<string, string>();
    let vsix = '';
    let browser: Browser | undefined;
    let stopServer: (() => Promise<void>) | undefined;

    after(async () => {
        await browser?.close().catch(() => undefined);
        await stopServer?.();
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    it('packages one VSIX per VS Code target with `npm run package -- --all`', () => {
        const output = execFileSync(process.execPath, [path.join(repoRoot, 'scripts', 'package.mjs'), '--all'], {
            cwd: repoRoot,
            encoding: 'utf8',
            maxBuffer: 64 * 1024 * 1024,
        });
        for (const [, file, megabytes] of output.matchAll(/(\S+\.vsix): ([\d.]+) MB/g)) {
            const target = Object.keys(TARGETS).find((name) => path.basename(file) === `local-ai-${name}-${manifest.version}.vsix`);
            assert.ok(target, `unexpected VSIX ${file}`);
            vsixes.set(target, file);
            console.log(`      ${path.basename(file)}: ${megabytes} MB`);
        }
        assert.deepEqual([...vsixes.keys()].sort(), Object.keys(TARGETS).sort(), output.slice(-2000));
        vsix = vsixes.get('linux-x64')!;
    });

    it("each VSIX names its target and carries that platform's llama.cpp alone, at the pinned version, in at most 20 MB", async () => {
        const { readBinaryHeader, HEADER_BYTES } = await importScript<HeadersModule>('packaging/binaryHeaders.mjs');
        const pinned = manifest.dependencies['node-llama-cpp'];
        for (const [target, file] of vsixes) {
            const { binaries: platform, format, arch } = TARGETS[target];
            const size = fs.statSync(file).size;
            assert.ok(size <= MAX_VSIX_BYTES, `${target}: ${(size / 1024 / 1024).toFixed(1)} MB`);
            const entries = readVsix(file);
            const text = (name: string) => {
                const entry = entries.find((candidate) => candidate.name === name);
                assert.ok(entry, `${target}: the VSIX lacks ${name}`);
                return entry.read().toString('utf8');
            };
            assert.equal(/<Identity\b[^>]*\bTargetPlatform="([^"]*)"/.exec(text('extension.vsixmanifest'))?.[1], target, `${target}: manifest target`);
            assert.equal(JSON.parse(text('extension/package.json')).dependencies['node-llama-cpp'], pinned, `${target}: package.json`);
            assert.equal(JSON.parse(text('extension/node_modules/node-llama-cpp/package.json')).version, pinned, `${target}: node-llama-cpp`);
            const platformPackages = new Set(entries.map((entry) => /^extension\/node_modules\/@node-llama-cpp\/([^/]+)\//.exec(entry.name)?.[1]));
            platformPackages.delete(undefined);
            assert.deepEqual([...platformPackages], [platform], `${target}: llama.cpp packages`);
            assert.equal(JSON.parse(text(`extension/node_modules/@node-llama-cpp/${platform}/package.json`)).version, pinned, `${target}: ${platform}`);

            const binaries = entries.flatMap((entry) => {
                const header = readBinaryHeader(entry.read().subarray(0, HEADER_BYTES));
                return header ? [{ name: entry.name, built: `${header.format} ${header.archs.join('+')}` }] : [];
            });
            assert.ok(
                binaries.some((binary) => binary.name === `extension/node_modules/@node-llama-cpp/${platform}/bins/${platform}/llama-addon.node`),
                `${target}: no llama-addon.node among ${binaries.map((binary) => binary.name).join(', ')}`,
            );
            assert.deepEqual(
                binaries.filter((binary) => binary.built !== `${format} ${arch}`),
                [],
                `${target}: binaries built for another platform`,
            );
            // A file named like native code whose header none of the three formats reads could be any platform's.
            const unread = entries.filter((entry) => NATIVE_NAME.test(entry.name) && !binaries.some((binary) => binary.name === entry.name));
            assert.deepEqual(
                unread.map((entry) => entry.name),
                [],
                `${target}: native files of no known format`,
            );
            assert.ok(!entries.some((entry) => entry.name.endsWith('gitRelease.bundle')), `${target}: the llama.cpp source bundle is shipped`);
            console.log(`      ${target}: ${binaries.length} binaries, all ${format} ${arch}, ${(size / 1024 / 1024).toFixed(1)} MB`);
        }
    });

    it('each VSIX carries the built chat page and no source maps', () => {
        for (const [target, file] of vsixes) {
            const names = readVsix(file).map((entry) => entry.name);
            // The chat page as built: its script and stylesheet, and the codicons copied from @vscode/codicons.
            for (const page of ['chat.js', 'chat.css', 'codicon.css', 'codicon.ttf'])
                assert.ok(names.includes(`extension/dist/webview/${page}`), `the ${target} VSIX lacks dist/webview/${page}`);
            assert.deepEqual(
                names.filter((name) => name.endsWith('.map')),
                [],
                `the ${target} VSIX ships source maps`,
            );
        }
    });

    it('installs offline into the VS Code server, beside another extension', async () => {
        // The packaging test builds the VSIX; run alone (a --grep), code-server would wait on an empty path forever.
        assert.ok(vsix, 'no VSIX to install: run this test with "packages one VSIX per VS Code target"');
        const { ensureServer } = await importScript<ServerScripts>('vscode-server.mjs');
        const { nodeBin, serverMain } = await ensureServer();
        for (const extension of [vsix, packProbe(path.join(scratch, 'probe'))]) {
            const install = spawnSync(
                nodeBin,
                [serverMain, '--extensions-dir', extensionsDir, '--install-extension', extension, '--accept-server-license-terms'],
                {
                    encoding: 'utf8',
                    env: { ...process.env, VSCODE_AGENT_FOLDER: path.join(scratch, 'agent') },
                },
            );
            assert.equal(install.status, 0, `${install.stdout}\n${install.stderr}`);
        }
        const installed = fs.readdirSync(extensionsDir);
        assert.ok(
            installed.some((name) => name.startsWith('local-ai.local-ai')),
            `not installed: ${installed.join(', ')}`,
        );
        assert.ok(
            installed.some((name) => name.startsWith('probe.exports-probe')),
            `the probe is not installed: ${installed.join(', ')}`,
        );
    });

    it("runs the installed CLI with the VSIX's own node-llama-cpp", () => {
        const installed = fs.readdirSync(extensionsDir).find((name) => name.startsWith('local-ai.local-ai'))!;
        const cli = path.join(extensionsDir, installed, 'dist', 'cli.mjs');
        const result = spawnSync(process.execPath, [cli, 'hardware', '--json'], { encoding: 'utf8', cwd: scratch, timeout: 120_000 });
        assert.equal(result.status, 0, result.stderr);
        const report = JSON.parse(result.stdout) as { cpu: { logicalCores: number }; backend: { active: string } };
        assert.ok(report.cpu.logicalCores >= 1);
        assert.equal(report.backend.active, 'cpu');
    });

    it('activates in the workbench and starts its sidecar from the installed folder', async () => {
        const { startServer } = await importScript<ServerScripts>('vscode-server.mjs');
        const { launchChromium } = await importScript<{ launchChromium(): Promise<{ browser: Browser; page: Page }> }>('chromium.mjs');
        const folder = path.join(scratch, 'workspace');
        fs.mkdirSync(folder);
        const server = await startServer({ serverDataDir: path.join(scratch, 'server'), extensionsDir, folder, env: { LOCAL_AI_PROBE_OUT: probeOut } });
        stopServer = () => server.stop();
        const launched = await launchChromium();
        browser = launched.browser;
        const page = launched.page;
        await page.goto(server.url);
        await openLocalAiView(page);
        await waitForStatusBarItem(page, 'localAi.status');
        const deadline = Date.now() + UI_TIMEOUT_MS;
        let sidecarRunning = false;
        while (!sidecarRunning && Date.now() < deadline) {
            sidecarRunning = fs.readdirSync('/proc').some((pid) => {
                try {
                    return /^\d+$/.test(pid) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path.join(extensionsDir, 'local-ai.local-ai'));
                } catch {
                    return false;
                }
            });
            if (!sidecarRunning) await new Promise((resolve) => setTimeout(resolve, 200));
        }
        assert.ok(sidecarRunning, 'no sidecar process runs from the installed extension folder');
        await page.screenshot({ path: path.join(repoRoot, 'test-results', 'e2e-vsix-installed.png') });
    });

    it('gives another installed extension no secret, secret store or context through its exports', async () => {
        // The probe activates on startup; Local AI's activate() runs first (the probe awaits it).
        const deadline = Date.now() + UI_TIMEOUT_MS;
        while (!fs.existsSync(probeOut) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
        assert.ok(fs.existsSync(probeOut), 'the probe extension never reported');
        const probe = JSON.parse(fs.readFileSync(probeOut, 'utf8')) as { found: boolean; keys: string[]; secrets: unknown };
        assert.equal(probe.found, true, 'the probe does not see Local AI');
        assert.deepEqual(probe.keys, ['activationMs']);
        assert.equal(probe.secrets, null, 'the probe read the secrets');
    });
});
