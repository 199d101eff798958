/**
 * Bounded fuzz of what the hub lists (issue 19): each run publishes a random set of file names in a new
 * repository of the real fake hub (loopback HTTP): plain quantizations, split parts with holes, names with
 * `..`, a leading slash, backslashes, control characters, escape sequences, %-escapes and the store's own
 * endings. A quantization reference is then resolved and downloaded in process. Every outcome must be an
 * installed file that the hub listed, inside the store and with the hub's sha256, or a typed LocalAiError;
 * nothing beside the store may change, and no name may reach the store with a control character in it.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { LocalAiError } from '../../src/common/errors';
import { defaultSettings } from '../../src/common/settings';
import { SidecarContext } from '../../src/sidecar/context';
import { createModelServices } from '../../src/sidecar/models';
import { type FakeHub, startFakeHub } from '../fixtures/fakeHub/server';
import { treeDigest } from '../fixtures/storeTree';

/** Name shapes a hostile or sloppy repository lists; `Q` is replaced by the quantization asked for. */
const SHAPES = [
    'm-Q.gguf',
    'sub/m-Q.gguf',
    'm-Q-00001-of-00002.gguf',
    'm-Q-00002-of-00002.gguf',
    'm-Q-00001-of-00003.gguf',
    'm-Q-00003-of-00003.gguf',
    '../m-Q.gguf',
    'sub/../../m-Q.gguf',
    '/abs-Q.gguf',
    'back\\slash-Q.gguf',
    'new\nline-Q.gguf',
    'esc\u001b[2J-Q.gguf',
    'Installed /etc/passwd\r\n-Q.gguf',
    '%2e%2e/m-Q.gguf',
    'm-Q.gguf.partial',
    'm-Q.gguf.manifest.json',
    'm-Q.gguf.partial.json',
    'm-q.GGUF',
    './m-Q.gguf',
];
const QUANT = 'Q4_K_M';

const listing = fc.uniqueArray(
    fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...SHAPES) },
        { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 12 }).map((s) => `${s}-Q.gguf`) },
    ),
    { minLength: 1, maxLength: 5 },
);

function hasControl(text: string): boolean {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    return /[\u0000-\u001f\u007f-\u009f]/.test(text);
}

function filesUnder(folder: string): string[] {
    return readdirSync(folder, { recursive: true }).map(String);
}

describe('hub listing fuzz: random file names in a repository (in process, real loopback hub)', function () {
    this.timeout(180_000);
    let hub: FakeHub;
    let base: string;

    before(async () => {
        hub = await startFakeHub({ files: [] });
        base = mkdtempSync(path.join(tmpdir(), 'local-ai-hubfuzz-'));
    });
    after(async () => {
        await hub?.stop();
        rmSync(base, { recursive: true, force: true });
    });

    it('every outcome is a listed file installed inside the store with its sha256, or a typed error; nothing beside the store changes', async () => {
        let run = 0;
        let installed = 0;
        let refused = 0;
        await fc.assert(
            fc.asyncProperty(listing, async (shapes) => {
                const repo = `fuzz/r${run++}`;
                const world = path.join(base, `w${run}`);
                const root = path.join(world, 'store');
                const decoy = path.join(world, 'decoy');
                mkdirSync(root, { recursive: true });
                mkdirSync(decoy, { recursive: true });
                writeFileSync(path.join(decoy, `m-${QUANT}.gguf`), 'decoy');
                const decoyBefore = treeDigest(decoy);
                const listed = new Map<string, string>();
                for (const shape of shapes) {
                    const name = shape.replace('-Q', `-${QUANT}`).replace('-q.', `-${QUANT.toLowerCase()}.`);
                    const data = Buffer.from(`bytes of ${JSON.stringify(name)}`);
                    hub.publish({ repo, path: name, data });
                    listed.set(name, createHash('sha256').update(data).digest('hex'));
                }
                const context = new SidecarContext({
                    log: { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined },
                    settings: { ...defaultSettings(), hubEndpoint: hub.url },
                    secrets: { providerKeys: {} },
                    defaultModelsPath: root,
                    statePath: path.join(world, 'state'),
                });
                const models = createModelServices(context, {
                    discoveryFolders: () => ({ huggingFaceCache: path.join(world, 'no-hf-cache'), lmStudio: [], extra: [] }),
                });
                try {
                    const result = await models.registry.download({ model: `hf:${repo}:${QUANT}` }).catch((error: unknown) => {
                        assert.ok(
                            error instanceof LocalAiError,
                            `a raw error for ${JSON.stringify(shapes)}: ${error instanceof Error ? error.stack : String(error)}`,
                        );
                        assert.ok(!hasControl(error.message), `the error prints a control character: ${JSON.stringify(error.message)}`);
                        return undefined;
                    });
                    if (result) {
                        installed++;
                        const relative = path
                            .relative(path.join(root, ...repo.split('/')), result.path)
                            .split(path.sep)
                            .join('/');
                        assert.ok(listed.has(relative), `installed ${relative}, which the hub did not list (${JSON.stringify([...listed.keys()])})`);
                        assert.equal(
                            createHash('sha256').update(readFileSync(result.path)).digest('hex'),
                            listed.get(relative),
                            'the installed bytes are the listed ones',
                        );
                    } else {
                        refused++;
                    }
                    for (const name of filesUnder(root))
                        assert.ok(!hasControl(name), `the store holds a name with a control character: ${JSON.stringify(name)}`);
                    assert.deepEqual(treeDigest(decoy), decoyBefore, 'the folder beside the store changed');
                    assert.deepEqual(
                        filesUnder(world).filter((name) => !name.startsWith('store') && !name.startsWith('decoy') && !name.startsWith('state')),
                        [],
                    );
                } finally {
                    await models.dispose();
                }
            }),
            { numRuns: 60, seed: 16 },
        );
        // The fuzz must reach both outcomes, or it proves nothing about one of them.
        assert.ok(installed > 0 && refused > 0, `installed ${installed}, refused ${refused}`);
    });
});
