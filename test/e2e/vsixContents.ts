/**
 * What a VSIX holds, read as VS Code's installer reads it: a zip file, its central directory at the end,
 * each entry stored or deflated. Only what the VSIX tests need: names and contents, no ZIP64 (a VSIX is
 * far below 4 GB and 65,535 entries).
 */
import * as fs from 'node:fs';
import { inflateRawSync } from 'node:zlib';

export interface VsixEntry {
    /** The path inside the VSIX, e.g. `extension/package.json`. */
    name: string;
    /** The entry's contents, uncompressed. */
    read(): Buffer;
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_FILE_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;

/** Every file entry of the zip file at `file`, in the central directory's order. */
export function readVsix(file: string): VsixEntry[] {
    const zip = fs.readFileSync(file);
    // The end record is the last 22 bytes, unless a comment (at most 65,535 bytes) follows it.
    let end = -1;
    for (let at = zip.length - 22; at >= Math.max(0, zip.length - 22 - 0xffff); at--) {
        if (zip.readUInt32LE(at) === END_OF_CENTRAL_DIRECTORY) {
            end = at;
            break;
        }
    }
    if (end < 0) throw new Error(`${file} is not a zip file: no end of central directory`);
    const count = zip.readUInt16LE(end + 10);
    let at = zip.readUInt32LE(end + 16);
    const entries: VsixEntry[] = [];
    for (let i = 0; i < count; i++) {
        if (zip.readUInt32LE(at) !== CENTRAL_FILE_HEADER) throw new Error(`${file}: central directory entry ${i} is damaged`);
        const method = zip.readUInt16LE(at + 10);
        const compressedSize = zip.readUInt32LE(at + 20);
        const size = zip.readUInt32LE(at + 24);
        const nameLength = zip.readUInt16LE(at + 28);
        const localHeader = zip.readUInt32LE(at + 42);
        const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
        at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
        if (name.endsWith('/')) continue;
        entries.push({
            name,
            read() {
                if (zip.readUInt32LE(localHeader) !== LOCAL_FILE_HEADER) throw new Error(`${file}: ${name} has no local header`);
                const start = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
                const stored = zip.subarray(start, start + compressedSize);
                const data = method === 0 ? stored : method === 8 ? inflateRawSync(stored) : undefined;
                if (!data) throw new Error(`${file}: ${name} uses compression method ${method}`);
                if (data.length !== size) throw new Error(`${file}: ${name} is ${data.length} bytes, its directory says ${size}`);
                return data;
            },
        });
    }
    return entries;
}
