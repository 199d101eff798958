#!/usr/bin/env node
// Keeps `npm ci` working where the npm registry mirror lacks some of node-llama-cpp's optional
// platform packages (win/mac/riscv builds): npm then leaves them out of package-lock.json, and
// `npm ci` refuses the lockfile as out of sync (npm/cli#9846). This adds the missing entries with
// their os/cpu, which npm ci skips on other platforms exactly as it would with the full entries.
// Run it after any `npm install` that rewrote the lockfile.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const lockPath = join(root, 'package-lock.json');
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const llamaPath = 'node_modules/node-llama-cpp';
const llama = lock.packages[llamaPath];
const platforms = { linux: 'linux', mac: 'darwin', win: 'win32' };

let added = 0;
for (const name of Object.keys(llama.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (lock.packages[key]) continue;
    const [platform, cpu] = name.replace('@node-llama-cpp/', '').split('-');
    lock.packages[key] = {
        version: llama.optionalDependencies[name],
        cpu: [cpu],
        license: 'MIT',
        optional: true,
        os: [platforms[platform] ?? platform],
        engines: { node: '>=20.0.0' },
    };
    added++;
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(added ? `package-lock.json: added ${added} platform entries npm left out.` : 'package-lock.json: complete.');
