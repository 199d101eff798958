// The model manager as a user meets it, in the real workbench: the Models tree with the recommended
// model and its fit badge, a download from a (fake, loopback) Hugging Face hub watched in the status
// bar from percentages to the model's name, switching models from the status bar, and a download
// cancelled and resumed. Screenshots go to test-results/.
//
// The downloads are small generated GGUF files configured as user models (`localAi.models` with hf:
// URIs served by test/fixtures/fakeHub). A "stall" fault holds each download at a known fraction,
// so the percentage stays on screen long enough to see and to cancel.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { startFakeHub, type FakeHub } from '../fixtures/fakeHub/server';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import {
    downloadFromPalette,
    openLocalAiView,
    openWorkbench,
    runCommand,
    statusBarText,
    treeRows,
    UI_TIMEOUT_MS,
    waitForStatusBarItem,
    type Workbench,
} from './workbench';

const STATUS = '.part.statusbar [id*="localAi.status"]';
const CODER = { repo: 'local-ai-test/Tiny-Coder-GGUF', path: 'Tiny-Coder-Q8_0.gguf', name: 'Tiny Coder' };
const CHAT = { repo: 'local-ai-test/Tiny-Chat-GGUF', path: 'Tiny-Chat-Q4_0.gguf', name: 'Tiny Chat' };
/** Already on disk (found in localAi.extraModelFolders), so there are two models to switch between. */
const LOCAL_NAME = 'Tiny-Local-F32';
const FIT_WORDS = /Fits on the GPU|Partly on the GPU|Runs on the CPU|Does not fit this machine/;

async function waitForStatus(page: Page, pattern: RegExp, timeout = UI_TIMEOUT_MS): Promise<string> {
    const started = Date.now();
    let text = '';
    while (Date.now() - started < timeout) {
        text = await statusBarText(page, 'localAi.status');
        if (pattern.test(text)) return text;
        await page.waitForTimeout(200);
    }
    throw new Error(`status bar never matched ${pattern}; it says "${text}"`);
}

async function waitForRow(page: Page, pattern: RegExp): Promise<string> {
    const started = Date.now();
    let rows: string[] = [];
    while (Date.now() - started < UI_TIMEOUT_MS) {
        rows = await treeRows(page);
        const row = rows.find((candidate) => pattern.test(candidate));
        if (row) return row;
        await page.waitForTimeout(250);
    }
    throw new Error(`no side bar row matched ${pattern}; rows: ${rows.join(' | ')}`);
}

const GROUPS = /^(Recommended for this machine|Installed|Downloading|Catalog|Cloud providers)\b/;

/** Waits until a row under the Installed group matches and no Downloading group is left. */
async function waitForInstalledRow(page: Page, pattern: RegExp, timeout = UI_TIMEOUT_MS): Promise<string> {
    const started = Date.now();
    let rows: string[] = [];
    while (Date.now() - started < timeout) {
        rows = await treeRows(page);
        const group = rows.indexOf('Installed');
        const next = rows.findIndex((row, index) => index > group && GROUPS.test(row));
        const installed = group < 0 ? [] : rows.slice(group + 1, next < 0 ? undefined : next);
        const row = installed.find((candidate) => pattern.test(candidate));
        if (row && !rows.some((candidate) => candidate.startsWith('Downloading'))) return row;
        await page.waitForTimeout(250);
    }
    throw new Error(`no row under Installed matched ${pattern} with nothing left downloading; rows: ${rows.join(' | ')}`);
}

describe('Model manager in the workbench', function () {
    this.timeout(6 * 60_000);
    let workbench: Workbench | undefined;
    let hub: FakeHub | undefined;
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-models-e2e-'));

    before(async () => {
        const fixture = ensureFixtureModel(defaultFixtureDir(), tinyModel);
        const localFolder = path.join(scratch, 'local');
        fs.mkdirSync(localFolder, { recursive: true });
        fs.copyFileSync(fixture, path.join(localFolder, `${LOCAL_NAME}.gguf`));
        const size = fs.statSync(fixture).size;
        hub = await startFakeHub({
            files: [
                { repo: CODER.repo, path: CODER.path, filePath: fixture },
                { repo: CHAT.repo, path: CHAT.path, filePath: fixture },
            ],
            // Each file stops once at a known point: the downloader's stall timeout then resumes the
            // Coder by itself, and the Chat download is cancelled there by the test.
            faults: [
                { kind: 'stall', path: CODER.path, times: 1, afterBytes: Math.floor(size * 0.42) },
                { kind: 'stall', path: CHAT.path, times: 1, afterBytes: Math.floor(size * 0.3) },
            ],
        });
        workbench = await openWorkbench({
            settings: {
                'localAi.hubEndpoint': hub.url,
                'localAi.modelsPath': path.join(scratch, 'models'),
                'localAi.extraModelFolders': [localFolder],
                // Chat is set to the model the test downloads, so the status bar names it once it is there.
                'localAi.defaultModel': `hf:${CODER.repo}/${CODER.path}`,
                'localAi.models': [
                    { source: `hf:${CODER.repo}/${CODER.path}`, name: CODER.name },
                    { source: `hf:${CHAT.repo}/${CHAT.path}`, name: CHAT.name },
                ],
            },
        });
    });

    after(async () => {
        await workbench?.close();
        await hub?.stop();
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    it('shows the recommended model with its fit badge, and what is installed', async () => {
        const { page } = workbench!;
        await openLocalAiView(page);
        await waitForRow(page, /^Recommended for this machine/);
        const installedRow = await waitForRow(page, new RegExp(`^${LOCAL_NAME}\\b`));
        assert.match(installedRow, /F32/);
        const rows = await treeRows(page);
        const recommended = rows[rows.findIndex((row) => row.startsWith('Recommended for this machine')) + 1];
        assert.match(recommended, FIT_WORDS, `recommended row: ${recommended}`);
        assert.ok(
            rows.some((row) => /^Catalog/.test(row)),
            rows.join(' | '),
        );
        // The badge is an icon on the row, coloured by how it fits.
        const badge = page.locator('.part.sidebar .monaco-list-row').nth(rows.indexOf(recommended)).locator('.codicon').first();
        assert.match((await badge.getAttribute('class')) ?? '', /codicon-(rocket|layers-active|chip|circle-slash)/);
        await workbench!.screenshot('e2e-models-tree');
        // The hover opens after a delay and only on a fresh mouse-over, so move away and back until it shows.
        const tooltip = page.locator('.monaco-hover', { hasText: 'RAM needed' }).first();
        for (let attempt = 0; attempt < 5 && !(await tooltip.isVisible()); attempt++) {
            await page.mouse.move(700, 400);
            await page.locator('.part.sidebar .monaco-list-row').nth(rows.indexOf(recommended)).hover();
            await tooltip.waitFor({ timeout: 5_000 }).catch(() => undefined);
        }
        await tooltip.waitFor({ timeout: UI_TIMEOUT_MS });
        await workbench!.screenshot('e2e-models-tooltip');
        await page.mouse.move(0, 0);
    });

    it('offers on each row the actions that fit its state', async () => {
        const { page } = workbench!;
        /** Right-clicks the row `pick` chooses among the side bar rows and reads its context menu. */
        const menuFor = async (pick: (rows: string[]) => number): Promise<string[]> => {
            const rows = await treeRows(page);
            const index = pick(rows);
            assert.ok(index >= 0, `no such row among: ${rows.join(' | ')}`);
            await page.locator('.part.sidebar .monaco-list-row').nth(index).click({ button: 'right' });
            const menu = page.locator('.monaco-menu .action-label');
            await menu.first().waitFor({ timeout: UI_TIMEOUT_MS });
            return (await menu.allInnerTexts()).map((label) => label.trim()).filter(Boolean);
        };
        const installed = await menuFor((rows) => rows.findIndex((row) => row.startsWith(`${LOCAL_NAME},`)));
        await workbench!.screenshot('e2e-models-context-menu');
        await page.keyboard.press('Escape');
        for (const action of ['Load Model', 'Delete Model', 'Reveal in File Explorer', 'Check Models (Verify Integrity)'])
            assert.ok(installed.includes(action), `${action} in ${installed.join(', ')}`);
        assert.ok(!installed.includes('Download Model…'), installed.join(', '));
        // The recommended catalog model, not downloaded yet: the row right under its group.
        const available = await menuFor((rows) => {
            const group = rows.findIndex((row) => row.startsWith('Recommended for this machine'));
            return group < 0 ? -1 : group + 1;
        });
        await page.keyboard.press('Escape');
        for (const action of ['Download Model…', 'Choose Quantization…', 'Open on Hugging Face'])
            assert.ok(available.includes(action), `${action} in ${available.join(', ')}`);
        assert.ok(!available.includes('Delete Model'), available.join(', '));
    });

    it('downloads a model from the hub, the status bar going from percentages to its name', async () => {
        const { page } = workbench!;
        // Local AI is active (its status shows) before its commands are looked for in the palette, and its rows are on screen.
        await waitForStatusBarItem(page, 'localAi.status');
        await openLocalAiView(page);
        await downloadFromPalette(page, CODER.name);
        const progress = await waitForStatus(page, new RegExp(`\\d+% · ${CODER.name}`));
        assert.match(progress, /\d+%/);
        await waitForRow(page, /^Downloading/);
        await workbench!.screenshot('e2e-download-progress');
        // The hub stalls at 42%; the downloader gives up on that connection and resumes by itself. Installed, the
        // status bar says only the model and where it runs, and its row has left Downloading (where a row shows
        // the percentage, and "active" once the file is in place but still verifying) for Installed.
        await waitForStatus(page, new RegExp(`^${CODER.name} · (not loaded|CPU|GPU)$`), 3 * UI_TIMEOUT_MS);
        const row = await waitForInstalledRow(page, new RegExp(`^${CODER.name}, [○●] active · Q8_0 · `));
        assert.doesNotMatch(row, /%/);
        assert.doesNotMatch(await statusBarText(page, 'localAi.status'), /%|verifying|downloading/);
        await workbench!.screenshot('e2e-download-done');
    });

    it('switches models from the status bar, with fit badges in the pick', async () => {
        const { page } = workbench!;
        await page.locator(STATUS).click();
        await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Select the model chat uses' }).waitFor({ timeout: UI_TIMEOUT_MS });
        const localRow = page.locator('.quick-input-widget .monaco-list-row', { hasText: LOCAL_NAME }).first();
        await localRow.waitFor({ timeout: UI_TIMEOUT_MS });
        // Files outside the catalog carry no architecture facts, so their badge may say it was not estimated.
        assert.match(await localRow.innerText(), new RegExp(`${FIT_WORDS.source}|Fit not estimated yet`));
        await workbench!.screenshot('e2e-switch-model');
        await localRow.click();
        // Picking a model makes it the chat model and loads it: the status bar names it with its engine.
        const status = await waitForStatus(page, new RegExp(`^${LOCAL_NAME} · (CPU|GPU)`), 3 * UI_TIMEOUT_MS);
        assert.doesNotMatch(status, new RegExp(CODER.name));
        await waitForRow(page, new RegExp(`^${LOCAL_NAME}, ● active`));
        await workbench!.screenshot('e2e-switched');
    });

    it('cancels a download, keeps what it fetched, and resumes it from there', async () => {
        const { page } = workbench!;
        hub!.resetCounters();
        await downloadFromPalette(page, CHAT.name);
        await waitForStatus(page, new RegExp(`\\d+% · ${CHAT.name}`));
        await runCommand(page, 'Local AI: Cancel Download');
        await waitForStatus(page, /^(?!.*%)/);
        await workbench!.screenshot('e2e-download-paused');
        const fetchedBefore = hub!.bytesServed(CHAT.path);
        assert.ok(fetchedBefore > 0, 'the first attempt fetched part of the file');
        // Cancelled, not finished behind the test's back (the stall would let it go on after 30 s): what was
        // fetched waits in the partial file, and nothing is installed.
        const installedPath = path.join(scratch, 'models', CHAT.repo, CHAT.path);
        assert.equal(fs.existsSync(installedPath), false, 'the cancelled download was installed');
        const kept = fs.statSync(`${installedPath}.partial`).size;
        assert.ok(kept > 0 && kept <= fetchedBefore, `the partial holds ${kept} bytes of the ${fetchedBefore} fetched`);

        await downloadFromPalette(page, CHAT.name);
        // Installed: its row leaves Downloading (where it shows a percentage) for Installed.
        await waitForRow(page, new RegExp(`^${CHAT.name}, (?!.*%)`));
        const size = fs.statSync(ensureFixtureModel(defaultFixtureDir(), tinyModel)).size;
        const resumed = hub!.requests.filter((request) => request.port === 'cdn' && request.url.includes(CHAT.path) && request.range);
        assert.ok(
            resumed.some((request) => request.range === `bytes=${kept}-`),
            `no range request resumed the file from its partial (${kept} bytes): ${JSON.stringify(resumed)}`,
        );
        assert.equal(hub!.bytesServed(CHAT.path), size, 'the resume fetched only what was missing');
        await workbench!.screenshot('e2e-download-resumed');
    });
});
