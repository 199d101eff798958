/**
 * The extension's activation, measured inside the real extension host (target: activate() ≤ 20 ms):
 * each round opens a fresh window (its own VS Code server, headless Chromium and extension host) with
 * bench/activateProbe.cjs as its extensionTestsPath. The probe reads the extension host's own performance
 * marks, the ones behind "Developer: Show Running Extensions":
 * - activate(), from the call to the settling of what it returned (willActivateExtension → didActivateExtension);
 * - loading the bundle, its module evaluation included (willLoadExtensionCode → didLoadExtensionCode);
 * and the activationMs the extension exports (activate()'s body, by its own clock).
 * The marks have Date.now()'s 1 ms resolution. Rounds: LOCAL_AI_BENCH_ROUNDS (default 5).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { report, summarize } from './lib';

const rounds = Number(process.env.LOCAL_AI_BENCH_ROUNDS) || 5;
const root = process.cwd();

/** One window's figures, as bench/activateProbe.cjs writes them. */
interface ProbeSample {
    /** False when onStartupFinished activated the extension before the probe asked. */
    activatedByProbe: boolean;
    loadMs: number | null;
    activateMs: number | null;
    exportedActivationMs: number;
}

/** The parts of scripts/vscode-server.mjs and scripts/chromium.mjs used here (plain ESM, loaded at run time). */
interface WorkbenchScripts {
    startServer(options: { env: Record<string, string> }): Promise<{ origin: string; remoteUri(path: string): string; stop(): Promise<void> }>;
    workbenchUrl(options: {
        origin: string;
        remoteUri(path: string): string;
        folder: string;
        extensionDevelopmentPath: string;
        extensionTestsPath: string;
    }): string;
    launchChromium(): Promise<{
        browser: { close(): Promise<void> };
        page: { exposeFunction(name: string, fn: (...args: unknown[]) => void): Promise<void>; goto(url: string): Promise<unknown> };
    }>;
}

async function workbenchScripts(): Promise<WorkbenchScripts> {
    const load = (file: string) => import(pathToFileURL(path.join(root, 'scripts', file)).href);
    return { ...(await load('vscode-server.mjs')), ...(await load('chromium.mjs')) };
}

function progress(message: string): void {
    process.stderr.write(`[activate bench] ${message}\n`);
}

/** Opens one fresh window with the probe as its test runner and returns what the probe wrote. */
async function oneWindow(scripts: WorkbenchScripts, scratch: string, round: number): Promise<ProbeSample> {
    const out = path.join(scratch, `probe-${round}.jsonl`);
    const workspace = path.join(scratch, `workspace-${round}`);
    mkdirSync(workspace);
    writeFileSync(path.join(workspace, 'sample.ts'), 'export const answer = 42;\n');
    const server = await scripts.startServer({ env: { LOCAL_AI_ACTIVATE_PROBE_OUT: out } });
    try {
        const { browser, page } = await scripts.launchChromium();
        try {
            const exited = new Promise<number>((resolve) => void page.exposeFunction('codeAutomationExit', (code) => resolve(Number(code))));
            await page.goto(
                scripts.workbenchUrl({
                    origin: server.origin,
                    remoteUri: server.remoteUri,
                    folder: workspace,
                    extensionDevelopmentPath: root,
                    extensionTestsPath: path.join(root, 'bench', 'activateProbe.cjs'),
                }),
            );
            const code = await exited;
            if (code !== 0 || !existsSync(out)) throw new Error(`the probe failed in round ${round} (exit ${code})`);
        } finally {
            await browser.close();
        }
    } finally {
        await server.stop();
    }
    return JSON.parse(readFileSync(out, 'utf8').trim());
}

async function main(): Promise<void> {
    const scripts = await workbenchScripts();
    const scratch = mkdtempSync(path.join(tmpdir(), 'local-ai-bench-activate-'));
    const samples: ProbeSample[] = [];
    try {
        for (let round = 0; round < rounds; round++) {
            samples.push(await oneWindow(scripts, scratch, round));
            progress(`round ${round}: ${JSON.stringify(samples[round])}`);
        }
    } finally {
        rmSync(scratch, { recursive: true, force: true });
    }
    const measured = (pick: (sample: ProbeSample) => number | null) => samples.map(pick).filter((value): value is number => value !== null);
    const windows = `median of ${rounds} fresh windows`;
    report([
        {
            name: `extension activate(), call to settled, extension host's marks (${windows})`,
            unit: 'ms',
            target: '≤ 20 ms',
            ...summarize(measured((sample) => sample.activateMs)),
        },
        {
            name: `extension bundle load, module evaluation included, extension host's marks (${windows})`,
            unit: 'ms',
            target: 'informational',
            ...summarize(measured((sample) => sample.loadMs)),
        },
        {
            name: `extension activate() body, its exported activationMs (${windows})`,
            unit: 'ms',
            target: 'informational',
            ...summarize(samples.map((sample) => sample.exportedActivationMs)),
        },
    ]);
}

main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
