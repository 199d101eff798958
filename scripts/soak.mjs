#!/usr/bin/env node
// `npm run soak -- --stages extension,e2e --runs 10`: runs the chosen test stages again and again
// on one build, and prints pass/fail per run and the tally. A test that fails once in such a run is
// a bug to find, in the product or the test: every run's whole log is kept in test-results/soak/.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const { values } = parseArgs({
    options: {
        stages: { type: 'string', default: 'extension,e2e' },
        runs: { type: 'string', default: '10' },
        grep: { type: 'string' },
    },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
    console.error(`--runs ${values.runs}: give a whole number of runs, at least 1`);
    process.exit(2);
}

/** Runs a command; its output goes to `logFile` (and the terminal when `echo`). */
function run(command, args, { env = {}, logFile, echo = false }) {
    return new Promise((resolvePromise, reject) => {
        const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
        const log = createWriteStream(logFile);
        for (const stream of [child.stdout, child.stderr]) {
            stream.pipe(log, { end: false });
            if (echo) stream.pipe(process.stdout, { end: false });
        }
        child.on('error', reject);
        child.on('close', (code) => log.end(() => resolvePromise(code ?? 1)));
    });
}

/** The summary line and the titles of the failed tests, read from a run's log. */
function summarize(logFile) {
    const text = readFileSync(logFile, 'utf8');
    const summary = text.match(/^\d+ passed, \d+ failed(, \d+ skipped)?$/gm)?.pop() ?? 'no summary line';
    // mocha's spec reporter marks a failed test in place as "    1) its title", indented under its
    // suite, and lists it again at the end as "  1) Suite title" (two spaces): take the first kind.
    const failed = text.match(/^ {4,}\d+\) .+$/gm)?.map((line) => line.trim()) ?? [];
    return { summary, failed };
}

async function main() {
    const folder = join(repoRoot, 'test-results', 'soak');
    mkdirSync(folder, { recursive: true });
    console.log(`soak: stages ${values.stages}, ${runs} runs; logs in ${folder}`);
    // One build for every run; the setup the stages need happens in the first run.
    const buildLog = join(folder, 'build.log');
    if ((await run(npm, ['run', 'build'], { logFile: buildLog })) !== 0) {
        console.error(`the build failed: ${buildLog}`);
        return 1;
    }
    let green = 0;
    for (let index = 1; index <= runs; index++) {
        const logFile = join(folder, `run-${index}.log`);
        const started = Date.now();
        const code = await run(process.execPath, [join(repoRoot, 'scripts', 'test.mjs')], {
            logFile,
            env: { LOCAL_AI_TEST_ONLY: values.stages, LOCAL_AI_TEST_NO_BUILD: '1', ...(values.grep ? { LOCAL_AI_TEST_GREP: values.grep } : {}) },
        });
        const { summary, failed } = summarize(logFile);
        const seconds = Math.round((Date.now() - started) / 1000);
        if (code === 0) green++;
        console.log(`run ${index}/${runs}: ${code === 0 ? 'green' : 'RED'} (${summary}, ${seconds} s)`);
        for (const title of failed) console.log(`    ${title}`);
    }
    console.log(`soak: ${green}/${runs} green over ${values.stages}`);
    return green === runs ? 0 : 1;
}

main().then(
    (code) => process.exit(code),
    (error) => {
        console.error(error.stack ?? String(error));
        process.exit(1);
    },
);
