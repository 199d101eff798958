#!/usr/bin/env node
// `npm start`: set up (scripts/setup.mjs), build, then open VS Code with Local AI as a development
// extension. With desktop VS Code on this machine (scripts/test-host.mjs finds it) that is desktop
// VS Code; otherwise the local VS Code server (installed once into a cache outside the clone),
// whose URL is printed for a browser. Runs until Ctrl+C.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './run.mjs';
import { SetupError, setup } from './setup.mjs';
import { chooseTestHost } from './test-host.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

async function main() {
    await setup({ command: 'start' });
    await run(npm, ['run', 'build']);
    const { desktopExecutable } = chooseTestHost({ env: { ...process.env, LOCAL_AI_TEST_HOST: '' } });
    if (desktopExecutable) {
        console.log(`Opening VS Code (${desktopExecutable}) with Local AI as a development extension…`);
        await run(desktopExecutable, [`--extensionDevelopmentPath=${repoRoot}`, repoRoot]);
        return;
    }
    console.log('No desktop VS Code here: starting the local VS Code server.');
    const { serve } = await import('./vscode-server.mjs');
    await serve({ extensionDevelopmentPath: repoRoot, folder: repoRoot });
}

main().catch((error) => {
    // A SetupError already says what to do; anything else is a bug worth its stack.
    console.error(error instanceof SetupError ? error.message : (error.stack ?? String(error)));
    process.exit(1);
});
