// Drives the real VS Code workbench, with Local AI loaded as a development extension,
// from mocha tests running in Node (test/e2e/*.e2e.ts, bundled to dist/test/e2e).
//
// The server is scripts/vscode-server.mjs (code-server's VS Code server, cached outside the
// clone); the browser is Debian's Chromium via scripts/chromium.mjs. Both are plain .mjs
// files loaded at run time with import() rather than bundled: they locate the repo and the
// cache from their own file location.
//
// Settings: code-server's build of the VS Code server keeps User settings on the server, in
// <server-data-dir>/data/User/settings.json (not in the browser, as stock VS Code web does);
// startServer writes them there before the workbench loads, so the extension sees them
// from its first activation.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser, FrameLocator, Locator, Page } from 'playwright-core';

export interface WorkbenchOptions {
    /** Workspace folder to open. Default: a fresh empty temp folder. */
    folder?: string;
    /**
     * User settings in place before the workbench loads, e.g. `{ 'localAi.hubUrl': fakeHub.url }`.
     * Default: only the quiet defaults of scripts/vscode-server.mjs (no welcome page, no updates).
     */
    settings?: Record<string, unknown>;
    /** Extra environment for the server, its extension host and our sidecar. Default: none. */
    env?: Record<string, string>;
    /** Keep workspace trust on: the folder opens in Restricted Mode (never trusted by the test). Default: false, trust disabled. */
    workspaceTrust?: boolean;
}

export interface Workbench {
    page: Page;
    server: RunningServer;
    /** Saves test-results/<name>.png and returns its path. */
    screenshot(name: string): Promise<string>;
    /** Closes the browser and stops the server (with the extension host and the sidecar). */
    close(): Promise<void>;
}

/** What scripts/vscode-server.mjs's startServer() returns. */
export interface RunningServer {
    url: string;
    port: number;
    origin: string;
    serverDataDir: string;
    stop(): Promise<void>;
}

interface ServerModule {
    startServer(options: {
        serverDataDir?: string;
        settings?: Record<string, unknown>;
        extensionDevelopmentPath?: string;
        folder?: string;
        env?: Record<string, string>;
        workspaceTrust?: boolean;
        onOutput?: (line: string) => void;
    }): Promise<RunningServer>;
}

interface ChromiumModule {
    launchChromium(): Promise<{ browser: Browser; page: Page }>;
}

/** The smoke-test driver VS Code installs on window with --enable-smoke-test-driver. */
interface WindowWithDriver {
    driver?: { whenWorkbenchRestored(): Promise<void> };
}

/** Found from this file's location, which differs between the source and the ESM bundle in dist/test/e2e. */
export const repoRoot = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));

/** How long to wait for the workbench and for UI elements; shared machines can be slow. */
export const UI_TIMEOUT_MS = 60_000;

export async function openWorkbench(options: WorkbenchOptions = {}): Promise<Workbench> {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-e2e-'));
    const folder = options.folder ?? path.join(scratch, 'workspace');
    fs.mkdirSync(folder, { recursive: true });
    const serverDataDir = path.join(scratch, 'server');

    const { startServer } = await importScript<ServerModule>('vscode-server.mjs');
    const { launchChromium } = await importScript<ChromiumModule>('chromium.mjs');
    const serverLog: string[] = [];
    const server = await startServer({
        serverDataDir,
        settings: options.settings,
        extensionDevelopmentPath: repoRoot,
        folder,
        env: options.env,
        workspaceTrust: options.workspaceTrust,
        onOutput: (line) => {
            serverLog.push(line);
            if (process.env.LOCAL_AI_SERVER_LOG) console.log(`[server] ${line}`);
        },
    });
    let browser: Browser | undefined;
    const close = async () => {
        await browser?.close().catch(() => undefined);
        await server.stop();
        fs.rmSync(scratch, { recursive: true, force: true });
    };
    try {
        const launched = await launchChromium();
        browser = launched.browser;
        const page = launched.page;
        page.on('pageerror', (error) => console.log(`      [page error] ${error.message}`));
        await page.goto(server.url);
        await page.waitForFunction(() => !!(window as WindowWithDriver).driver, undefined, { timeout: UI_TIMEOUT_MS });
        await page.evaluate(() => (window as WindowWithDriver).driver!.whenWorkbenchRestored());
        return {
            page,
            server,
            screenshot: (name) => saveScreenshot(page, name),
            close,
        };
    } catch (error) {
        await close();
        throw new Error(`${(error as Error).message}\n--- server output ---\n${serverLog.slice(-40).join('\n')}`);
    }
}

/** Opens the Local AI view container by clicking its activity bar icon. */
export async function openLocalAiView(page: Page): Promise<void> {
    const item = page
        .locator('.part.activitybar .action-item')
        .filter({
            has: page.locator('[aria-label^="Local AI"]'),
        })
        .first();
    await item.waitFor({ timeout: UI_TIMEOUT_MS });
    if ((await item.getAttribute('aria-selected')) !== 'true' && !(await item.evaluate((e) => e.classList.contains('checked')))) {
        await item.click();
    }
    await page.locator('.part.sidebar .composite.title', { hasText: /local ai/i }).waitFor({ timeout: UI_TIMEOUT_MS });
}

/**
 * Text of the status bar items whose id contains `idSubstring` (all items when omitted),
 * joined by newlines. Item ids are `<extension id>.<item id>`, e.g. `local-ai.local-ai.status`.
 */
export async function statusBarText(page: Page, idSubstring = ''): Promise<string> {
    const items = page.locator('.part.statusbar .statusbar-item');
    const texts = await items.evaluateAll(
        (elements, wanted) =>
            elements
                .filter((e) => e.id.includes(wanted))
                .map((e) => (e as HTMLElement).innerText.trim())
                .filter((text) => text.length > 0),
        idSubstring,
    );
    return texts.join('\n');
}

/**
 * Waits until a status bar item whose id contains `idSubstring` shows text, e.g.
 * `localAi.status`, which Local AI shows as soon as it is activated.
 */
export async function waitForStatusBarItem(page: Page, idSubstring: string): Promise<void> {
    await page.waitForFunction(
        (wanted) =>
            [...document.querySelectorAll<HTMLElement>('.part.statusbar .statusbar-item')].some((e) => e.id.includes(wanted) && e.innerText.trim().length > 0),
        idSubstring,
        { timeout: UI_TIMEOUT_MS },
    );
}

/** The rows of the trees and lists in the side bar, as their accessible labels. */
export async function treeRows(page: Page): Promise<string[]> {
    return page
        .locator('.part.sidebar .monaco-list-row')
        .evaluateAll((rows) => rows.map((row) => row.getAttribute('aria-label') ?? (row as HTMLElement).innerText.trim()));
}

/** Runs a command by its Command Palette title (F1), e.g. `Local AI: Download Model`. */
export async function runCommand(page: Page, title: string): Promise<void> {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await input.waitFor({ timeout: UI_TIMEOUT_MS });
    await input.fill(`>${title}`);
    const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
    await row.waitFor({ timeout: UI_TIMEOUT_MS });
    await row.click();
}

/** Picks a model in the Download Model quick pick by typing its name, or an `hf:` URI. */
export async function downloadFromPalette(page: Page, name: string): Promise<void> {
    await runCommand(page, 'Local AI: Download Model…');
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Download a model' }).waitFor({ timeout: UI_TIMEOUT_MS });
    await input.fill(name);
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).first().waitFor({ timeout: UI_TIMEOUT_MS });
    await input.press('Enter');
}

/** Opens the Chat view once Local AI is active (its commands reach the palette then), ready for a question. */
export async function openChat(page: Page): Promise<FrameLocator> {
    await waitForStatusBarItem(page, 'localAi.status');
    await runCommand(page, 'Local AI: Open Chat');
    const chat = chatFrame(page);
    await chat.locator('#question').waitFor({ timeout: UI_TIMEOUT_MS });
    return chat;
}

/** Asks a question in the chat view and returns the answer's turn, as soon as it appears. */
export async function ask(chat: FrameLocator, question: string): Promise<Locator> {
    const box = chat.locator('#question');
    await box.fill(question);
    const before = await chat.locator('.turn.assistant').count();
    await box.press('Enter');
    await until('the answer appears', async () => (await chat.locator('.turn.assistant').count()) > before);
    return chat.locator('.turn.assistant').last();
}

async function saveScreenshot(page: Page, name: string): Promise<string> {
    const file = path.join(repoRoot, 'test-results', `${name}.png`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await page.screenshot({ path: file });
    return file;
}

function importScript<T>(name: string): Promise<T> {
    // A computed specifier: esbuild leaves this import() alone instead of bundling the .mjs.
    const url = pathToFileURL(path.join(repoRoot, 'scripts', name)).href;
    return import(url) as Promise<T>;
}

function findRepoRoot(start: string): string {
    for (let dir = start; dir !== path.dirname(dir); dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, 'scripts', 'vscode-server.mjs'))) return dir;
    }
    throw new Error(`no repository root above ${start}`);
}

/** Polls a condition in the page (a UI has no event to await from outside); fails with `what`. */
export async function until(what: string, condition: () => Promise<boolean>, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

/** The chat webview's document: VS Code nests it in two iframes. */
export function chatFrame(page: Page): FrameLocator {
    return page.frameLocator('iframe.webview').first().frameLocator('#active-frame');
}

/** Pids of the sidecar processes a test started (tagged through the environment they inherit). */
export function sidecarPids(tag: string): number[] {
    return fs
        .readdirSync('/proc')
        .filter((name) => /^\d+$/.test(name))
        .filter((pid) => {
            try {
                const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
                return cmdline.includes('sidecar.mjs') && fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`LOCAL_AI_E2E_TAG=${tag}`);
            } catch {
                return false; // the process ended while we looked
            }
        })
        .map(Number);
}
