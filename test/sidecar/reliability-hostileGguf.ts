/**
 * The hostile GGUF corpus of the reliability suite: the engine fixture's malformed variants plus
 * the attacks llama.cpp's own GGUF fuzzing looks for (counts of -1, key lengths of -1, duplicate
 * keys, odd alignments, too many dimensions, negative or overflowing dimensions, unknown tensor
 * types, data one byte short, wrongly typed tokenizer arrays, absurd hyperparameters).
 * Every file starts from the same small valid model and breaks one thing, so a failure names its cause.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { malformedVariants } from '../fixtures/gguf/malformed';
import { buildFixtureModelSpec, type FixtureModelParams } from '../fixtures/gguf/model';
import { encodeGgufBuffer, type GgmlType, GgufType, gv, type GgufFileSpec, type GgufValue } from '../fixtures/gguf/writer';

/** The same small shape as malformed.ts, so every file is written in milliseconds. */
const base: FixtureModelParams = { name: 'hostile-base', nLayer: 1, nEmbd: 32, nHead: 2, nFf: 64, nVocab: 300 };

const minusOne = 0xffff_ffff_ffff_ffffn;

function spec(change: (s: GgufFileSpec) => void, params: FixtureModelParams = base): Buffer {
    const s = buildFixtureModelSpec(params);
    change(s);
    return encodeGgufBuffer(s);
}

function setValue(s: GgufFileSpec, key: string, value: GgufValue): void {
    const entry = s.metadata.find((e) => e.key === key);
    if (!entry) throw new Error(`the base model has no ${key}`);
    entry.value = value;
}

function u64(value: bigint): Buffer {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(value);
    return b;
}

/** Where tensor `name`'s info starts in an encoded file: the u64 length, then the name's bytes. */
function tensorInfoOffset(file: Buffer, name: string): number {
    const needle = Buffer.concat([u64(BigInt(Buffer.byteLength(name))), Buffer.from(name)]);
    const at = file.indexOf(needle);
    if (at < 0) throw new Error(`tensor ${name} not found in the encoded file`);
    return at + needle.length;
}

/** Overwrites dimension `index` of tensor `name` with a raw u64 (which the writer cannot express: -1, 2^63). */
function patchDimension(file: Buffer, name: string, index: number, value: bigint): Buffer {
    const copy = Buffer.from(file);
    copy.writeBigUInt64LE(value, tensorInfoOffset(copy, name) + 4 + 8 * index);
    return copy;
}

const firstTensor = 'token_embd.weight';

/**
 * Payloads that leave a weak template sandbox. Each is harmless in a sandboxed Jinja (the
 * guarded ones skip themselves, the reads render as nothing), but runs in an engine that
 * evaluates Python attribute walks (Jinja without its sandbox) or JavaScript property access
 * (an engine built on `new Function` or a plain object lookup). ESCAPE_MARKER is replaced by a
 * path the test watches.
 */
export const escapingPayloads: Record<string, string> = {
    pythonCyclerGlobals: "{% if cycler is defined %}{{ cycler.__init__.__globals__.os.popen('touch ESCAPE_MARKER').read() }}{% endif %}",
    pythonLipsumGlobals: "{% if lipsum is defined %}{{ lipsum.__globals__['os'].popen('id').read() }}{% endif %}",
    pythonClassWalk: "{{ ''.__class__.__mro__ }}{{ messages.__class__.__base__.__subclasses__ }}",
    jsArrayConstructor:
        "{% if messages.constructor is defined %}{{ messages.constructor.constructor('return process')().getBuiltinModule('fs').writeFileSync('ESCAPE_MARKER', 'x') }}{% endif %}",
    jsStringConstructor:
        "{% if ''.constructor is defined %}{{ ''.constructor.constructor('return process')().getBuiltinModule('child_process').execSync('touch ESCAPE_MARKER') }}{% endif %}",
    jsPrototypeWalk: '{{ messages.__proto__ }}{{ messages[0].__proto__.constructor }}',
    jsProcessGlobal: "{% if process is defined %}{{ process.getBuiltinModule('fs').writeFileSync('ESCAPE_MARKER', 'x') }}{% endif %}",
};

/** How many times the template writes its witness word before the conversation. */
export const templateWitnessCount = 24;

/**
 * A working ChatML template carrying `payload`. It also writes a witness word
 * `templateWitnessCount` times before the conversation, so the prompt's token count shows that
 * this template was rendered, and not a generic prompt format chosen because it failed.
 */
export function hostileChatTemplate(payload: string): string {
    return (
        `{%- for i in range(${templateWitnessCount}) %}witness {% endfor -%}${payload}` +
        '{%- for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}' +
        '{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}'
    );
}

/**
 * Every hostile file by name, with what is wrong with it in plain words. The 17 engine variants come
 * first (prefixed `engine-`), then this suite's own.
 */
export const hostileFiles: Record<string, { problem: string; build: () => Buffer }> = {
    ...Object.fromEntries(Object.entries(malformedVariants).map(([name, variant]) => [`engine-${name}`, variant])),
    versionZero: {
        problem: 'format version 0',
        build: () =>
            spec((s) => {
                s.version = 0;
            }),
    },
    versionOne: {
        problem: 'format version 1 (never supported by llama.cpp)',
        build: () =>
            spec((s) => {
                s.version = 1;
            }),
    },
    versionMinusOne: {
        problem: 'format version 0xFFFFFFFF',
        build: () =>
            spec((s) => {
                s.version = 0xffff_ffff;
            }),
    },
    tensorCountMinusOne: {
        problem: 'tensor count of -1',
        build: () =>
            spec((s) => {
                s.tensorCountOverride = minusOne;
            }),
    },
    kvCountMinusOne: {
        problem: 'metadata count of -1',
        build: () =>
            spec((s) => {
                s.kvCountOverride = minusOne;
            }),
    },
    kvCountOneTooMany: {
        problem: 'metadata count one more than the entries',
        build: () =>
            spec((s) => {
                s.kvCountOverride = BigInt(s.metadata.length + 1);
            }),
    },
    keyLengthMinusOne: {
        problem: 'metadata key whose length is -1',
        build: () =>
            spec((s) => {
                s.metadata.splice(1, 0, { key: '', value: gv.u32(0), raw: u64(minusOne) });
            }),
    },
    duplicateKey: {
        problem: 'llama.block_count given twice with different values',
        build: () =>
            spec((s) => {
                s.metadata.push({ key: 'llama.block_count', value: gv.u32(40) });
            }),
    },
    alignmentZero: { problem: 'general.alignment of 0', build: () => spec((s) => setValue(s, 'general.alignment', gv.u32(0))) },
    alignment13: { problem: 'general.alignment of 13', build: () => spec((s) => setValue(s, 'general.alignment', gv.u32(13))) },
    alignment2pow31: { problem: 'general.alignment of 2^31', build: () => spec((s) => setValue(s, 'general.alignment', gv.u32(2 ** 31))) },
    alignmentWrongType: { problem: 'general.alignment stored as a string', build: () => spec((s) => setValue(s, 'general.alignment', gv.str('32'))) },
    fiveDimensions: {
        problem: 'a tensor with 5 dimensions',
        build: () =>
            spec((s) => {
                s.tensors[0].dims = [...s.tensors[0].dims, 1, 1, 1];
            }),
    },
    nDimsMinusOne: {
        problem: 'a tensor claiming 0xFFFFFFFF dimensions',
        build: () =>
            spec((s) => {
                s.tensors[0].nDimsOverride = 0xffff_ffff;
            }),
    },
    zeroDimensions: {
        problem: 'a tensor with 0 dimensions',
        build: () =>
            spec((s) => {
                s.tensors[0].nDimsOverride = 0;
                s.tensors[0].dims = [];
            }),
    },
    negativeDimension: {
        problem: 'a tensor dimension of -1',
        build: () =>
            patchDimension(
                spec(() => undefined),
                firstTensor,
                1,
                minusOne,
            ),
    },
    overflowingDimensions: {
        problem: 'tensor dimensions whose product overflows 64 bits',
        build: () =>
            patchDimension(
                patchDimension(
                    spec(() => undefined),
                    firstTensor,
                    0,
                    1n << 33n,
                ),
                firstTensor,
                1,
                1n << 33n,
            ),
    },
    dimension2pow63: {
        problem: 'a tensor dimension of 2^63',
        build: () =>
            patchDimension(
                spec(() => undefined),
                firstTensor,
                0,
                1n << 63n,
            ),
    },
    zeroDimension: {
        problem: 'a tensor dimension of 0',
        build: () =>
            patchDimension(
                spec(() => undefined),
                firstTensor,
                1,
                0n,
            ),
    },
    unknownTensorType: {
        problem: 'a tensor of ggml type 99',
        build: () =>
            spec((s) => {
                s.tensors[1].type = 99 as GgmlType;
            }),
    },
    tensorTypeMinusOne: {
        problem: 'a tensor of ggml type 0xFFFFFFFF',
        build: () =>
            spec((s) => {
                s.tensors[1].type = 0xffff_ffff as GgmlType;
            }),
    },
    unalignedOffset: {
        problem: 'a tensor offset that is not aligned',
        build: () =>
            spec((s) => {
                s.tensors[1].offsetOverride = 1n;
            }),
    },
    offsetMinusOne: {
        problem: 'a tensor offset of -1',
        build: () =>
            spec((s) => {
                s.tensors[2].offsetOverride = minusOne;
            }),
    },
    overlappingTensors: {
        problem: 'two tensors at the same offset',
        build: () =>
            spec((s) => {
                s.tensors[2].offsetOverride = 0n;
            }),
    },
    dataOneByteShort: {
        problem: 'tensor data one byte short',
        build: () => {
            const whole = spec(() => undefined);
            return whole.subarray(0, whole.length - 1);
        },
    },
    duplicateTensorName: {
        problem: 'two tensors with the same name',
        build: () =>
            spec((s) => {
                s.tensors[2].name = s.tensors[1].name;
            }),
    },
    missingTensor: {
        problem: 'the model has no attention query weights',
        build: () =>
            spec((s) => {
                s.tensors = s.tensors.filter((t) => t.name !== 'blk.0.attn_q.weight');
            }),
    },
    tensorNameLengthMinusOne: {
        problem: 'a tensor name whose length is -1',
        build: () => {
            const file = Buffer.from(spec(() => undefined));
            const at = tensorInfoOffset(file, firstTensor) - Buffer.byteLength(firstTensor) - 8;
            file.writeBigUInt64LE(minusOne, at);
            return file;
        },
    },
    nestedArray: {
        problem: 'an array of arrays',
        build: () =>
            spec((s) => {
                s.metadata.push({ key: 'general.tags', value: { type: GgufType.Array, itemType: GgufType.Uint8, items: [], itemTypeTag: GgufType.Array } });
            }),
    },
    arrayItemTypeUnknown: {
        problem: 'an array of unknown item type 77',
        build: () =>
            spec((s) => {
                s.metadata.push({ key: 'general.tags', value: { type: GgufType.Array, itemType: GgufType.Uint8, items: [1, 2], itemTypeTag: 77 } });
            }),
    },
    architectureNotString: { problem: 'general.architecture stored as a number', build: () => spec((s) => setValue(s, 'general.architecture', gv.u32(7))) },
    tokensAsIntegers: {
        problem: 'tokenizer.ggml.tokens stored as an int32 array',
        build: () =>
            spec((s) =>
                setValue(
                    s,
                    'tokenizer.ggml.tokens',
                    gv.arr(
                        GgufType.Int32,
                        Array.from({ length: 300 }, (_, i) => i),
                    ),
                ),
            ),
    },
    tokensAsString: { problem: 'tokenizer.ggml.tokens stored as one string', build: () => spec((s) => setValue(s, 'tokenizer.ggml.tokens', gv.str('hello'))) },
    tokenTypesAsStrings: {
        problem: 'tokenizer.ggml.token_type stored as strings',
        build: () =>
            spec((s) =>
                setValue(
                    s,
                    'tokenizer.ggml.token_type',
                    gv.arr(
                        GgufType.String,
                        Array.from({ length: 300 }, () => 'normal'),
                    ),
                ),
            ),
    },
    mergesAsIntegers: {
        problem: 'tokenizer.ggml.merges stored as uint32s',
        build: () => spec((s) => setValue(s, 'tokenizer.ggml.merges', gv.arr(GgufType.Uint32, [1, 2, 3]))),
    },
    tooFewTokens: {
        problem: 'a vocabulary of 10 tokens for a 300-row embedding',
        build: () =>
            spec((s) => {
                setValue(
                    s,
                    'tokenizer.ggml.tokens',
                    gv.arr(
                        GgufType.String,
                        Array.from({ length: 10 }, (_, i) => `t${i}`),
                    ),
                );
                setValue(
                    s,
                    'tokenizer.ggml.token_type',
                    gv.arr(
                        GgufType.Int32,
                        Array.from({ length: 10 }, () => 1),
                    ),
                );
            }),
    },
    eosTokenOutOfRange: {
        problem: 'an end-of-sequence token id of 2^31',
        build: () => spec((s) => setValue(s, 'tokenizer.ggml.eos_token_id', gv.u32(2 ** 31))),
    },
    blockCountHuge: { problem: 'llama.block_count of 4 billion', build: () => spec((s) => setValue(s, 'llama.block_count', gv.u32(0xffff_fff0))) },
    blockCountZero: { problem: 'llama.block_count of 0', build: () => spec((s) => setValue(s, 'llama.block_count', gv.u32(0))) },
    headCountZero: {
        problem: 'llama.attention.head_count of 0 (a division by zero)',
        build: () => spec((s) => setValue(s, 'llama.attention.head_count', gv.u32(0))),
    },
    headCountKvZero: { problem: 'llama.attention.head_count_kv of 0', build: () => spec((s) => setValue(s, 'llama.attention.head_count_kv', gv.u32(0))) },
    embeddingLengthZero: { problem: 'llama.embedding_length of 0', build: () => spec((s) => setValue(s, 'llama.embedding_length', gv.u32(0))) },
    contextLengthHuge: { problem: 'llama.context_length of 4 billion', build: () => spec((s) => setValue(s, 'llama.context_length', gv.u32(0xffff_fff0))) },
};

/** Writes every hostile file into `dir` and returns their paths by name. */
export function writeHostileCorpus(dir: string): Record<string, string> {
    fs.mkdirSync(dir, { recursive: true });
    const paths: Record<string, string> = {};
    for (const [name, { build }] of Object.entries(hostileFiles)) {
        paths[name] = path.join(dir, `hostile-${name}.gguf`);
        fs.writeFileSync(paths[name], build());
    }
    return paths;
}

/** A valid small model whose chat template is `template`, for the sandbox-escape cases. */
export function writeTemplateModel(dir: string, name: string, template: string): string {
    const filePath = path.join(dir, `hostile-${name}.gguf`);
    fs.writeFileSync(filePath, encodeGgufBuffer(buildFixtureModelSpec({ ...base, name, chatTemplate: template })));
    return filePath;
}
