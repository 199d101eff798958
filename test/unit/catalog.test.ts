/** The curated catalog is valid against its schema and covers what users need: sizes, uses, quantizations. */
import { strict as assert } from 'node:assert';
import Ajv from 'ajv';
import catalogJson from '../../models/catalog.json';
import schema from '../../models/catalog.schema.json';
import { catalogEntries, catalogModels } from '../../src/sidecar/models/catalog';
import { quantFromFileName } from '../../src/sidecar/models/hubUri';

describe('model catalog', () => {
    it('validates against models/catalog.schema.json', () => {
        const validate = new Ajv({ allErrors: true }).compile(schema);
        const valid = validate(catalogJson);
        assert.ok(valid, JSON.stringify(validate.errors, null, 2));
    });

    it('the schema rejects an entry without architecture or with a bad rating', () => {
        const validate = new Ajv({ allErrors: true }).compile(schema);
        const broken = structuredClone(catalogJson) as { models: Record<string, unknown>[] };
        delete broken.models[0].architecture;
        broken.models[1].quality = 6;
        assert.equal(validate(broken), false);
        const messages = (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`).join('\n');
        assert.match(messages, /architecture/);
        assert.match(messages, /\/models\/1\/quality/);
    });

    it('has at least 12 chat and coding models from about 0.5B to 14B+ parameters', () => {
        const models = catalogModels();
        assert.ok(models.length >= 12, `${models.length} models`);
        assert.ok(
            models.some((m) => m.parametersB <= 0.6),
            'a ~0.5B model',
        );
        assert.ok(
            models.some((m) => m.parametersB >= 14),
            'a 14B+ model',
        );
        assert.ok(models.filter((m) => m.tags.includes('coding')).length >= 3, 'coding models');
        assert.ok(models.filter((m) => m.tags.includes('chat')).length >= 8, 'chat models');
        assert.equal(new Set(models.map((m) => m.id)).size, models.length, 'ids are unique');
    });

    it('every file names its quantization, the default quantization exists, and bigger quants are bigger files', () => {
        for (const model of catalogModels()) {
            for (const file of model.files) assert.equal(quantFromFileName(file.file), file.quant, `${model.id} ${file.file}`);
            assert.ok(
                model.files.some((f) => f.quant === model.defaultQuant),
                `${model.id} default ${model.defaultQuant}`,
            );
            const bits = (quant: string) => Number(/Q(\d)/.exec(quant)?.[1] ?? 16);
            const sorted = [...model.files].sort((a, b) => bits(a.quant) - bits(b.quant));
            for (let i = 1; i < sorted.length; i++)
                assert.ok(sorted[i].sizeBytes > sorted[i - 1].sizeBytes, `${model.id}: ${sorted[i].quant} larger than ${sorted[i - 1].quant}`);
            // Q4_K_M is about 4.5–5.5 bits per weight: a size far off means a typo in the catalog. Below 1B the
            // embeddings (kept at higher precision) dominate, so tiny models are exempt.
            const q4 = model.files.find((f) => f.quant === 'Q4_K_M');
            if (q4 && model.parametersB >= 1) {
                const bitsPerWeight = (q4.sizeBytes * 8) / (model.parametersB * 1e9);
                assert.ok(bitsPerWeight > 4.3 && bitsPerWeight < 6.5, `${model.id}: ${bitsPerWeight.toFixed(2)} bits/weight`);
            }
            assert.equal(model.architecture.headCount % model.architecture.headCountKv, 0, `${model.id}: heads divisible by KV heads`);
        }
    });

    it('entries come out as catalog models with every file available', () => {
        const entries = catalogEntries();
        assert.ok(entries.every((e) => e.source === 'catalog' && e.files.every((f) => f.state === 'available')));
        entries[0].files[0].state = 'installed';
        assert.equal(catalogEntries()[0].files[0].state, 'available', 'each call returns fresh objects');
    });
});
