#!/usr/bin/env node
// `npm run package`: one platform-specific VSIX per VS Code target under dist/.
//
// The extension, sidecar and CLI are bundled by esbuild; only node-llama-cpp (native, cannot be bundled)
// ships in node_modules, with the prebuilt llama.cpp CPU binaries of the target platform alone (on
// darwin-arm64 they include Metal). The large GPU backends (CUDA ≈ 540 MB, Vulkan ≈ 70 MB) are left
// out: see "GPU backends" in the README. The extension and node-llama-cpp's dependency tree are staged
// once; each target then only adds its platform package to a copy and runs vsce.
//
//   node scripts/package.mjs [--target linux-x64 | --all]   (default: this machine's target)
//
// Env: LOCAL_AI_PACKAGING_CACHE (default ~/.cache/local-ai/packaging) keeps the platform packages
// fetched from the registry (npm_config_registry) between runs.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { checkBinaries } from './packaging/binaryCheck.mjs';
import { stagePlatformPackage } from './packaging/platformPackage.mjs';
import { ALL_TARGETS, TARGETS } from './packaging/targets.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: options } = parseArgs({ options: { target: { type: 'string' }, all: { type: 'boolean', default: false } } });
if (options.all && options.target) throw new Error('Give either --target <target> or --all, not both.');
const targets = options.all ? ALL_TARGETS : [options.target ?? `${process.platform}-${process.arch}`];
for (const target of targets) {
    if (!TARGETS[target]) throw new Error(`No llama.cpp binaries are known for target ${target}; known: ${Object.keys(TARGETS).join(', ')}.`);
}

const execFileAsync = promisify(execFile);
const run = (command, args, options = {}) => execFileSync(command, args, { stdio: 'inherit', cwd: root, ...options });
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const llamaVersion = manifest.dependencies['node-llama-cpp'];
if (!/^\d+\.\d+\.\d+$/.test(llamaVersion)) throw new Error(`node-llama-cpp must be pinned to one exact version in package.json, not ${llamaVersion}.`);

console.log(`Packaging Local AI ${manifest.version} for ${targets.join(', ')} (node-llama-cpp ${llamaVersion})…`);
run(process.execPath, [join(root, 'esbuild.js'), '--production']);

const stage = mkdtempSync(join(tmpdir(), 'local-ai-vsix-'));
try {
    const base = join(stage, 'base');
    mkdirSync(base);
    // A manifest whose only runtime dependency is node-llama-cpp: everything else is in the bundles.
    const staged = { ...manifest, dependencies: { 'node-llama-cpp': llamaVersion }, devDependencies: {}, scripts: {} };
    writeFileSync(join(base, 'package.json'), JSON.stringify(staged, null, 2));
    for (const file of ['README.md', 'LICENSE', 'dist/extension.js', 'dist/sidecar.mjs', 'dist/cli.mjs', 'dist/webview', 'media', 'models']) {
        if (existsSync(join(root, file))) cpSync(join(root, file), join(base, file), { recursive: true });
    }
    // node-llama-cpp's own dependency tree, without optional packages (all the platform binaries), once for every target.
    run('npm', ['install', '--omit=dev', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock'], { cwd: base });
    // The llama.cpp source bundle is only for building from source, which the extension never does.
    rmSync(join(base, 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle'), { force: true });
    writeFileSync(join(base, '.vscodeignore'), ['**/*.map', '**/*.ts', '!**/*.d.ts', 'node_modules/**/test/**', 'node_modules/**/docs/**'].join('\n'));
    mkdirSync(join(root, 'dist'), { recursive: true });

    // Each target: a copy of the staged tree, its platform package added and checked, then vsce; as
    // many at once as there are cores (vsce spends its time compressing).
    const packageTarget = async (target) => {
        const { binaries, format, arch } = TARGETS[target];
        const folder = join(stage, target);
        cpSync(base, folder, { recursive: true });
        const name = `@node-llama-cpp/${binaries}`;
        const from = stagePlatformPackage({ name, version: llamaVersion, root, into: join(folder, 'node_modules', name) });
        console.log(`${target}: ${name}@${llamaVersion} from ${from}`);
        checkBinaries({ folder, target, format, arch });
        const vsix = join(root, 'dist', `local-ai-${target}-${manifest.version}.vsix`);
        const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
        const args = [vsce, 'package', '--allow-missing-repository', '--skip-license', '--target', target, '--out', vsix];
        await execFileAsync(process.execPath, args, { cwd: folder, maxBuffer: 64 * 1024 * 1024 }).catch((error) => {
            throw new Error(`vsce failed for ${target}:\n${error.stdout}\n${error.stderr}`);
        });
        rmSync(folder, { recursive: true, force: true });
        console.log(`${vsix}: ${(statSync(vsix).size / 1024 / 1024).toFixed(1)} MB`);
    };
    const queue = [...targets];
    const worker = async () => {
        for (let target = queue.shift(); target; target = queue.shift()) await packageTarget(target);
    };
    // Every worker finishes before the stage is removed; the first failure is then the one reported.
    const failed = (await Promise.allSettled(Array.from({ length: Math.min(queue.length, availableParallelism()) }, worker))).find(
        (outcome) => outcome.status === 'rejected',
    );
    if (failed) throw failed.reason;
} finally {
    rmSync(stage, { recursive: true, force: true });
}
