/**
 * What packaging and the VSIX test read from a native binary's first bytes (scripts/packaging/binaryHeaders.mjs),
 * and the packaging guard built on it (binaryCheck.mjs): a VSIX for one platform cannot carry another's code.
 * The headers are written here byte by byte, as the ELF, Mach-O and PE specifications lay them out.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

interface Header {
    format: 'elf' | 'mach-o' | 'pe';
    bits: 32 | 64;
    archs: string[];
}
interface HeadersModule {
    HEADER_BYTES: number;
    readBinaryHeader(bytes: Uint8Array): Header | undefined;
}
interface CheckModule {
    nativeBinaries(folder: string): { file: string; format: string; archs: string[] }[];
    checkBinaries(options: { folder: string; target: string; format: string; arch: string }): unknown;
}

/** npm test runs with the repository as its working folder. */
const load = <T>(name: string) => import(pathToFileURL(path.resolve('scripts', 'packaging', name)).href) as Promise<T>;

/** An ELF file header: magic, class (1: 32-bit, 2: 64-bit), data (1: little-endian, 2: big-endian), e_machine at 18. */
function elf({ bits = 64, littleEndian = true, machine }: { bits?: 32 | 64; littleEndian?: boolean; machine: number }): Uint8Array {
    const bytes = new Uint8Array(64);
    bytes.set([0x7f, 0x45, 0x4c, 0x46, bits === 64 ? 2 : 1, littleEndian ? 1 : 2, 1]);
    new DataView(bytes.buffer).setUint16(18, machine, littleEndian);
    return bytes;
}

/** A thin Mach-O header, little-endian: magic (0xfeedfacf for 64-bit), then the CPU type. */
function macho({ magic = 0xfeedfacf, cpu }: { magic?: number; cpu: number }): Uint8Array {
    const bytes = new Uint8Array(32);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, magic, true);
    view.setUint32(4, cpu, true);
    return bytes;
}

/** A universal Mach-O header, big-endian: 0xcafebabe, the slice count, then 20 bytes per slice starting with its CPU type. */
function fat(cpus: number[]): Uint8Array {
    const bytes = new Uint8Array(8 + cpus.length * 20);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, 0xcafebabe);
    view.setUint32(4, cpus.length);
    for (const [i, cpu] of cpus.entries()) view.setUint32(8 + i * 20, cpu);
    return bytes;
}

/** A PE file: the DOS header ('MZ', e_lfanew at 0x3c), then 'PE\0\0', the machine, and the optional header's magic. */
function pe({ machine, optionalMagic = 0x20b, at = 0x78 }: { machine: number; optionalMagic?: number; at?: number }): Uint8Array {
    const bytes = new Uint8Array(at + 64);
    const view = new DataView(bytes.buffer);
    bytes.set([0x4d, 0x5a]);
    view.setUint32(0x3c, at, true);
    view.setUint32(at, 0x50450000);
    view.setUint16(at + 4, machine, true);
    view.setUint16(at + 24, optionalMagic, true);
    return bytes;
}

describe('native binary headers', () => {
    let headers: HeadersModule;
    let check: CheckModule;
    before(async () => {
        headers = await load<HeadersModule>('binaryHeaders.mjs');
        check = await load<CheckModule>('binaryCheck.mjs');
    });

    it('reads the architecture of Linux (ELF) binaries', () => {
        assert.deepEqual(headers.readBinaryHeader(elf({ machine: 0x3e })), { format: 'elf', bits: 64, archs: ['x64'] });
        assert.deepEqual(headers.readBinaryHeader(elf({ machine: 0xb7 })), { format: 'elf', bits: 64, archs: ['arm64'] });
        assert.deepEqual(headers.readBinaryHeader(elf({ bits: 32, machine: 0x28 })), { format: 'elf', bits: 32, archs: ['arm'] });
        assert.deepEqual(headers.readBinaryHeader(elf({ machine: 0xf3 })), { format: 'elf', bits: 64, archs: ['riscv64'] });
        // A big-endian file stores e_machine the other way round.
        assert.deepEqual(headers.readBinaryHeader(elf({ littleEndian: false, machine: 0x3e })), { format: 'elf', bits: 64, archs: ['x64'] });
    });

    it('reads the architecture of macOS (Mach-O) binaries, thin and universal', () => {
        assert.deepEqual(headers.readBinaryHeader(macho({ cpu: 0x0100000c })), { format: 'mach-o', bits: 64, archs: ['arm64'] });
        assert.deepEqual(headers.readBinaryHeader(macho({ cpu: 0x01000007 })), { format: 'mach-o', bits: 64, archs: ['x64'] });
        assert.deepEqual(headers.readBinaryHeader(macho({ magic: 0xfeedface, cpu: 7 })), { format: 'mach-o', bits: 32, archs: ['ia32'] });
        assert.deepEqual(headers.readBinaryHeader(fat([0x01000007, 0x0100000c])), { format: 'mach-o', bits: 64, archs: ['x64', 'arm64'] });
    });

    it('reads the architecture of Windows (PE) binaries', () => {
        assert.deepEqual(headers.readBinaryHeader(pe({ machine: 0x8664 })), { format: 'pe', bits: 64, archs: ['x64'] });
        assert.deepEqual(headers.readBinaryHeader(pe({ machine: 0xaa64 })), { format: 'pe', bits: 64, archs: ['arm64'] });
        assert.deepEqual(headers.readBinaryHeader(pe({ machine: 0x14c, optionalMagic: 0x10b })), { format: 'pe', bits: 32, archs: ['ia32'] });
        // The PE header may sit anywhere e_lfanew says, as long as it is within the bytes read.
        const far = headers.HEADER_BYTES - 64;
        assert.deepEqual(headers.readBinaryHeader(pe({ machine: 0xaa64, at: far })), { format: 'pe', bits: 64, archs: ['arm64'] });
    });

    it('names an unknown machine code instead of guessing', () => {
        assert.deepEqual(headers.readBinaryHeader(elf({ machine: 0x102 })), { format: 'elf', bits: 64, archs: ['unknown(0x102)'] });
        assert.deepEqual(headers.readBinaryHeader(pe({ machine: 0x5064 })), { format: 'pe', bits: 64, archs: ['unknown(0x5064)'] });
    });

    it('finds no binary in text, archives, Java classes, DOS programs or cut-off headers', () => {
        const text = (s: string) => new TextEncoder().encode(s);
        // Java 8's class file version (52) where a universal binary keeps its slice count, and enough bytes for 52 slices.
        const javaClass = new Uint8Array(headers.HEADER_BYTES);
        javaClass.set([0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00, 0x00, 0x34]);
        const dosProgram = pe({ machine: 0x8664 });
        dosProgram.set([0, 0, 0, 0], 0x78);
        for (const [what, bytes] of [
            ['JSON', text('{"name": "llama-addon"}')],
            ['a Windows import library (ar archive)', text('!<arch>\n/               0           0     0     0       ')],
            ['a Java class file', javaClass],
            ['a DOS program without a PE header', dosProgram],
            ['an ELF header cut short', elf({ machine: 0x3e }).subarray(0, 12)],
            ['a PE header beyond the bytes read', pe({ machine: 0x8664 }).subarray(0, 0x78 + 8)],
            ['an ELF file of no known class', Object.assign(elf({ machine: 0x3e }), { 4: 3 })],
            ['nothing', new Uint8Array(0)],
        ] as const) {
            assert.equal(headers.readBinaryHeader(bytes), undefined, what);
        }
    });

    it("reads node-llama-cpp's installed Linux binaries as what their package names say", () => {
        const addon = (platform: string) => path.resolve('node_modules', '@node-llama-cpp', platform, 'bins', platform, 'llama-addon.node');
        const first = (file: string) => fs.readFileSync(file).subarray(0, headers.HEADER_BYTES);
        assert.deepEqual(headers.readBinaryHeader(first(addon('linux-x64'))), { format: 'elf', bits: 64, archs: ['x64'] });
        assert.deepEqual(headers.readBinaryHeader(first(addon('linux-arm64'))), { format: 'elf', bits: 64, archs: ['arm64'] });
    });

    describe('the packaging guard', () => {
        let folder: string;
        const write = (file: string, bytes: Uint8Array) => {
            fs.mkdirSync(path.dirname(path.join(folder, file)), { recursive: true });
            fs.writeFileSync(path.join(folder, file), bytes);
        };
        beforeEach(() => {
            folder = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-binaries-'));
        });
        afterEach(() => fs.rmSync(folder, { recursive: true, force: true }));

        it("accepts a staged package whose binaries are all the target's", () => {
            write('node_modules/@node-llama-cpp/win-arm64/bins/win-arm64/llama-addon.node', pe({ machine: 0xaa64 }));
            write('node_modules/@node-llama-cpp/win-arm64/bins/win-arm64/ggml-cpu.dll', pe({ machine: 0xaa64 }));
            write('node_modules/@node-llama-cpp/win-arm64/bins/win-arm64/llama-addon.lib', new TextEncoder().encode('!<arch>\n'));
            write('node_modules/node-llama-cpp/package.json', new TextEncoder().encode('{}'));
            check.checkBinaries({ folder, target: 'win32-arm64', format: 'pe', arch: 'arm64' });
            assert.deepEqual(
                check
                    .nativeBinaries(folder)
                    .map((binary) => binary.file)
                    .sort(),
                [
                    'node_modules/@node-llama-cpp/win-arm64/bins/win-arm64/ggml-cpu.dll',
                    'node_modules/@node-llama-cpp/win-arm64/bins/win-arm64/llama-addon.node',
                ],
            );
        });

        it('refuses, naming each, binaries of another architecture or platform, wherever they are', () => {
            write('node_modules/@node-llama-cpp/linux-armv7l/bins/linux-armv7l/llama-addon.node', elf({ machine: 0xb7 }));
            write('node_modules/some-dependency/prebuilds/helper.node', macho({ cpu: 0x0100000c }));
            assert.throws(
                () => check.checkBinaries({ folder, target: 'linux-armhf', format: 'elf', arch: 'arm' }),
                (error: Error) =>
                    error.message.includes('not elf arm') &&
                    error.message.includes('linux-armv7l/llama-addon.node: elf arm64') &&
                    error.message.includes('some-dependency/prebuilds/helper.node: mach-o arm64'),
            );
        });

        it('refuses a universal binary that carries another architecture beside the right one', () => {
            write('node_modules/@node-llama-cpp/mac-arm64-metal/bins/mac-arm64-metal/llama-addon.node', fat([0x0100000c, 0x01000007]));
            assert.throws(
                () => check.checkBinaries({ folder, target: 'darwin-arm64', format: 'mach-o', arch: 'arm64' }),
                /llama-addon\.node: mach-o arm64\+x64/,
            );
        });

        it('refuses a package without the llama.cpp addon', () => {
            write('node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libllama.so', elf({ machine: 0x3e }));
            assert.throws(() => check.checkBinaries({ folder, target: 'linux-x64', format: 'elf', arch: 'x64' }), /no llama-addon\.node/);
        });
    });
});
