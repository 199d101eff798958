/**
 * Bounded fuzz of the model store (issue 19): random trees of manifests, journals, models, partials and
 * links (to a decoy beside the store, and loops), with random JSON and hostile paths in every field. The
 * store, registry and maintenance run in process (offline, so the hub is never asked); every outcome must
 * be a result or a typed LocalAiError, the decoy must not change, and no model may be listed twice. One
 * tree the fuzz found (with bad entries and links) is then given to the real CLI.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { LocalAiError } from '../../src/common/errors';
import type { ModelListResult } from '../../src/common/protocol';
import { defaultSettings } from '../../src/common/settings';
import { SidecarContext } from '../../src/sidecar/context';
import { createModelServices } from '../../src/sidecar/models';
import { runCli } from '../fixtures/cliProcess';
import { treeDigest } from '../fixtures/storeTree';

const FOLDERS = ['o/r', 'o/r/sub', 'p/q', 'loose'];
const NAMES = ['a-Q4_K_M.gguf', 'b-Q8_0.gguf', 'c.gguf'];
/** Values a hostile or broken manifest puts where a repo or file name belongs. */
const HOSTILE = [
    'o/r',
    'p/q',
    '..',
    '../..',
    'o/../..',
    '/etc',
    '../decoy',
    '../decoy/dir',
    'o/r/../../x',
    'a\nb',
    'a\\b',
    '',
    'a-Q4_K_M.gguf',
    'sub/a-Q4_K_M.gguf',
    '../../../outside.gguf',
    'x.gguf.partial',
];
const MODEL_BYTES = Buffer.alloc(100, 'm');
const MODEL_SHA = createHash('sha256').update(MODEL_BYTES).digest('hex');
const STORE_ENDINGS = ['.partial', '.partial.json', '.manifest.json'];

type Content = { kind: 'valid' } | { kind: 'invalidJson'; text: string } | { kind: 'json'; value: unknown } | { kind: 'field'; field: string; value: unknown };

interface TreeEntry {
    kind: 'manifest' | 'journal' | 'model' | 'partial' | 'fileLink' | 'dirLink' | 'loop' | 'storeNameLink';
    folder: string;
    name: string;
    content: Content;
    ending: string;
}

const content: fc.Arbitrary<Content> = fc.oneof(
    fc.constant<Content>({ kind: 'valid' }),
    fc.string({ maxLength: 20 }).map<Content>((text) => ({ kind: 'invalidJson', text: `{${text}` })),
    fc.jsonValue({ maxDepth: 2 }).map<Content>((value) => ({ kind: 'json', value })),
    fc
        .record({
            field: fc.constantFrom('repo', 'file', 'sizeBytes', 'modelId', 'quant', 'revision', 'sha256'),
            value: fc.oneof(fc.constantFrom(...HOSTILE), fc.jsonValue({ maxDepth: 1 })),
        })
        .map<Content>(({ field, value }) => ({ kind: 'field', field, value })),
);

const entry: fc.Arbitrary<TreeEntry> = fc.record({
    kind: fc.constantFrom('manifest', 'journal', 'model', 'partial', 'fileLink', 'dirLink', 'loop', 'storeNameLink'),
    folder: fc.constantFrom(...FOLDERS),
    name: fc.constantFrom(...NAMES),
    content,
    ending: fc.constantFrom(...STORE_ENDINGS),
});

const tree = fc.array(entry, { minLength: 1, maxLength: 12 });

interface World {
    base: string;
    root: string;
    decoy: string;
    links: number;
}

/** A decoy beside the store that looks like store content, so following a link into it would be noticed. */
function makeWorld(): World {
    const base = mkdtempSync(path.join(tmpdir(), 'local-ai-fuzz-'));
    const root = path.join(base, 'store');
    const decoy = path.join(base, 'decoy');
    mkdirSync(path.join(decoy, 'dir', 'o', 'r'), { recursive: true });
    mkdirSync(root);
    for (const folder of [decoy, path.join(decoy, 'dir'), path.join(decoy, 'dir', 'o', 'r')]) {
        writeFileSync(path.join(folder, 'a-Q4_K_M.gguf'), MODEL_BYTES);
        writeFileSync(path.join(folder, 'a-Q4_K_M.gguf.manifest.json'), JSON.stringify(manifestFor('o/r', 'a-Q4_K_M.gguf')));
        writeFileSync(path.join(folder, 'a-Q4_K_M.gguf.partial'), 'partial bytes');
        writeFileSync(path.join(folder, 'a-Q4_K_M.gguf.partial.json'), JSON.stringify(journalFor('o/r', 'a-Q4_K_M.gguf')));
    }
    return { base, root, decoy, links: 0 };
}

function manifestFor(repo: string, file: string): Record<string, unknown> {
    return {
        modelId: `hf:${repo}/${file}`,
        repo,
        revision: 'main',
        file,
        quant: 'Q4_K_M',
        sizeBytes: MODEL_BYTES.length,
        sha256: MODEL_SHA,
        installedAt: '',
        source: '',
    };
}

function journalFor(repo: string, file: string): Record<string, unknown> {
    return { repo, revision: 'main', file, sizeBytes: 5000, startedAt: '' };
}

/** The folder's first component pair as repo, the rest of the path as file: what a well-placed entry says. */
function placeOf(folder: string, name: string): { repo: string; file: string } {
    const parts = folder.split('/');
    return { repo: parts.slice(0, 2).join('/'), file: [...parts.slice(2), name].join('/') };
}

function jsonText(base: Record<string, unknown>, c: Content): string {
    if (c.kind === 'invalidJson') return c.text;
    if (c.kind === 'json') return JSON.stringify(c.value) ?? 'null';
    if (c.kind === 'field') return JSON.stringify({ ...base, [c.field]: c.value });
    return JSON.stringify(base);
}

/** Writes the tree into the store; an entry whose place is taken, or lies behind a link, is left out (nothing is written outside). */
function materialize(world: World, entries: TreeEntry[]): void {
    for (const item of entries) {
        const folder = path.join(world.root, ...item.folder.split('/'));
        if (behindLink(world.root, folder)) continue;
        mkdirSync(folder, { recursive: true });
        const place = placeOf(item.folder, item.name);
        const at = (name: string) => path.join(folder, name);
        const free = (file: string) => lstatSync(file, { throwIfNoEntry: false }) === undefined;
        const write = (file: string, data: string | Buffer) => free(file) && writeFileSync(file, data);
        const link = (target: string, file: string) => free(file) && symlinkSync(target, file);
        switch (item.kind) {
            case 'manifest':
                write(at(`${item.name}.manifest.json`), jsonText(manifestFor(place.repo, place.file), item.content));
                break;
            case 'journal':
                write(at(`${item.name}.partial.json`), jsonText(journalFor(place.repo, place.file), item.content));
                break;
            case 'model':
                write(at(item.name), MODEL_BYTES);
                break;
            case 'partial':
                write(at(`${item.name}.partial`), 'some bytes');
                break;
            case 'fileLink':
                link(path.join(world.decoy, 'a-Q4_K_M.gguf'), at(item.name));
                break;
            case 'storeNameLink':
                link(path.join(world.decoy, `a-Q4_K_M.gguf${item.ending}`), at(`${item.name}${item.ending}`));
                break;
            case 'dirLink':
                link(path.join(world.decoy, 'dir'), at(`link${world.links++}`));
                break;
            case 'loop':
                link('..', at(`loop${world.links++}`));
                break;
        }
    }
}

function behindLink(root: string, folder: string): boolean {
    let current = root;
    for (const part of path.relative(root, folder).split(path.sep)) {
        current = path.join(current, part);
        const stat = lstatSync(current, { throwIfNoEntry: false });
        if (!stat) return false;
        if (stat.isSymbolicLink() || !stat.isDirectory()) return true;
    }
    return false;
}

/** Runs one store operation: a result, or a typed error; anything else fails the property. */
async function typed<T>(what: string, work: () => Promise<T>): Promise<T | undefined> {
    try {
        return await work();
    } catch (error) {
        assert.ok(error instanceof LocalAiError, `${what} threw a raw error: ${error instanceof Error ? error.stack : String(error)}`);
        return undefined;
    }
}

function assertNothingTwice(result: ModelListResult | undefined): void {
    if (!result) return;
    const ids = result.models.map((model) => model.id);
    assert.deepEqual(ids, [...new Set(ids)], 'a model is listed twice');
}

describe('model store fuzz: random manifests, journals and links (in process, offline)', function () {
    this.timeout(120_000);
    const worlds: World[] = [];
    after(() => {
        for (const world of worlds) rmSync(world.base, { recursive: true, force: true });
    });

    it('every outcome is a result or a typed error, nothing outside the store changes, and no model is listed twice; the CLI agrees on a found tree', async () => {
        let found: TreeEntry[] | undefined;
        await fc.assert(
            fc.asyncProperty(tree, async (entries) => {
                const world = makeWorld();
                materialize(world, entries);
                const decoyBefore = treeDigest(world.decoy);
                const warnings: string[] = [];
                const context = new SidecarContext({
                    log: { error: () => undefined, warn: (message) => warnings.push(message), info: () => undefined, debug: () => undefined },
                    settings: { ...defaultSettings(), offline: true },
                    secrets: { providerKeys: {} },
                    defaultModelsPath: world.root,
                    statePath: path.join(world.base, 'state'),
                });
                const models = createModelServices(context, {
                    discoveryFolders: () => ({ huggingFaceCache: path.join(world.base, 'no-hf-cache'), lmStudio: [], extra: [] }),
                });
                try {
                    assertNothingTwice(await typed('list', () => models.registry.list(true)));
                    const checked = await typed('check', () => models.maintenance.check());
                    for (const item of checked ?? []) assert.ok(typeof item.modelId === 'string' && typeof item.quant === 'string', JSON.stringify(item));
                    await typed('download', () => models.registry.download({ model: 'hf:o/r/a-Q4_K_M.gguf' }));
                    await typed('delete', () => models.maintenance.delete('hf:p/q/b-Q8_0.gguf'));
                    await typed('cleanup', () => models.maintenance.cleanup());
                    const left = await typed('bad entries', () => models.store.listBadEntries());
                    for (const bad of left ?? []) assert.ok(bad.modelPath, `cleanup left ${bad.path} (${bad.problem})`);
                    assertNothingTwice(await typed('list again', () => models.registry.list(true)));
                    assert.deepEqual(treeDigest(world.decoy), decoyBefore, 'the decoy beside the store changed');
                } finally {
                    await models.dispose();
                    rmSync(world.base, { recursive: true, force: true });
                }
                if (!found && warnings.some((w) => w.includes('symbolic link')) && warnings.some((w) => w.includes('JSON'))) found = entries;
            }),
            { numRuns: 100, seed: 19 },
        );

        assert.ok(found, 'the fuzz never produced a tree with both a link and bad JSON');
        const world = makeWorld();
        worlds.push(world);
        materialize(world, found);
        const decoyBefore = treeDigest(world.decoy);
        const env = { HOME: world.base, LOCAL_AI_OFFLINE: '1', HF_TOKEN: '', LOCAL_AI_MODELS_PATH: '' };
        const listed = await runCli(['models', 'list', '--json', '--models-dir', world.root], env).done;
        assert.equal(listed.code, 0, listed.stderr);
        assertNothingTwice(JSON.parse(listed.stdout) as ModelListResult);
        assert.match(listed.stderr, /\[warn\] Skipped .*: it is a symbolic link/);
        const cleaned = await runCli(['models', 'cleanup', '--models-dir', world.root], env).done;
        assert.equal(cleaned.code, 0, cleaned.stderr);
        assert.deepEqual(treeDigest(world.decoy), decoyBefore, 'the CLI changed the decoy beside the store');
    });
});
