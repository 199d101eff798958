/**
 * The model list through the REAL sidecar as the store grows: every installed file is listed with a fit
 * badge read from its own GGUF header, and headers and manifests are kept between lists only while their
 * file is the same: a file changed in place gets the badge of its new bytes, a manifest changed in place is
 * read again.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { FitEstimate } from '../../src/common/hardware';
import { ModelListRequest, type ModelListResult } from '../../src/common/protocol';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';
import { profilePath } from '../fixtures/hardware/profiles';
import { FILLED_OWNER, fillStore } from '../fixtures/installedStore';
import { startSidecar, type SidecarProcess } from '../fixtures/sidecarProcess';

/** The fit of each installed file of the filled store, by entry id. */
function fitsOf(result: ModelListResult): Map<string, FitEstimate | undefined> {
    const filled = result.models.filter((entry) => entry.repo?.startsWith(`${FILLED_OWNER}/`));
    return new Map(filled.map((entry) => [entry.id, entry.files[0].state === 'installed' ? entry.files[0].fit : undefined]));
}

/** Multiplies the GGUF's layer count in place: same size, same inode, other bytes (and a larger KV cache). */
function changeLayersInPlace(file: string): void {
    const bytes = readFileSync(file);
    const key = Buffer.from('llama.block_count');
    // A metadata pair is the key's length (u64), the key, the value's type (u32), the value (u32 here).
    const at = bytes.indexOf(key) + key.length + 4;
    const layers = bytes.readUInt32LE(at);
    const value = Buffer.alloc(4);
    value.writeUInt32LE(layers * 8);
    const fd = openSync(file, 'r+');
    try {
        writeSync(fd, value, 0, 4, at);
    } finally {
        closeSync(fd);
    }
}

describe('the model list of a growing store', function () {
    this.timeout(300_000);
    const tinyPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    // A fixed machine: the same badge whatever this one has free.
    const env = { LOCAL_AI_HARDWARE_PROFILE: profilePath('desktop-8gb-cpu') };
    const started: SidecarProcess[] = [];
    let root: string;

    const start = async () => {
        const sidecar = await startSidecar({ modelsPath: root, settings: { gpu: 'off', offline: true }, env });
        started.push(sidecar);
        return sidecar;
    };
    const list = (sidecar: SidecarProcess, refresh = false) => sidecar.connection.sendRequest(ModelListRequest.type, { refresh });

    beforeEach(() => {
        root = mkdtempSync(path.join(tmpdir(), 'local-ai-list-'));
    });

    afterEach(async () => {
        await Promise.all(started.splice(0).map((sidecar) => sidecar.stop()));
        rmSync(root, { recursive: true, force: true });
    });

    it('lists each of 150 installed files with a fit badge, the same on the next list', async () => {
        fillStore(root, 150, tinyPath);
        const sidecar = await start();
        const first = fitsOf(await list(sidecar));
        const expected = Array.from({ length: 150 }, (_, i) => `${FILLED_OWNER}/model-${i}-GGUF`);
        const listed = (await list(sidecar)).models.map((entry) => entry.repo).filter((repo) => repo?.startsWith(`${FILLED_OWNER}/`));
        assert.deepEqual([...listed].sort(), [...expected].sort());
        const missing = [...first].filter(([, fit]) => !fit?.ramBytes).map(([id]) => id);
        assert.deepEqual(missing, [], 'every installed file has a fit badge');
        assert.deepEqual(fitsOf(await list(sidecar)), first);
        assert.deepEqual(fitsOf(await list(sidecar, true)), first);
    });

    it('reads the header again when a file is rewritten in place with other bytes of the same size', async () => {
        const [modelPath] = fillStore(root, 1, tinyPath, { copies: true });
        const sidecar = await start();
        const [[id, before]] = [...fitsOf(await list(sidecar))];
        assert.ok(before?.ramBytes, 'the file has a badge before the change');

        changeLayersInPlace(modelPath);
        const after = fitsOf(await list(sidecar)).get(id);
        assert.ok(
            after && after.ramBytes > before.ramBytes,
            `the badge after the change (${after?.ramBytes} bytes) needs more than before (${before.ramBytes})`,
        );
        // A sidecar that never saw the old bytes gives the same badge.
        assert.deepEqual(fitsOf(await list(await start())).get(id), after);
    });

    it('reads a manifest again when it is rewritten in place: a size that no longer agrees is not installed', async () => {
        const [modelPath] = fillStore(root, 1, tinyPath);
        const manifestPath = `${modelPath}.manifest.json`;
        const sidecar = await start();
        const stateOf = async () => (await list(sidecar)).models.find((entry) => entry.repo?.startsWith(`${FILLED_OWNER}/`))?.files[0].state;
        assert.equal(await stateOf(), 'installed');

        // writeFileSync truncates and writes the same inode, as an editor or another tool may.
        const manifest = readFileSync(manifestPath, 'utf8');
        const sizeBytes = (JSON.parse(manifest) as { sizeBytes: number }).sizeBytes;
        writeFileSync(manifestPath, JSON.stringify({ ...JSON.parse(manifest), sizeBytes: sizeBytes + 1 }));
        assert.equal(await stateOf(), 'available', 'a file whose manifest names another size is not installed');
        writeFileSync(manifestPath, manifest);
        assert.equal(await stateOf(), 'installed');
    });
});
