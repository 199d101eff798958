#!/usr/bin/env node
// `npm test`: every check, in order, stopping at the first stage that fails.
//
//   lint       npm run lint (Biome: lint rules and formatting, biome.json; `npm run format` fixes the formatting)
//   typecheck  npm run typecheck
//   build      npm run build (esbuild.js also bundles the tests, one file per test, into dist/test)
//   unit       mocha on dist/test/unit/**/*.test.mjs     (from test/unit/**/*.test.ts)
//   sidecar    mocha on dist/test/sidecar/**/*.test.mjs  (from test/sidecar/**/*.test.ts)
//   extension  scripts/run-extension-tests.mjs           (mocha inside the VS Code extension host)
//   e2e        mocha on dist/test/e2e/**/*.e2e.mjs       (Playwright in the workbench)
//
// First, scripts/setup.mjs installs whatever the chosen stages need and this machine lacks
// (node_modules, Chromium, the VS Code server), so `npm test` works on a fresh clone by itself.
// A test stage runs only when it has test files. dist/test is emptied before the build
// so a deleted test's old bundle cannot run. The last line is always
// `N passed, M failed, K skipped`, totals over the stages that ran; a stage that fails without
// reporting counts (lint, typecheck, build, a crash, a timeout) adds one failure, and so does a
// skipped test that scripts/allowed-skips.mjs does not allow.
//
// Env:
//   LOCAL_AI_TEST_ONLY=unit,sidecar   run only these stages (build still runs before tests)
//   LOCAL_AI_TEST_NO_BUILD=1          with LOCAL_AI_TEST_ONLY: reuse the last build (scripts/soak.mjs)
//   LOCAL_AI_TEST_GREP=pattern        only the tests whose full title matches (mocha --grep)
//   LOCAL_AI_STAGE_TIMEOUT            per-stage limit in ms (default 30 min)
//   LOCAL_AI_EXIT_GRACE               how long a test process may stay alive after its tests
//                                     ended, in ms (default 60 s); longer means something it
//                                     started (a child process, a server, a timer) was never
//                                     closed: the stage is stopped and counted as failed
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unexpectedSkips } from './allowed-skips.mjs';
import { SetupError, setup } from './setup.mjs';
import { chooseTestHost } from './test-host.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const mochaBin = join(repoRoot, 'node_modules', 'mocha', 'bin', 'mocha.js');
const reporter = join(repoRoot, 'scripts', 'mocha-tally-reporter.cjs');
const stageTimeoutMs = Number(process.env.LOCAL_AI_STAGE_TIMEOUT ?? 30 * 60_000);
const exitGraceMs = Number(process.env.LOCAL_AI_EXIT_GRACE ?? 60_000);

const TEST_STAGES = ['unit', 'sidecar', 'extension', 'e2e'];
const ALL_STAGES = ['lint', 'typecheck', 'build', ...TEST_STAGES];

/**
 * Where each test stage's sources are, which files are tests, and (for mocha in Node) the
 * per-test timeout. Timeouts are generous: shared machines are noisy.
 */
const STAGE_FILES = {
    unit: { folder: 'test/unit', source: /\.test\.ts$/, compiled: /\.test\.m?js$/, timeoutMs: 60_000 },
    sidecar: { folder: 'test/sidecar', source: /\.test\.ts$/, compiled: /\.test\.m?js$/, timeoutMs: 5 * 60_000 },
    extension: { folder: 'test/extension', source: /\.test\.ts$/, compiled: /\.test\.js$/ },
    e2e: { folder: 'test/e2e', source: /\.e2e\.ts$/, compiled: /\.e2e\.m?js$/, timeoutMs: 5 * 60_000 },
};

/** Files under `folder` (relative to the repo) whose names match `pattern`, sorted. */
function filesUnder(folder, pattern) {
    const absolute = join(repoRoot, folder);
    if (!existsSync(absolute)) return [];
    return readdirSync(absolute, { recursive: true, encoding: 'utf8' })
        .filter((name) => pattern.test(name))
        .sort()
        .map((name) => join(absolute, name));
}

const hasTests = (stage) => filesUnder(STAGE_FILES[stage].folder, STAGE_FILES[stage].source).length > 0;

function selectedStages() {
    const only = process.env.LOCAL_AI_TEST_ONLY?.split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    if (!only?.length) return ALL_STAGES;
    const unknown = only.filter((stage) => !ALL_STAGES.includes(stage));
    if (unknown.length) {
        throw new Error(`LOCAL_AI_TEST_ONLY: unknown stage(s) ${unknown.join(', ')}; known: ${ALL_STAGES.join(', ')}`);
    }
    // Tests must never run stale bundles, so any test stage brings the build with it, unless
    // the caller built just before (the soak script builds once for all its runs).
    const needsBuild = only.some((stage) => TEST_STAGES.includes(stage)) && !process.env.LOCAL_AI_TEST_NO_BUILD;
    return ALL_STAGES.filter((stage) => only.includes(stage) || (stage === 'build' && needsBuild));
}

function header(title) {
    const line = '='.repeat(72);
    console.log(`\n${line}\n== ${title}\n${line}`);
}

/**
 * Runs a command with the terminal as its output, in its own process group so a timeout
 * ends everything it started.
 * @param {string} command
 * @param {string[]} args
 * @param {object} [options]
 * @param {Record<string, string>} [options.env] added to this process's environment
 * @param {string} [options.resultsFile] once this file appears the tests are over, and the
 *   process gets LOCAL_AI_EXIT_GRACE to exit before it is stopped; default: none
 * @returns {Promise<number>} exit code; 124 on timeout or on not exiting after the tests
 */
function runStep(command, args, { env = {}, resultsFile } = {}) {
    return new Promise((resolvePromise, reject) => {
        const child = spawn(command, args, {
            cwd: repoRoot,
            stdio: ['ignore', 'inherit', 'inherit'],
            env: { ...process.env, ...env },
            detached: true,
        });
        let timedOut = false;
        const stop = (why) => {
            timedOut = true;
            console.error(`\n${why}; stopping it.`);
            try {
                process.kill(-child.pid, 'SIGKILL');
            } catch {}
        };
        const timer = setTimeout(() => stop(`No result after ${stageTimeoutMs / 1000} s (LOCAL_AI_STAGE_TIMEOUT)`), stageTimeoutMs);
        let graceTimer;
        const watcher =
            resultsFile &&
            watch(dirname(resultsFile), () => {
                if (graceTimer || !existsSync(resultsFile)) return;
                graceTimer = setTimeout(
                    () =>
                        stop(
                            `The tests ended but the process is still running ${exitGraceMs / 1000} s later: ` +
                                'a child process, server, socket or timer a test opened was never closed (LOCAL_AI_EXIT_GRACE)',
                        ),
                    exitGraceMs,
                );
            });
        const forward = () => {
            try {
                process.kill(-child.pid, 'SIGTERM');
            } catch {}
        };
        process.once('SIGINT', forward);
        child.on('error', reject);
        child.on('exit', (code, signal) => {
            clearTimeout(timer);
            clearTimeout(graceTimer);
            watcher?.close();
            // Whatever the stage left behind in its group (a sidecar, a VS Code server) goes too.
            try {
                process.kill(-child.pid, 'SIGKILL');
            } catch {}
            process.off('SIGINT', forward);
            resolvePromise(timedOut ? 124 : (code ?? (signal ? 128 : 1)));
        });
    });
}

/** Runs a mocha-based stage and returns its counts. */
async function runCounted(command, args, scratch, stage) {
    const statsFile = join(scratch, `${stage}-stats.json`);
    rmSync(statsFile, { force: true });
    const code = await runStep(command, args, {
        resultsFile: statsFile,
        env: { LOCAL_AI_MOCHA_STATS: statsFile, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --enable-source-maps`.trim() },
    });
    if (!existsSync(statsFile)) {
        console.error(`\n${stage}: exited with ${code} without reporting results; counted as one failure.`);
        return { passes: 0, failures: 1, ok: false };
    }
    const { passes, failures, skipped = [] } = JSON.parse(readFileSync(statsFile, 'utf8'));
    const unexpected = unexpectedSkips(skipped);
    for (const { title, why } of unexpected) console.error(`\n${stage}: skipped "${title}": ${why}; counted as one failure.`);
    const counts = { passes, failures: failures + unexpected.length, skipped: skipped.length };
    if (code !== 0 && counts.failures === 0) {
        // Tests passed but the process failed afterwards (e.g. an error in an after-all hook
        // that mocha reported, or a crash while shutting down).
        console.error(`\n${stage}: all tests passed but the run exited with ${code}; counted as one failure.`);
        return { ...counts, failures: 1, ok: false };
    }
    return { ...counts, ok: code === 0 && counts.failures === 0 };
}

function mochaArgs(stage) {
    const { folder, compiled: pattern, timeoutMs } = STAGE_FILES[stage];
    const compiled = filesUnder(join('dist', folder), pattern);
    if (compiled.length === 0) throw new Error(`${stage}: npm run build produced no tests in dist/${folder}`);
    return [
        mochaBin,
        '--ui',
        'bdd',
        '--reporter',
        reporter,
        '--timeout',
        String(timeoutMs),
        '--slow',
        '5000',
        ...(process.env.LOCAL_AI_TEST_GREP ? ['--grep', process.env.LOCAL_AI_TEST_GREP] : []),
        ...compiled,
    ];
}

async function main() {
    const stages = selectedStages();
    header('setup');
    await setup({ command: 'test', stages });
    const scratch = mkdtempSync(join(tmpdir(), 'local-ai-test-'));
    const totals = { passes: 0, failures: 0, skipped: 0 };
    const ran = [];
    let failedStage;
    for (const stage of stages) {
        if (TEST_STAGES.includes(stage) && !hasTests(stage)) {
            console.log(`\n(${stage}: no test files, skipped)`);
            continue;
        }
        header(`${stage}`);
        const started = Date.now();
        let result;
        if (stage === 'lint' || stage === 'typecheck') {
            result = { passes: 0, failures: 0, ok: (await runStep(npm, ['run', stage])) === 0 };
        } else if (stage === 'build') {
            rmSync(join(repoRoot, 'dist', 'test'), { recursive: true, force: true });
            result = { passes: 0, failures: 0, ok: (await runStep(npm, ['run', 'build'])) === 0 };
        } else if (stage === 'extension') {
            const host = chooseTestHost();
            console.log(
                `Extension host: ${host.host === 'desktop' ? 'desktop VS Code (@vscode/test-electron)' : 'the VS Code server in headless Chromium'}; ${host.reason}`,
            );
            result = await runCounted(process.execPath, [join(repoRoot, 'scripts', 'run-extension-tests.mjs')], scratch, stage);
        } else {
            result = await runCounted(process.execPath, mochaArgs(stage), scratch, stage);
        }
        if (!result.ok && result.failures === 0) result.failures = 1;
        totals.passes += result.passes;
        totals.failures += result.failures;
        totals.skipped += result.skipped ?? 0;
        ran.push(`${stage} ${result.ok ? 'ok' : 'FAILED'} (${Math.round((Date.now() - started) / 1000)} s)`);
        if (!result.ok) {
            failedStage = stage;
            break;
        }
    }
    rmSync(scratch, { recursive: true, force: true });
    header('summary');
    console.log(ran.join('\n'));
    if (failedStage) console.log(`Stopped at the first failing stage: ${failedStage}.`);
    console.log(`${totals.passes} passed, ${totals.failures} failed, ${totals.skipped} skipped`);
    return failedStage ? 1 : 0;
}

main().then(
    (code) => process.exit(code),
    (error) => {
        console.error(error instanceof SetupError ? error.message : (error.stack ?? String(error)));
        console.log('0 passed, 1 failed, 0 skipped');
        process.exit(1);
    },
);
