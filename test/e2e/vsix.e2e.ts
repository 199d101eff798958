/**
 * The packaged extension as a user installs it: `npm run package` writes one linux-x64 VSIX, the VS Code
 * server installs it offline with --install-extension, and the installed copy activates, starts its
 * sidecar from its own folder, and its CLI runs node-llama-cpp from the VSIX's node_modules.
 */
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
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

const importScript = <T>(name: string) => import(pathToFileURL(path.join(repoRoot, 'scripts', name)).href) as Promise<T>;

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
    let vsix = '';
    let browser: Browser | undefined;
    let stopServer: (() => Promise<void>) | undefined;

    after(async () => {
        await browser?.close().catch(() => undefined);
        await stopServer?.();
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    it('packages one linux-x64 VSIX carrying only the CPU binaries of this platform', () => {
        const output = execFileSync(process.execPath, [path.join(repoRoot, 'scripts', 'package.mjs')], { cwd: repoRoot, encoding: 'utf8' });
        const match = /(\S+\.vsix): ([\d.]+) MB/.exec(output);
        assert.ok(match, output.slice(-2000));
        vsix = match[1];
        console.log(`      VSIX: ${path.basename(vsix)}, ${match[2]} MB`);
        const listing = execFileSync('unzip', ['-l', vsix], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
        assert.match(listing, /@node-llama-cpp\/linux-x64\/bins\/linux-x64\/llama-addon\.node/);
        assert.doesNotMatch(listing, /@node-llama-cpp\/(linux-x64-cuda|linux-x64-vulkan|linux-arm|mac-|win-)/);
        assert.doesNotMatch(listing, /gitRelease\.bundle/);
        // The chat page as built: its script and stylesheet, and the codicons copied from @vscode/codicons.
        const files = listing.split('\n').map((line) => line.trim().split(/\s+/).at(-1));
        for (const file of ['chat.js', 'chat.css', 'codicon.css', 'codicon.ttf'])
            assert.ok(files.includes(`extension/dist/webview/${file}`), `the VSIX lacks dist/webview/${file}`);
        assert.deepEqual(
            files.filter((file) => file?.endsWith('.map')),
            [],
            'the VSIX ships source maps',
        );
    });

    it('installs offline into the VS Code server, beside another extension', async () => {
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
