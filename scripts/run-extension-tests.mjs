#!/usr/bin/env node
// Runs dist/test/extension (mocha, see test/extension/index.ts) inside a real VS Code
// extension host, with this repo loaded as a development extension, on the host that
// scripts/test-host.mjs chooses:
//
// Desktop VS Code: @vscode/test-electron's runTests, as in every extension sample; the
// extension host prints mocha's output to this terminal, and its exit code is the result.
//
// The VS Code server from scripts/vscode-server.mjs, and headless Chromium opening
// its workbench with a `payload` naming extensionDevelopmentPath and extensionTestsPath
// (as @vscode/test-web does). The extension host runs the tests server-side, in Node.
// Results come back three ways:
//   - the exit code: when the tests end, the workbench calls window.codeAutomationExit(code),
//     which we expose on the page;
//   - the log: the workbench hands the extension host's console to window.codeAutomationLog,
//     unformatted and mixed with its own log; test/extension/index.ts tags the test lines
//     (TEST_LOG_TAG) and we print those, the rest only with LOCAL_AI_WORKBENCH_LOG=1;
//   - the tally: index.ts writes mocha's counts to $LOCAL_AI_MOCHA_STATS (the server's
//     environment reaches the extension host); scripts/test.mjs reads that file.
//
// Builds nothing: run `npm run build` first. Env:
//   LOCAL_AI_EXT_TEST_TIMEOUT   whole-run limit in ms (default 15 min)
//   LOCAL_AI_MOCHA_STATS        where to write { passes, failures, skipped }
//   LOCAL_AI_TEST_GREP          only the tests whose full title matches
//   LOCAL_AI_SERVER_LOG=1       also print the server's own output
//   LOCAL_AI_WORKBENCH_LOG=1    also print the workbench's log
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import { chooseTestHost } from './test-host.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const testsPath = join(repoRoot, 'dist', 'test', 'extension');
const screenshotPath = join(repoRoot, 'test-results', 'extension-tests.png');
const timeoutMs = Number(process.env.LOCAL_AI_EXT_TEST_TIMEOUT ?? 15 * 60_000);
/** Must match test/extension/index.ts. */
const TEST_LOG_TAG = '[local-ai-test] ';
const showWorkbenchLog = Boolean(process.env.LOCAL_AI_WORKBENCH_LOG);

async function main() {
    const packageJson = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    for (const required of [join(repoRoot, packageJson.main), join(testsPath, 'index.js')]) {
        if (!existsSync(required)) throw new Error(`${required} is missing: run \`npm run build\` first`);
    }

    const scratch = mkdtempSync(join(tmpdir(), 'local-ai-ext-tests-'));
    const workspace = join(scratch, 'workspace');
    mkdirSync(workspace);
    writeFileSync(join(workspace, 'sample.ts'), 'export function add(a: number, b: number): number {\n    return a + b;\n}\n');
    const statsFile = process.env.LOCAL_AI_MOCHA_STATS ?? join(scratch, 'mocha-stats.json');
    rmSync(statsFile, { force: true });
    const testEnv = { LOCAL_AI_MOCHA_STATS: statsFile, ...(process.env.LOCAL_AI_TEST_GREP ? { LOCAL_AI_TEST_GREP: process.env.LOCAL_AI_TEST_GREP } : {}) };
    const host = chooseTestHost();
    try {
        return host.host === 'desktop'
            ? await runInDesktop({ host, scratch, workspace, testEnv })
            : await runInServer({ scratch, workspace, statsFile, testEnv });
    } finally {
        rmSync(scratch, { recursive: true, force: true });
    }
}

/** Desktop VS Code through @vscode/test-electron: its own profile and extensions folder, nothing else loaded. */
async function runInDesktop({ host, scratch, workspace, testEnv }) {
    const { runTests } = await import('@vscode/test-electron');
    try {
        await runTests({
            ...(host.desktopExecutable ? { vscodeExecutablePath: host.desktopExecutable } : {}),
            extensionDevelopmentPath: repoRoot,
            extensionTestsPath: testsPath,
            extensionTestsEnv: testEnv,
            launchArgs: [
                workspace,
                '--disable-extensions',
                '--disable-workspace-trust',
                '--skip-welcome',
                '--skip-release-notes',
                `--user-data-dir=${join(scratch, 'user-data')}`,
                `--extensions-dir=${join(scratch, 'extensions')}`,
            ],
        });
        return 0;
    } catch (error) {
        console.error(`Extension tests in desktop VS Code failed: ${error instanceof Error ? error.message : String(error)}`);
        return 1;
    }
}

/** The VS Code server in headless Chromium; see the top of this file. */
async function runInServer({ scratch, workspace, statsFile, testEnv }) {
    const { launchChromium } = await import('./chromium.mjs');
    const { startServer, workbenchUrl } = await import('./vscode-server.mjs');
    const serverLog = [];
    const server = await startServer({
        serverDataDir: join(scratch, 'server'),
        env: { ...testEnv, LOCAL_AI_TAG_TEST_LOG: '1' },
        onOutput: (line) => {
            serverLog.push(line);
            if (process.env.LOCAL_AI_SERVER_LOG) console.log(`[server] ${line}`);
        },
    });
    let browser;
    let exitCode = 1;
    try {
        const launched = await launchChromium();
        browser = launched.browser;
        const { page } = launched;
        let testsEnded;
        const exitCodePromise = new Promise((resolvePromise) => {
            testsEnded = resolvePromise;
        });
        await page.exposeFunction('codeAutomationExit', (code) => testsEnded(Number(code)));
        await page.exposeFunction('codeAutomationLog', (type, args) => printLog(type, args));
        if (showWorkbenchLog) page.on('pageerror', (error) => console.log(`[page error] ${error.message}`));

        const url = workbenchUrl({
            origin: server.origin,
            remoteUri: server.remoteUri,
            folder: workspace,
            extensionDevelopmentPath: repoRoot,
            extensionTestsPath: testsPath,
        });
        console.log(`Extension tests: ${testsPath}\nWorkbench: ${url}`);
        await page.goto(url);

        let timer;
        const timedOut = new Promise((resolvePromise) => {
            timer = setTimeout(() => resolvePromise('timeout'), timeoutMs);
        });
        const outcome = await Promise.race([exitCodePromise, timedOut]);
        clearTimeout(timer);
        if (outcome === 'timeout') {
            console.error(`Extension tests did not finish within ${timeoutMs / 1000} s (LOCAL_AI_EXT_TEST_TIMEOUT).`);
            console.error(`Last server output:\n${serverLog.slice(-40).join('\n')}`);
            exitCode = 1;
        } else {
            exitCode = outcome;
        }
        mkdirSync(dirname(screenshotPath), { recursive: true });
        await page.screenshot({ path: screenshotPath }).catch((error) => console.error(`No screenshot: ${error.message}`));
        console.log(`Screenshot: ${screenshotPath}`);
    } finally {
        await browser?.close().catch(() => {});
        await server.stop();
    }
    if (exitCode !== 0 && !existsSync(statsFile)) {
        // The tests never ran to the end (no tally): a test file that failed to load, an
        // extension host crash or a timeout. The cause is among the errors the workbench logged.
        console.error('Extension tests did not report results. Last errors the workbench logged:');
        console.error(recentErrors.join('\n') || '(none)');
    }
    return exitCode;
}

/** Untagged errors, kept to explain a run that ended without results. */
const recentErrors = [];

/** Prints the tagged test log; the workbench's own log only when asked for. */
function printLog(type, args) {
    const text = format(...(Array.isArray(args) ? args : [args]));
    if (text.startsWith(TEST_LOG_TAG)) {
        console.log(text.slice(TEST_LOG_TAG.length));
        return;
    }
    if (type === 'error') {
        recentErrors.push(text);
        if (recentErrors.length > 20) recentErrors.shift();
    }
    if (showWorkbenchLog) console.log(`[workbench ${type}] ${text}`);
}

main().then(
    (code) => process.exit(code),
    (error) => {
        console.error(error.stack ?? String(error));
        process.exit(1);
    },
);
