/**
 * A small, strict reader of npm's package tarballs (.tgz: gzip over ustar, with pax and GNU long names), written
 * here rather than taken from a dependency because it guards what a GPU backend may write on the user's disk.
 * It refuses rather than skips: an entry that leaves the target (`..`, an absolute path, a drive letter, a
 * backslash), a link (symbolic or hard), a device or FIFO, a name that appears twice, and more content than the
 * cap. Entries are streamed to files, so the archive is never held in memory.
 */
import { createReadStream, constants as fsConstants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createGunzip } from 'node:zlib';

export interface ExtractOptions {
    /** Folder to write into: a fresh, empty folder that the caller deletes when extraction throws. */
    dest: string;
    /** Most bytes of file content in all; an archive with more is refused before the excess is written. */
    maxBytes: number;
    /** Most entries (files, folders, headers). Default 100,000. */
    maxEntries?: number;
    /** Stops the extraction between chunks. */
    signal?: AbortSignal;
}

export interface ExtractResult {
    files: number;
    bytes: number;
}

/** The archive is malformed or asks for something this reader refuses; nothing of it may be used. */
export class UnsafeArchiveError extends Error {}

const BLOCK = 512;
/** Pax and GNU long-name headers are a few hundred bytes; a larger one is refused rather than buffered. */
const MAX_META_BYTES = 64 * 1024;
const FILE_TYPES = new Set(['0', '\0', '7']);
const REFUSED_TYPES: Record<string, string> = {
    '1': 'a hard link',
    '2': 'a symbolic link',
    '3': 'a character device',
    '4': 'a block device',
    '6': 'a FIFO',
};

/** Unpacks a .tgz file into `options.dest`, dropping the first path component of every entry as npm does (`package/`). */
export async function extractTarGz(file: string, options: ExtractOptions): Promise<ExtractResult> {
    const source = createReadStream(file).pipe(createGunzip());
    try {
        return await extractTar(source, options);
    } finally {
        source.destroy();
    }
}

/** Unpacks an uncompressed tar stream into `options.dest` (see extractTarGz). */
export async function extractTar(source: AsyncIterable<Buffer>, options: ExtractOptions): Promise<ExtractResult> {
    const reader = new ChunkReader(source[Symbol.asyncIterator]());
    const maxEntries = options.maxEntries ?? 100_000;
    const written = new Set<string>();
    let entries = 0;
    let bytes = 0;
    let files = 0;
    let longName: string | undefined;
    let pax: Record<string, string> = {};
    for (;;) {
        options.signal?.throwIfAborted();
        const header = await reader.take(BLOCK, 'a header');
        if (header === undefined || header.every((byte) => byte === 0)) break;
        if (++entries > maxEntries) throw new UnsafeArchiveError(`The archive has more than ${maxEntries} entries.`);
        checkChecksum(header);
        const type = String.fromCharCode(header[156]);
        const size = pax.size !== undefined ? decimal(pax.size, 'pax size') : octal(header, 124, 12, 'size');
        const padded = Math.ceil(size / BLOCK) * BLOCK;
        if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
            if (size > MAX_META_BYTES) throw new UnsafeArchiveError(`A ${size}-byte extended header is larger than any real one.`);
            const data = (await reader.take(padded, 'an extended header'))?.subarray(0, size);
            if (!data) throw truncated();
            if (type === 'x') pax = parsePax(data);
            if (type === 'L') longName = data.toString('utf8').replace(/\0.*$/s, '');
            // 'g' (global pax) and 'K' (a long link name) need nothing: links are refused below.
            continue;
        }
        const name = pax.path ?? longName ?? headerName(header);
        pax = {};
        longName = undefined;
        if (REFUSED_TYPES[type]) throw new UnsafeArchiveError(`The archive holds ${REFUSED_TYPES[type]} (${name}); links and devices are refused.`);
        if (type !== '5' && !FILE_TYPES.has(type)) throw new UnsafeArchiveError(`The archive holds an entry of unknown type "${type}" (${name}).`);
        const relative = safeRelativePath(name);
        const target = relative === undefined ? undefined : path.join(options.dest, relative);
        if (type === '5') {
            if (target) await conflictsAsRefusal(name, () => fs.mkdir(target, { recursive: true }));
            if (size > 0) await reader.skip(padded);
            continue;
        }
        if (bytes + size > options.maxBytes) throw new UnsafeArchiveError(`The archive unpacks to more than ${options.maxBytes} bytes.`);
        bytes += size;
        if (!target) throw new UnsafeArchiveError(`The archive holds a file with no name below its top folder (${name}).`);
        if (written.has(target)) throw new UnsafeArchiveError(`The archive holds ${name} twice.`);
        written.add(target);
        await conflictsAsRefusal(name, () => writeEntry(reader, target, size, executable(header)));
        await reader.skip(padded - size);
        files++;
    }
    return { files, bytes };
}

/**
 * The entry's path below the archive's top folder, or undefined for the top folder itself. Throws for a path
 * that could leave the target on any platform.
 */
export function safeRelativePath(name: string): string | undefined {
    if (name.includes('\0')) throw new UnsafeArchiveError('The archive holds a name with a NUL byte.');
    if (name.includes('\\')) throw new UnsafeArchiveError(`The archive holds a name with a backslash (${name}).`);
    if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) throw new UnsafeArchiveError(`The archive holds an absolute path (${name}).`);
    const parts = name.split('/').filter((part) => part !== '' && part !== '.');
    if (parts.includes('..')) throw new UnsafeArchiveError(`The archive holds a path that leaves its folder (${name}).`);
    const below = parts.slice(1);
    return below.length > 0 ? below.join('/') : undefined;
}

/** A name used both as a file and as a folder is a malformed archive, not a file system fault. */
async function conflictsAsRefusal(name: string, work: () => Promise<unknown>): Promise<void> {
    try {
        await work();
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR')
            throw new UnsafeArchiveError(`The archive holds ${name} both as a file and as a folder.`);
        throw error;
    }
}

async function writeEntry(reader: ChunkReader, target: string, size: number, isExecutable: boolean): Promise<void> {
    await fs.mkdir(path.dirname(target), { recursive: true });
    const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | (fsConstants.O_NOFOLLOW ?? 0);
    const file = await fs.open(target, flags, isExecutable ? 0o755 : 0o644);
    try {
        await reader.stream(size, async (chunk) => {
            await file.write(chunk);
        });
    } finally {
        await file.close();
    }
}

function headerName(header: Buffer): string {
    const name = text(header, 0, 100);
    const ustar = header.toString('latin1', 257, 262) === 'ustar';
    const prefix = ustar ? text(header, 345, 155) : '';
    return prefix ? `${prefix}/${name}` : name;
}

function text(header: Buffer, offset: number, length: number): string {
    const field = header.subarray(offset, offset + length);
    const end = field.indexOf(0);
    return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

function octal(header: Buffer, offset: number, length: number, what: string): number {
    // Base-256 sizes (first byte 0x80) only appear for entries over 8 GB: no GPU package has one.
    if (header[offset] & 0x80) throw new UnsafeArchiveError(`The archive's ${what} field uses base-256 (an entry over 8 GB).`);
    const digits = text(header, offset, length).trim();
    if (!/^[0-7]*$/.test(digits)) throw new UnsafeArchiveError(`The archive's ${what} field is not a number.`);
    return digits === '' ? 0 : Number.parseInt(digits, 8);
}

function decimal(value: string, what: string): number {
    if (!/^\d{1,15}$/.test(value)) throw new UnsafeArchiveError(`The archive's ${what} is not a number.`);
    return Number(value);
}

function executable(header: Buffer): boolean {
    return (octal(header, 100, 8, 'mode') & 0o111) !== 0;
}

function checkChecksum(header: Buffer): void {
    const recorded = octal(header, 148, 8, 'checksum');
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
    if (sum !== recorded) throw new UnsafeArchiveError('The archive is damaged or not a tar archive (a header checksum does not match).');
}

/** `<length> <key>=<value>\n` records; only `path`, `linkpath` and `size` matter here. */
function parsePax(data: Buffer): Record<string, string> {
    const records: Record<string, string> = {};
    let at = 0;
    while (at < data.length) {
        const space = data.indexOf(0x20, at);
        const length = space === -1 ? Number.NaN : Number(data.toString('latin1', at, space));
        if (!Number.isInteger(length) || length <= 0 || at + length > data.length) throw new UnsafeArchiveError('The archive has a malformed pax header.');
        const record = data.toString('utf8', space + 1, at + length - 1);
        const equals = record.indexOf('=');
        if (equals > 0) records[record.slice(0, equals)] = record.slice(equals + 1);
        at += length;
    }
    return records;
}

function truncated(): UnsafeArchiveError {
    return new UnsafeArchiveError('The archive ends in the middle of an entry (truncated).');
}

/** Reads exact byte counts from a stream of chunks of any size. */
class ChunkReader {
    private buffered: Buffer = Buffer.alloc(0);
    private ended = false;

    constructor(private readonly source: AsyncIterator<Buffer>) {}

    /** Exactly `length` bytes, or undefined at a clean end of the stream (nothing left); throws when it ends in between. */
    async take(length: number, what: string): Promise<Buffer | undefined> {
        while (this.buffered.length < length && (await this.more()));
        if (this.buffered.length === 0 && length > 0) return undefined;
        if (this.buffered.length < length) throw new UnsafeArchiveError(`The archive ends in the middle of ${what} (truncated).`);
        const taken = this.buffered.subarray(0, length);
        this.buffered = this.buffered.subarray(length);
        return taken;
    }

    /** Passes the next `length` bytes to `sink` as they arrive. */
    async stream(length: number, sink: (chunk: Buffer) => Promise<void>): Promise<void> {
        let left = length;
        while (left > 0) {
            if (this.buffered.length === 0 && !(await this.more())) throw truncated();
            const piece = this.buffered.subarray(0, Math.min(left, this.buffered.length));
            this.buffered = this.buffered.subarray(piece.length);
            left -= piece.length;
            await sink(piece);
        }
    }

    async skip(length: number): Promise<void> {
        await this.stream(length, async () => undefined);
    }

    private async more(): Promise<boolean> {
        if (this.ended) return false;
        const next = await this.source.next();
        if (next.done) {
            this.ended = true;
            return false;
        }
        this.buffered = this.buffered.length === 0 ? next.value : Buffer.concat([this.buffered, next.value]);
        return true;
    }
}
