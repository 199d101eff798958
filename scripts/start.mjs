#!/usr/bin/env node
// `npm start`: build, then open VS Code with Local AI as a development extension.
// With `code` on PATH that is desktop VS Code; otherwise the local VS Code server
// (scripts/vscode-server.mjs, installed once into a cache outside the clone), whose URL
// is printed for a browser. Runs until Ctrl+C.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(command, args) {
    return new Promise((resolvePromise, reject) => {
        const child = spawn(command, args, { cwd: repoRoot, stdio: 'inherit' });
        child.on('error', reject);
        child.on('exit', (code, signal) => code === 0
            ? resolvePromise()
            : reject(new Error(`${command} ${args.join(' ')} failed: ${signal ?? `exit ${code}`}`)));
    });
}

function onPath(name) {
    return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, name)));
}

async function main() {
    if (!existsSync(join(repoRoot, 'node_modules'))) {
        console.log('node_modules is missing: npm ci');
        await run(npm, ['ci']);
    }
    await run(npm, ['run', 'build']);
    if (onPath('code')) {
        console.log('Opening VS Code with Local AI as a development extension…');
        await run('code', [`--extensionDevelopmentPath=${repoRoot}`, repoRoot]);
        return;
    }
    console.log('`code` is not on PATH: starting the local VS Code server (first run installs it, a few minutes).');
    const { serve } = await import('./vscode-server.mjs');
    await serve({ extensionDevelopmentPath: repoRoot, folder: repoRoot });
}

main().catch((error) => {
    console.error(error.message);
    process.exit(1);
});
