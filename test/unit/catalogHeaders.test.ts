/**
 * The catalog's shape facts against the GGUF headers of its models (test/fixtures/gguf/realHeaders.ts:
 * the released files' headers over tiny tensors, read back with node-llama-cpp's reader), so a fit
 * estimate made before the download rests on the facts llama.cpp will read, and its KV cache is the one
 * node-llama-cpp's GgufInsights computes from that header.
 */
import * as assert from 'node:assert/strict';
import { importNodeLlamaCpp } from '../../src/sidecar/llama/runtime';
import { memoryFromCatalog, memoryFromGguf } from '../../src/sidecar/llama/memoryModel';
import { catalogEntries } from '../../src/sidecar/models/catalog';
import { defaultFixtureDir } from '../fixtures/gguf/model';
import { REAL_HEADERS, ensureRealHeaderFixture } from '../fixtures/gguf/realHeaders';

describe('catalog facts against the models’ GGUF headers', function () {
    this.timeout(60_000);

    it('has a header for every catalog model', () => {
        assert.deepEqual(
            catalogEntries()
                .map((entry) => entry.id)
                .sort(),
            Object.keys(REAL_HEADERS).sort(),
        );
    });

    for (const entry of catalogEntries()) {
        it(`${entry.id}: architecture, layers, heads and head size are the header's`, async () => {
            const { readGgufFileInfo } = await importNodeLlamaCpp();
            const info = await readGgufFileInfo(ensureRealHeaderFixture(defaultFixtureDir(), entry.id), { logWarnings: false });
            const meta = info.architectureMetadata;
            const heads = meta.attention?.head_count as number;
            const arch = entry.architecture!;
            assert.deepEqual(
                {
                    name: arch.name,
                    layers: arch.layers,
                    embeddingLength: arch.embeddingLength,
                    headCount: arch.headCount,
                    headCountKv: arch.headCountKv,
                    keyLength: arch.headDim,
                    valueLength: arch.headDim,
                },
                {
                    name: info.metadata.general.architecture,
                    layers: meta.block_count,
                    embeddingLength: meta.embedding_length,
                    headCount: heads,
                    headCountKv: meta.attention?.head_count_kv,
                    // llama.cpp's rule: the header's key and value lengths, else embedding_length / head_count.
                    keyLength: meta.attention?.key_length ?? (meta.embedding_length as number) / heads,
                    valueLength: meta.attention?.value_length ?? (meta.embedding_length as number) / heads,
                },
            );
            // The catalog may promise less context than a file advertises (Mistral-Nemo's 1M positions, 128k on its card), never more.
            assert.ok(entry.contextLength! <= (meta.context_length as number), `${entry.contextLength} > ${meta.context_length}`);
        });

        it(`${entry.id}: the catalog's KV cache per token is GgufInsights' from the header${REAL_HEADERS[entry.id].slidingWindow ? ', or more where layers slide' : ''}`, async () => {
            const file = entry.files[0];
            const catalog = memoryFromCatalog(entry, file);
            const header = await memoryFromGguf({ path: ensureRealHeaderFixture(defaultFixtureDir(), entry.id) });
            assert.equal(catalog.totalLayers, header.totalLayers);
            if (REAL_HEADERS[entry.id].slidingWindow) {
                // The catalog counts sliding-window layers at full size: above the window it over-, never under-estimates.
                assert.ok(catalog.kvBytesPerToken > header.kvBytesPerToken, `${catalog.kvBytesPerToken} vs ${header.kvBytesPerToken}`);
            } else {
                assert.equal(catalog.kvBytesPerToken, header.kvBytesPerToken);
            }
        });
    }
});
