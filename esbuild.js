// Bundles every piece of Local AI: the extension (cjs, `vscode` external), the sidecar and the CLI
// (ESM, node-llama-cpp external: it loads native binaries and cannot be bundled), the chat webview
// (browser: its script, its stylesheet and the codicon font, all in dist/webview), and the test and
// benchmark suites. `node esbuild.js --watch` rebuilds on change.
const esbuild = require('esbuild');
const fs = require('node:fs');
const path = require('node:path');

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

/** Lets bundled CommonJS code call `require` for Node built-ins inside an ES module. */
const esmRequireBanner = {
    js: "import { createRequire as __localAiCreateRequire } from 'node:module'; const require = __localAiCreateRequire(import.meta.url);",
};

const common = {
    bundle: true,
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
    target: 'node20',
    platform: 'node',
};

/** Files under `dir` whose names end with one of `suffixes`, as esbuild entry points. */
function entries(dir, suffixes) {
    if (!fs.existsSync(dir)) return [];
    return fs
        .readdirSync(dir, { recursive: true })
        .map((file) => path.join(dir, String(file)))
        .filter((file) => suffixes.some((suffix) => file.endsWith(suffix)));
}

/** Everything the chat webview loads, and the only folder it may read (its localResourceRoots). */
const WEBVIEW_OUT = 'dist/webview';

/** The codicon font and its stylesheet come from the installed package, so they match its version. */
function copyCodicons() {
    const from = path.dirname(require.resolve('@vscode/codicons/dist/codicon.css'));
    fs.mkdirSync(WEBVIEW_OUT, { recursive: true });
    for (const file of ['codicon.css', 'codicon.ttf']) fs.copyFileSync(path.join(from, file), path.join(WEBVIEW_OUT, file));
}

function productBundles() {
    return [
        {
            ...common,
            entryPoints: { extension: 'src/extension/extension.ts' },
            outdir: 'dist',
            format: 'cjs',
            external: ['vscode'],
        },
        {
            ...common,
            // The GPU backends' resolve hook runs on Node's loader thread, so it must be a file of its own (llama/backendResolver.ts).
            entryPoints: { sidecar: 'src/sidecar/server.ts', cli: 'src/sidecar/cli.ts', gpuResolveHook: 'src/sidecar/gpu/resolveHook.ts' },
            outdir: 'dist',
            outExtension: { '.js': '.mjs' },
            format: 'esm',
            external: ['node-llama-cpp'],
            banner: esmRequireBanner,
        },
        {
            ...common,
            platform: 'browser',
            target: 'es2022',
            entryPoints: [
                { in: 'src/webview/main.ts', out: 'chat' },
                { in: 'src/webview/chat.css', out: 'chat' },
            ],
            outdir: WEBVIEW_OUT,
            format: 'iife',
        },
    ];
}

/**
 * Packages test bundles leave to Node: native code, the test runner itself, the browser driver, and the
 * TypeScript compiler (the import-cycle test reads src/ with it; bundled it would add megabytes to each build).
 * Everything else is bundled (ESM bundles cannot import CommonJS subpaths such as 'vscode-jsonrpc/node').
 */
const TEST_EXTERNALS = ['node-llama-cpp', '@node-llama-cpp/*', 'playwright-core', 'mocha', 'esbuild', 'vscode', 'typescript'];

/** Test and bench suites, each test file its own bundle. */
function testBundles() {
    const esm = { ...common, format: 'esm', outExtension: { '.js': '.mjs' }, external: TEST_EXTERNALS, banner: esmRequireBanner };
    return [
        { ...esm, entryPoints: entries('test/unit', ['.test.ts']), outdir: 'dist/test/unit' },
        { ...esm, entryPoints: entries('test/sidecar', ['.test.ts']), outdir: 'dist/test/sidecar' },
        { ...esm, entryPoints: entries('test/e2e', ['.e2e.ts']), outdir: 'dist/test/e2e' },
        { ...esm, entryPoints: entries('test/fixtures', ['.cli.ts']), outdir: 'dist/test/fixtures' },
        { ...esm, entryPoints: entries('bench', ['.bench.ts']), outdir: 'dist/bench' },
        {
            ...common,
            format: 'cjs',
            external: ['vscode', 'mocha'],
            entryPoints: entries('test/extension', ['.ts']),
            outdir: 'dist/test/extension',
        },
    ].filter((options) => options.entryPoints.length > 0);
}

async function main() {
    const all = [...productBundles(), ...(production ? [] : testBundles())].filter(
        (options) => !Array.isArray(options.entryPoints) || options.entryPoints.length > 0,
    );
    copyCodicons();
    if (watch) {
        const contexts = await Promise.all(all.map((options) => esbuild.context(options)));
        await Promise.all(contexts.map((context) => context.watch()));
        console.log('esbuild: watching for changes…');
        return;
    }
    await Promise.all(all.map((options) => esbuild.build(options)));
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
