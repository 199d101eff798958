// Every native binary in a staged extension must be built for the target it is packaged for.
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { join, relative } from 'node:path';
import { HEADER_BYTES, readBinaryHeader } from './binaryHeaders.mjs';

/**
 * The native binaries under `folder`, each with what its header says it was built for.
 * @param {string} folder
 * @returns {{ file: string, format: string, archs: string[] }[]} file: relative to folder, with `/`
 */
export function nativeBinaries(folder) {
    const found = [];
    const buffer = Buffer.alloc(HEADER_BYTES);
    for (const entry of readdirSync(folder, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const path = join(entry.parentPath, entry.name);
        const fd = openSync(path, 'r');
        let read;
        try {
            read = readSync(fd, buffer, 0, HEADER_BYTES, 0);
        } finally {
            closeSync(fd);
        }
        const header = readBinaryHeader(buffer.subarray(0, read));
        if (header) found.push({ file: relative(folder, path).split('\\').join('/'), format: header.format, archs: header.archs });
    }
    return found;
}

/**
 * Throws, naming each culprit, unless every native binary under `folder` is `format` built for `arch`
 * alone, and llama.cpp's addon is among them.
 * @param {object} options
 * @param {string} options.folder the staged extension
 * @param {string} options.target the VS Code target, for the message
 * @param {string} options.format 'elf', 'mach-o' or 'pe'
 * @param {string} options.arch in Node's names
 */
export function checkBinaries({ folder, target, format, arch }) {
    const binaries = nativeBinaries(folder);
    const wrong = binaries.filter((binary) => binary.format !== format || binary.archs.join() !== arch);
    if (wrong.length) {
        const lines = wrong.map((binary) => `  ${binary.file}: ${binary.format} ${binary.archs.join('+')}`);
        throw new Error(`The ${target} package would carry binaries that are not ${format} ${arch}:\n${lines.join('\n')}`);
    }
    if (!binaries.some((binary) => binary.file.endsWith('/llama-addon.node'))) throw new Error(`The ${target} package has no llama-addon.node.`);
    return binaries;
}
