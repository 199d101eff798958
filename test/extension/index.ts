// The mocha entry that VS Code's extension host runs (extensionTestsPath).
//
// Expected layout, produced by testBundles() in esbuild.js:
//   dist/test/extension/index.js         this file, cjs, exporting run()
//   dist/test/extension/**/*.test.js     one cjs bundle per test/extension/**/*.test.ts,
//                                        with `vscode` and `mocha` left external
// scripts/run-extension-tests.mjs opens the workbench with this folder as extensionTestsPath;
// the extension host requires index.js and awaits run(): a rejection becomes a non-zero
// exit code, which the workbench hands to the page (codeAutomationExit).
//
// Output: the extension host's console reaches the page, unformatted, through the
// workbench's automation logger (window.codeAutomationLog), mixed with the workbench's own
// log. Mocha's reporter output is formatted here and tagged with TEST_LOG_TAG so the runner
// can print exactly the test log. (VS Code makes `console.*` read-only in the extension host,
// so other console output cannot be tagged; LOCAL_AI_WORKBENCH_LOG=1 shows it.)
// The exact tally is written to $LOCAL_AI_MOCHA_STATS (the server's environment reaches the
// extension host), because counting lines of a forwarded log would be guesswork.
// The same file runs unchanged in desktop VS Code (@vscode/test-electron), whose extension host
// prints to the terminal: there the lines are not tagged (LOCAL_AI_TAG_TEST_LOG is unset).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { format } from 'node:util';
import Mocha from 'mocha';
import { FIRST_MODEL_READIED_KEY } from '../../src/extension/commands/downloads';
import { localAi } from './harness';

/** Must match scripts/run-extension-tests.mjs. */
const TEST_LOG_TAG = '[local-ai-test] ';

/** What scripts/test.mjs adds up across stages. */
interface MochaTally {
    passes: number;
    failures: number;
    /** Full titles of the skipped tests. */
    skipped: string[];
}

export async function run(): Promise<void> {
    const mocha = new Mocha({
        ui: 'bdd',
        // The forwarded console shows escape codes literally.
        color: false,
        // The first activation of the extension starts the sidecar process; the
        // machines tests run on are shared and slow, so be generous. Tests never
        // assert wall-clock time.
        timeout: Number(process.env.LOCAL_AI_TEST_TIMEOUT_MS ?? 120_000),
        slow: 10_000,
        grep: process.env.LOCAL_AI_TEST_GREP || undefined,
    });
    for (const file of findTestFiles(__dirname)) {
        mocha.addFile(file);
    }
    // The first-run flow (the first model loaded, chosen and the chat opened) runs once per install; the tests
    // share one install, so only the test of that flow sees it, by clearing this mark for itself.
    mocha.suite.beforeAll(async () => {
        const local = await localAi();
        await local.services.context.globalState.update(FIRST_MODEL_READIED_KEY, true);
    });
    const restoreReporterOutput = process.env.LOCAL_AI_TAG_TEST_LOG ? tagReporterOutput() : () => undefined;
    const skipped: string[] = [];
    const tally = await new Promise<MochaTally>((resolve) => {
        const runner = mocha.run(() =>
            resolve({
                passes: runner.stats?.passes ?? 0,
                failures: runner.stats?.failures ?? 0,
                skipped,
            }),
        );
        runner.on('pending', (test) => skipped.push(test.fullTitle()));
    }).finally(restoreReporterOutput);
    if (process.env.LOCAL_AI_MOCHA_STATS) {
        fs.writeFileSync(process.env.LOCAL_AI_MOCHA_STATS, JSON.stringify(tally));
    }
    if (tally.failures > 0) {
        throw new Error(`${tally.failures} extension test(s) failed`);
    }
}

/** Formats and tags what mocha's reporters print, until the returned function is called. */
function tagReporterOutput(): () => void {
    const base = Mocha.reporters.Base as unknown as { consoleLog: (...args: unknown[]) => void };
    const original = base.consoleLog;
    base.consoleLog = (...args: unknown[]) => {
        for (const line of format(...args).split('\n')) console.log(TEST_LOG_TAG + line);
    };
    return () => {
        base.consoleLog = original;
    };
}

function findTestFiles(folder: string): string[] {
    return fs
        .readdirSync(folder, { recursive: true, encoding: 'utf8' })
        .filter((name) => name.endsWith('.test.js') && !name.split(path.sep).includes('node_modules'))
        .sort()
        .map((name) => path.join(folder, name));
}
