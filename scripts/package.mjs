#!/usr/bin/env node
// `npm run package`: one platform-specific VSIX under dist/ (default target: this machine, e.g. linux-x64).
//
// The extension, sidecar and CLI are bundled by esbuild; only node-llama-cpp (native, cannot be bundled)
// ships in node_modules, with the prebuilt llama.cpp binaries of the target platform alone. The large GPU
// backends (CUDA ≈ 540 MB, Vulkan ≈ 70 MB) are left out: see "GPU backends" in the README.
//
//   node scripts/package.mjs [--target linux-x64]
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const targetFlag = process.argv.indexOf('--target');
const target = targetFlag > 0 ? process.argv[targetFlag + 1] : `${process.platform}-${process.arch}`;
const binaryPackage = {
    'linux-x64': 'linux-x64',
    'linux-arm64': 'linux-arm64',
    'darwin-arm64': 'mac-arm64-metal',
    'darwin-x64': 'mac-x64',
    'win32-x64': 'win-x64',
    'win32-arm64': 'win-arm64',
}[target];
if (!binaryPackage) throw new Error(`No llama.cpp binaries are known for target ${target}.`);

const run = (command, args, options = {}) => execFileSync(command, args, { stdio: 'inherit', cwd: root, ...options });

console.log(`Packaging Local AI for ${target}…`);
run(process.execPath, [join(root, 'esbuild.js'), '--production']);

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const stage = mkdtempSync(join(tmpdir(), 'local-ai-vsix-'));
try {
    // A manifest whose only runtime dependency is node-llama-cpp: everything else is in the bundles.
    const staged = { ...manifest, dependencies: { 'node-llama-cpp': manifest.dependencies['node-llama-cpp'] }, devDependencies: {}, scripts: {} };
    writeFileSync(join(stage, 'package.json'), JSON.stringify(staged, null, 2));
    for (const file of ['README.md', 'LICENSE', 'dist/extension.js', 'dist/sidecar.mjs', 'dist/cli.mjs', 'dist/webview', 'media', 'models']) {
        if (existsSync(join(root, file))) cpSync(join(root, file), join(stage, file), { recursive: true });
    }

    // node-llama-cpp's own dependency tree, without optional packages (all the platform binaries)…
    run('npm', ['install', '--omit=dev', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock'], { cwd: stage });
    // …then only this target's binaries, copied from the installed tree so the versions match.
    const binaries = join('node_modules', '@node-llama-cpp', binaryPackage);
    if (!existsSync(join(root, binaries))) throw new Error(`${binaries} is not installed; run npm ci on a ${target} machine.`);
    mkdirSync(join(stage, 'node_modules', '@node-llama-cpp'), { recursive: true });
    cpSync(join(root, binaries), join(stage, binaries), { recursive: true });
    // The llama.cpp source bundle is only for building from source, which the extension never does.
    rmSync(join(stage, 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle'), { force: true });

    writeFileSync(join(stage, '.vscodeignore'), ['**/*.map', '**/*.ts', '!**/*.d.ts', 'node_modules/**/test/**', 'node_modules/**/docs/**'].join('\n'));
    mkdirSync(join(root, 'dist'), { recursive: true });
    const vsix = join(root, 'dist', `local-ai-${target}-${manifest.version}.vsix`);
    const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
    run(process.execPath, [vsce, 'package', '--allow-missing-repository', '--skip-license', '--target', target, '--out', vsix], { cwd: stage });
    console.log(`\n${vsix}: ${(statSync(vsix).size / 1024 / 1024).toFixed(1)} MB`);
} finally {
    rmSync(stage, { recursive: true, force: true });
}
