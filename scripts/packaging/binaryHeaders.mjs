// What a native binary was built for, read from its first bytes: the ELF (Linux), Mach-O (macOS) or PE
// (Windows) header. Packaging checks every llama.cpp binary it ships with it, and the VSIX test reads
// every VSIX with it, so a package that carries another platform's code cannot pass for this one's.
//
// Architectures use Node's names (process.arch): x64, arm64, arm, ia32, riscv64; an unknown machine
// code reads as `unknown(0x…)`, so it never matches an expected one.

/** How many bytes of a file readBinaryHeader() may need: the PE header sits behind the DOS stub. */
export const HEADER_BYTES = 4096;

// Machine codes as the three specifications number them (ELF e_machine, Mach-O cputype, PE Machine).
const ELF_MACHINES = new Map([
    [0x03, 'ia32'],
    [0x28, 'arm'],
    [0x3e, 'x64'],
    [0xb7, 'arm64'],
    [0xf3, 'riscv64'],
]);
const MACHO_CPUS = new Map([
    [0x7, 'ia32'],
    [0xc, 'arm'],
    [0x01000007, 'x64'],
    [0x0100000c, 'arm64'],
]);
const PE_MACHINES = new Map([
    [0x14c, 'ia32'],
    [0x1c4, 'arm'],
    [0x8664, 'x64'],
    [0xaa64, 'arm64'],
]);

const named = (table, code) => table.get(code) ?? `unknown(0x${code.toString(16)})`;

/**
 * @param {Uint8Array} bytes the start of a file (HEADER_BYTES are always enough)
 * @returns {{ format: 'elf' | 'mach-o' | 'pe', bits: 32 | 64, archs: string[] } | undefined} undefined when
 *   the bytes are no native binary (text, JSON, an `ar` archive such as a Windows .lib, or cut short);
 *   `archs` has one entry, or one per slice of a universal (fat) Mach-O file
 */
export function readBinaryHeader(bytes) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const has = (length) => bytes.byteLength >= length;
    if (has(20) && view.getUint32(0) === 0x7f454c46) {
        const bits = { 1: 32, 2: 64 }[bytes[4]];
        const littleEndian = bytes[5] === 1;
        if (!bits || (bytes[5] !== 1 && bytes[5] !== 2)) return undefined;
        return { format: 'elf', bits, archs: [named(ELF_MACHINES, view.getUint16(18, littleEndian))] };
    }
    if (has(8)) {
        // Thin Mach-O files are little-endian on every Apple platform this project targets.
        const magic = view.getUint32(0, true);
        if (magic === 0xfeedfacf || magic === 0xfeedface) {
            return { format: 'mach-o', bits: magic === 0xfeedfacf ? 64 : 32, archs: [named(MACHO_CPUS, view.getUint32(4, true))] };
        }
        // A universal file: a big-endian table of slices. Java class files share the magic, but their
        // version number stands where the slice count is, and it is never below 40.
        const slices = view.getUint32(4);
        if (view.getUint32(0) === 0xcafebabe && slices > 0 && slices < 40 && has(8 + slices * 20)) {
            const archs = Array.from({ length: slices }, (_, i) => named(MACHO_CPUS, view.getUint32(8 + i * 20)));
            const bits = archs.every((arch) => arch === 'x64' || arch === 'arm64') ? 64 : 32;
            return { format: 'mach-o', bits, archs };
        }
    }
    if (has(0x40) && bytes[0] === 0x4d && bytes[1] === 0x5a) {
        const peOffset = view.getUint32(0x3c, true);
        if (!has(peOffset + 26) || view.getUint32(peOffset) !== 0x50450000) return undefined;
        // The optional header's magic tells PE32 (0x10b) from PE32+ (0x20b).
        const bits = view.getUint16(peOffset + 24, true) === 0x20b ? 64 : 32;
        return { format: 'pe', bits, archs: [named(PE_MACHINES, view.getUint16(peOffset + 4, true))] };
    }
    return undefined;
}
