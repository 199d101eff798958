// Headless Chromium for the workbench tests: Debian's /usr/bin/chromium driven by
// playwright-core (Playwright's own browser download cannot work on these machines).
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { chromiumPath } from './setup.mjs';

/** Overridable for machines with Chrome elsewhere (LOCAL_AI_CHROMIUM). */
export const CHROMIUM_PATH = chromiumPath();

/**
 * Flags that keep Chromium off the network and quiet; without the background-networking
 * ones it opens many connections that a closed network refuses. Playwright itself gives
 * every launch a fresh, empty profile (--user-data-dir).
 */
const FLAGS = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
];

/**
 * Launches Chromium and opens one page at a size where the workbench shows its activity bar,
 * side bar, editor and panel.
 * @returns {Promise<{ browser: import('playwright-core').Browser, page: import('playwright-core').Page }>}
 */
export async function launchChromium() {
    if (!existsSync(CHROMIUM_PATH)) {
        throw new Error(
            `${CHROMIUM_PATH} is missing: 'npm test' installs Debian's chromium by itself (as root or with sudo -n), or set LOCAL_AI_CHROMIUM to another Chrome`,
        );
    }
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: FLAGS });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    return { browser, page };
}
