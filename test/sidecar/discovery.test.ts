/**
 * GGUF files already on disk (Hugging Face cache, LM Studio, extra folders) are listed and used in place:
 * a catalog file found in the HF cache counts as installed at its cache path, downloads nothing, and
 * Local AI refuses to delete it.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ErrorCode, LocalAiError } from '../../src/common/errors';
import { defaultSettings } from '../../src/common/settings';
import { SidecarContext } from '../../src/sidecar/context';
import { createModelServices, type ModelServices } from '../../src/sidecar/models';
import { catalogModels } from '../../src/sidecar/models/catalog';
import { discoverModelFiles } from '../../src/sidecar/models/discovery';

describe('models found on disk', () => {
    let root: string;
    let hfCache: string;
    let lmStudio: string;
    let extra: string;
    let models: ModelServices;
    const catalogModel = catalogModels()[0];
    const catalogFile = catalogModel.files[0];

    beforeEach(() => {
        root = mkdtempSync(path.join(tmpdir(), 'local-ai-discovery-'));
        hfCache = path.join(root, 'hf', 'hub');
        // The hub cache keeps blobs once and links them from each snapshot.
        const repoDir = path.join(hfCache, `models--${catalogModel.repo.replace('/', '--')}`);
        mkdirSync(path.join(repoDir, 'blobs'), { recursive: true });
        mkdirSync(path.join(repoDir, 'snapshots', 'abc123'), { recursive: true });
        writeFileSync(path.join(repoDir, 'blobs', 'deadbeef'), Buffer.alloc(4096, 1));
        symlinkSync(path.join(repoDir, 'blobs', 'deadbeef'), path.join(repoDir, 'snapshots', 'abc123', catalogFile.file));
        lmStudio = path.join(root, 'lmstudio');
        mkdirSync(path.join(lmStudio, 'someone', 'Cool-GGUF'), { recursive: true });
        writeFileSync(path.join(lmStudio, 'someone', 'Cool-GGUF', 'cool-Q5_K_M.gguf'), Buffer.alloc(2048, 2));
        writeFileSync(path.join(lmStudio, 'someone', 'Cool-GGUF', 'mmproj-cool-f16.gguf'), Buffer.alloc(2048, 3));
        extra = path.join(root, 'extra');
        mkdirSync(path.join(extra, 'deep', 'er'), { recursive: true });
        writeFileSync(path.join(extra, 'deep', 'er', 'mine.Q8_0.gguf'), Buffer.alloc(1024, 4));
        writeFileSync(path.join(extra, 'split-Q4_K_M-00002-of-00002.gguf'), Buffer.alloc(1024, 5));
        writeFileSync(path.join(extra, 'notes.txt'), 'not a model');

        const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
        const context = new SidecarContext({
            log: silent,
            settings: { ...defaultSettings(), hubEndpoint: 'http://127.0.0.1:9', offline: true },
            secrets: { providerKeys: {} },
            defaultModelsPath: path.join(root, 'store'),
            statePath: root,
        });
        models = createModelServices(context, { discoveryFolders: () => ({ huggingFaceCache: hfCache, lmStudio: [lmStudio], extra: [extra] }) });
    });

    afterEach(() => models.dispose());

    it('finds model files in the three kinds of folders, skipping projectors, later split parts and non-GGUF files', async () => {
        const found = await discoverModelFiles({ huggingFaceCache: hfCache, lmStudio: [lmStudio], extra: [extra] });
        const summary = found.map((f) => `${f.origin} ${f.repo ?? '-'} ${f.file ?? path.basename(f.path)} ${f.sizeBytes}`).sort();
        assert.deepEqual(summary, [
            `folder - mine.Q8_0.gguf 1024`,
            `huggingface-cache ${catalogModel.repo} ${catalogFile.file} 4096`,
            `lm-studio someone/Cool-GGUF cool-Q5_K_M.gguf 2048`,
        ]);
    });

    it('marks the catalog file installed in place and lists the others as discovered', async () => {
        const { models: entries } = await models.registry.list();
        const fromCatalog = entries.find((e) => e.id === catalogModel.id)!;
        const file = fromCatalog.files.find((f) => f.quant === catalogFile.quant)!;
        assert.equal(file.state, 'installed');
        assert.equal(file.path, path.join(hfCache, `models--${catalogModel.repo.replace('/', '--')}`, 'snapshots', 'abc123', catalogFile.file));
        const discovered = entries
            .filter((e) => e.source === 'discovered')
            .map((e) => e.id)
            .sort();
        assert.deepEqual(discovered, [`file:${path.join(extra, 'deep', 'er', 'mine.Q8_0.gguf')}`, 'hf:someone/Cool-GGUF/cool-Q5_K_M.gguf']);

        const installed = await models.registry.resolveInstalled(catalogModel.id, catalogFile.quant);
        assert.equal(installed.path, file.path);
        const result = await models.registry.download({ model: catalogModel.id, quant: catalogFile.quant });
        assert.equal(result.downloaded, false, 'nothing to download: the cache copy is used');
        assert.equal(existsSync(path.join(root, 'store')), false, 'nothing copied into the store');
    });

    it('refuses to delete files it did not download, and says a missing model is not installed', async () => {
        await assert.rejects(
            models.maintenance.delete(catalogModel.id, catalogFile.quant),
            (error: unknown) => error instanceof LocalAiError && error.code === ErrorCode.InvalidParams,
        );
        await assert.rejects(
            models.maintenance.delete('hf:someone/Cool-GGUF/cool-Q5_K_M.gguf'),
            (error: unknown) => error instanceof LocalAiError && error.code === ErrorCode.InvalidParams,
        );
        assert.ok(existsSync(path.join(lmStudio, 'someone', 'Cool-GGUF', 'cool-Q5_K_M.gguf')));
        const other = catalogModels()[1];
        await assert.rejects(
            models.registry.resolveInstalled(other.id),
            (error: unknown) => error instanceof LocalAiError && error.code === ErrorCode.ModelNotInstalled,
        );
        await assert.rejects(
            models.registry.resolve('no-such-model'),
            (error: unknown) => error instanceof LocalAiError && error.code === ErrorCode.ModelNotFound,
        );
    });
});
