/**
 * Checks a GGUF file on the JavaScript side before llama.cpp touches it. A bounded walk of the
 * header comes first: node-llama-cpp's reader trusts the counts and lengths it reads (a
 * truncated file reads as zeros, a 2^62-byte string is allocated), so hostile values must be
 * caught before it runs. Then node-llama-cpp's `readGgufFileInfo` parses the metadata.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { GgufFileInfo } from 'node-llama-cpp';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { importNodeLlamaCpp } from './runtime';

const maxDims = 4;
const chunkSize = 1 << 20;

/** [elements per block, bytes per block] of the ggml types whose size is certain; others are not bound-checked. */
const ggmlTypeSizes: Record<number, [number, number]> = {
    0: [1, 4],
    1: [1, 2],
    30: [1, 2],
    2: [32, 18],
    3: [32, 20],
    6: [32, 22],
    7: [32, 24],
    8: [32, 34],
    10: [256, 84],
    11: [256, 110],
    12: [256, 144],
    13: [256, 176],
    14: [256, 210],
};

/** Smallest encodings, used to reject counts the file cannot possibly hold. */
const minScalarSize: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 8, 10: 8, 11: 8, 12: 8 };
const arrayType = 9;
const stringType = 8;
const uint32Type = 4;

/** ggml tensor types llama.cpp knows (0..42, minus those it removed); anything else makes node-llama-cpp throw untyped. */
const removedGgmlTypes = new Set([4, 5, 31, 32, 33, 36, 37, 38]);
const isKnownGgmlType = (type: number) => type >= 0 && type <= 42 && !removedGgmlTypes.has(type);

/** llama.cpp's LLAMA_MAX_LAYERS: more blocks abort the process (GGML_ASSERT) or stall the layer loops. */
const maxBlocks = 512;

/** The item type each tokenizer array must have; llama.cpp reads them without checking. */
const tokenizerArrayTypes: Record<string, number> = {
    'tokenizer.ggml.tokens': stringType,
    'tokenizer.ggml.merges': stringType,
    'tokenizer.ggml.token_type': 5,
    'tokenizer.ggml.scores': 6,
};

/**
 * Hyperparameters that llama.cpp divides by or loops over; 0 (or an absurd count) aborts the whole
 * process with GGML_ASSERT instead of failing the load. Per-layer arrays are not checked.
 */
const hyperparameterRanges: Record<string, [number, number]> = {
    block_count: [1, maxBlocks],
    embedding_length: [1, Number.MAX_SAFE_INTEGER],
    'attention.head_count': [1, Number.MAX_SAFE_INTEGER],
    'attention.head_count_kv': [1, Number.MAX_SAFE_INTEGER],
};
const typeNames: Record<number, string> = { 4: 'uint32', 5: 'int32', 6: 'float32', 8: 'string', 9: 'array' };
const typeName = (type: number) => typeNames[type] ?? `type ${type}`;
const integerTypes: Record<number, (b: Buffer) => number> = {
    4: (b) => b.readUInt32LE(0),
    5: (b) => b.readInt32LE(0),
    10: (b) => Number(b.readBigUInt64LE(0)),
    11: (b) => Number(b.readBigInt64LE(0)),
};

class Problem extends Error {}

/** Reads forward through the file in chunks, refusing to go past its end. */
class BoundedReader {
    private buffer = Buffer.alloc(0);
    private bufferStart = 0;
    position = 0;

    constructor(
        private readonly handle: fs.FileHandle,
        readonly size: number,
    ) {}

    get remaining(): number {
        return this.size - this.position;
    }

    async bytes(length: number, what: string): Promise<Buffer> {
        if (length > this.remaining) {
            throw new Problem(`the file is truncated: it ends at byte ${this.size} while reading ${what} at byte ${this.position}`);
        }
        const end = this.position + length;
        if (this.position < this.bufferStart || end > this.bufferStart + this.buffer.length) {
            const readLength = Math.min(Math.max(length, chunkSize), this.size - this.position);
            const fresh = Buffer.alloc(readLength);
            await this.handle.read(fresh, 0, readLength, this.position);
            this.buffer = fresh;
            this.bufferStart = this.position;
        }
        const slice = this.buffer.subarray(this.position - this.bufferStart, end - this.bufferStart);
        this.position = end;
        return slice;
    }

    async u32(what: string): Promise<number> {
        return (await this.bytes(4, what)).readUInt32LE(0);
    }

    /** A u64 that must be at most `limit` (a count or length the remaining bytes could hold). */
    async count(what: string, limit: number): Promise<number> {
        const value = (await this.bytes(8, what)).readBigUInt64LE(0);
        if (value > BigInt(limit)) {
            throw new Problem(`${what} is ${value}, more than the ${this.remaining} remaining bytes of the file can hold`);
        }
        return Number(value);
    }

    async string(what: string): Promise<string> {
        const length = await this.count(`the length of ${what}`, this.remaining);
        return (await this.bytes(length, what)).toString('utf8');
    }
}

async function skipValue(reader: BoundedReader, type: number, key: string): Promise<void> {
    if (type === stringType) {
        await reader.string(`the value of ${key}`);
        return;
    }
    if (type === arrayType) {
        const itemType = await reader.u32(`the item type of ${key}`);
        const itemSize = minScalarSize[itemType];
        if (itemSize === undefined) throw new Problem(`${key} is an array of unknown type ${itemType}`);
        const count = await reader.count(`the length of ${key}`, Math.floor(reader.remaining / itemSize));
        if (itemType === stringType) {
            for (let i = 0; i < count; i++) await reader.string(`item ${i} of ${key}`);
        } else {
            await reader.bytes(count * itemSize, key);
        }
        return;
    }
    const size = minScalarSize[type];
    if (size === undefined) throw new Problem(`${key} has a value of unknown type ${type}`);
    await reader.bytes(size, key);
}

/** Walks magic, counts, metadata and tensor infos, and checks every tensor's data lies inside the file. */
async function checkStructure(reader: BoundedReader): Promise<void> {
    const magic = await reader.bytes(4, 'the magic bytes');
    if (magic.toString('latin1') !== 'GGUF') {
        throw new Problem(`it is not a GGUF file (it starts with ${JSON.stringify(magic.toString('latin1'))}, not "GGUF")`);
    }
    const version = await reader.u32('the version');
    if (version !== 2 && version !== 3) throw new Problem(`GGUF version ${version} is not supported (only 2 and 3)`);
    const tensorCount = await reader.count('the tensor count', Math.floor((reader.remaining - 8) / 25));
    const kvCount = await reader.count('the metadata count', Math.floor(reader.remaining / 13));
    let alignment = 32;
    const keys = new Set<string>();
    const integers = new Map<string, number>();
    let architecture: string | undefined;
    for (let i = 0; i < kvCount; i++) {
        const key = await reader.string(`metadata key ${i}`);
        if (keys.has(key)) throw new Problem(`the metadata key ${key} appears twice`);
        keys.add(key);
        const type = await reader.u32(`the type of ${key}`);
        if (key === 'general.alignment') {
            if (type !== uint32Type) throw new Problem(`general.alignment has type ${type}, not uint32`);
            alignment = (await reader.bytes(4, key)).readUInt32LE(0);
            if (alignment === 0 || (alignment & (alignment - 1)) !== 0) throw new Problem(`general.alignment ${alignment} is not a power of two`);
            continue;
        }
        if (key === 'general.architecture' && type === stringType) {
            architecture = await reader.string(key);
            continue;
        }
        const readInteger = integerTypes[type];
        if (readInteger) {
            integers.set(key, readInteger(await reader.bytes(type === 4 || type === 5 ? 4 : 8, key)));
            continue;
        }
        const expectedItemType = tokenizerArrayTypes[key];
        if (expectedItemType !== undefined) {
            const itemType = type === arrayType ? (await reader.bytes(4, `the item type of ${key}`)).readUInt32LE(0) : undefined;
            if (itemType !== expectedItemType) {
                const actual = itemType === undefined ? `a single ${typeName(type)}` : `an array of ${typeName(itemType)}`;
                throw new Problem(`${key} must be an array of ${typeName(expectedItemType)}, not ${actual}`);
            }
            reader.position -= 4;
        }
        await skipValue(reader, type, key);
    }
    for (const [name, [min, max]] of Object.entries(hyperparameterRanges)) {
        const value = architecture === undefined ? undefined : integers.get(`${architecture}.${name}`);
        if (value !== undefined && (value < min || value > max)) {
            throw new Problem(`${architecture}.${name} is ${value} (${max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min} to ${max}`} allowed)`);
        }
    }
    const tensors: { name: string; type: number; elements: number; offset: number }[] = [];
    const names = new Set<string>();
    for (let i = 0; i < tensorCount; i++) {
        const name = await reader.string(`the name of tensor ${i}`);
        if (names.has(name)) throw new Problem(`two tensors are named ${name}`);
        names.add(name);
        const nDims = await reader.u32(`the dimensions of ${name}`);
        if (nDims < 1 || nDims > maxDims) throw new Problem(`tensor ${name} has ${nDims} dimensions (1 to ${maxDims} allowed)`);
        let elements = 1;
        for (let d = 0; d < nDims; d++) {
            const dimension = await reader.count(`dimension ${d} of ${name}`, reader.size * 8);
            if (dimension === 0) throw new Problem(`dimension ${d} of tensor ${name} is 0`);
            elements *= dimension;
        }
        if (elements > reader.size * 8) throw new Problem(`tensor ${name} claims ${elements} elements, more than the file can hold`);
        const type = await reader.u32(`the type of ${name}`);
        if (!isKnownGgmlType(type)) throw new Problem(`tensor ${name} has the unknown ggml type ${type}`);
        const offset = await reader.count(`the data offset of ${name}`, reader.size);
        if (offset % alignment !== 0) throw new Problem(`the data offset ${offset} of tensor ${name} is not a multiple of the alignment ${alignment}`);
        tensors.push({ name, type, elements, offset });
    }
    const dataStart = Math.ceil(reader.position / alignment) * alignment;
    let previous: { name: string; end: number } | undefined;
    for (const tensor of [...tensors].sort((a, b) => a.offset - b.offset)) {
        const sizes = ggmlTypeSizes[tensor.type];
        const bytes = sizes ? Math.ceil(tensor.elements / sizes[0]) * sizes[1] : 0;
        const end = dataStart + tensor.offset + bytes;
        if (end > reader.size) {
            throw new Problem(`the file is truncated: tensor ${tensor.name} needs bytes up to ${end} but the file has ${reader.size}`);
        }
        // Overlapping tensors alias each other's weights; llama.cpp refuses them only after reading the whole header.
        if (previous && dataStart + tensor.offset < previous.end) throw new Problem(`tensors ${previous.name} and ${tensor.name} overlap`);
        if (sizes) previous = { name: tensor.name, end };
    }
}

function invalid(filePath: string, problem: string): LocalAiError {
    return new LocalAiError(ErrorCode.InvalidModelFile, `${path.basename(filePath)} cannot be loaded: ${problem}.`, {
        file: filePath,
        hint: 'Download the file again, or choose another model.',
    });
}

/**
 * Returns the file's GGUF info, or throws `InvalidModelFile` naming the file and the problem
 * (not a GGUF, truncated, impossible counts, hostile metadata, no architecture).
 */
export async function validateGgufFile(filePath: string, signal?: AbortSignal): Promise<GgufFileInfo> {
    let handle: fs.FileHandle;
    try {
        handle = await fs.open(filePath, 'r');
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw new LocalAiError(ErrorCode.ModelNotFound, `${filePath} does not exist.`, { file: filePath });
        throw invalid(filePath, `it cannot be opened (${code ?? String(error)})`);
    }
    try {
        const stat = await handle.stat();
        if (!stat.isFile()) throw invalid(filePath, 'it is not a file');
        await checkStructure(new BoundedReader(handle, stat.size));
    } catch (error) {
        if (error instanceof Problem) throw invalid(filePath, error.message);
        throw error;
    } finally {
        await handle.close();
    }
    const { readGgufFileInfo } = await importNodeLlamaCpp();
    let info: GgufFileInfo;
    try {
        info = await readGgufFileInfo(filePath, { sourceType: 'filesystem', logWarnings: false, signal });
    } catch (error) {
        // A request cancelled while the header is read: nothing is wrong with the file.
        if (signal?.aborted) throw new LocalAiError(ErrorCode.Cancelled, `The request was cancelled while ${path.basename(filePath)} was read.`);
        throw invalid(filePath, error instanceof Error ? error.message : String(error));
    }
    const architecture = (info.metadata as { general?: { architecture?: unknown } }).general?.architecture;
    if (typeof architecture !== 'string' || architecture.length === 0) {
        throw invalid(filePath, 'its metadata names no architecture (general.architecture)');
    }
    return info;
}
