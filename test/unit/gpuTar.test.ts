/**
 * The tar reader that unpacks GPU backends (src/sidecar/gpu/tar.ts): npm's layout unpacks as npm would, and every
 * archive that could write outside its folder, create a link or a device, or grow past the cap is refused with
 * nothing written outside the target. Archives come from the fixtures' own writer (test/fixtures/fakeNpmRegistry).
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { extractTar, extractTarGz, safeRelativePath, UnsafeArchiveError } from '../../src/sidecar/gpu/tar';
import { packTar, packTgz, type TarEntry } from '../fixtures/fakeNpmRegistry/tarWriter';
import { writeFileSync } from 'node:fs';

/** A parent folder holding the target `dest`, so anything written beside the target is seen. */
function workspace(): { parent: string; dest: string } {
    const parent = mkdtempSync(path.join(tmpdir(), 'local-ai-tar-'));
    const dest = path.join(parent, 'target');
    mkdirSync(dest);
    return { parent, dest };
}

async function* chunksOf(data: Buffer, size: number): AsyncGenerator<Buffer> {
    for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

/** Every file below `folder`, relative, sorted. */
function filesBelow(folder: string): string[] {
    return (readdirSync(folder, { recursive: true }) as string[]).filter((file) => statSync(path.join(folder, file)).isFile()).sort();
}

const extract = (archive: Buffer, dest: string, maxBytes = 1 << 20) => extractTar(chunksOf(archive, 777), { dest, maxBytes });

describe('gpu tar reader', () => {
    it('unpacks an npm package below its top folder: files, folders, modes and long names', async () => {
        const { dest } = workspace();
        const longName = `package/bins/${'deep/'.repeat(25)}lib.so`;
        const archive = packTgz([
            { name: 'package/', type: '5' },
            { name: 'package/package.json', data: Buffer.from('{"name":"x"}') },
            { name: 'package/bins/', type: '5' },
            { name: 'package/bins/run', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
            { name: longName, data: Buffer.alloc(1500, 7) },
        ]);
        const file = path.join(workspace().parent, 'p.tgz');
        writeFileSync(file, archive);
        const result = await extractTarGz(file, { dest, maxBytes: 1 << 20 });
        assert.deepEqual(filesBelow(dest), ['bins/run', longName.slice('package/'.length), 'package.json'].sort());
        assert.equal(readFileSync(path.join(dest, 'package.json'), 'utf8'), '{"name":"x"}');
        assert.ok(statSync(path.join(dest, 'bins/run')).mode & 0o100, 'the executable bit is kept');
        assert.deepEqual(result, { files: 3, bytes: 12 + 10 + 1500 });
    });

    const hostile: [string, TarEntry[], RegExp][] = [
        ['a ../ entry', [{ name: 'package/../../escape.txt', data: Buffer.from('x') }], /leaves its folder/],
        ['a ../ entry in a pax path', [{ name: 'package/ok.txt', pax: { path: 'package/../escape.txt' }, data: Buffer.from('x') }], /leaves its folder/],
        ['an absolute path', [{ name: '/tmp/escape.txt', data: Buffer.from('x') }], /absolute path/],
        ['a Windows drive path', [{ name: 'C:/escape.txt', data: Buffer.from('x') }], /absolute path/],
        ['a backslash path', [{ name: 'package\\..\\..\\escape.txt', data: Buffer.from('x') }], /backslash/],
        ['a symbolic link', [{ name: 'package/link', type: '2', linkname: '/etc/passwd' }], /symbolic link/],
        ['a hard link', [{ name: 'package/link', type: '1', linkname: 'package/other' }], /hard link/],
        ['a character device', [{ name: 'package/dev', type: '3' }], /character device/],
        ['a FIFO', [{ name: 'package/fifo', type: '6' }], /FIFO/],
        [
            'a name twice',
            [
                { name: 'package/a', data: Buffer.from('1') },
                { name: 'package/a', data: Buffer.from('2') },
            ],
            /twice/,
        ],
        [
            'a file under a file',
            [
                { name: 'package/a', data: Buffer.from('1') },
                { name: 'package/a/b', data: Buffer.from('2') },
            ],
            /both as a file/,
        ],
    ];
    for (const [what, entries, message] of hostile) {
        it(`refuses ${what}, and nothing is written outside the target`, async () => {
            const { parent, dest } = workspace();
            await assert.rejects(extract(packTar(entries), dest), (error: Error) => error instanceof UnsafeArchiveError && message.test(error.message));
            assert.deepEqual(readdirSync(parent), ['target']);
        });
    }

    it('refuses an archive that unpacks past the cap before writing the excess', async () => {
        const { dest } = workspace();
        const archive = packTar([
            { name: 'package/a', data: Buffer.alloc(600) },
            { name: 'package/b', data: Buffer.alloc(600) },
        ]);
        await assert.rejects(extract(archive, dest, 1000), /more than 1000 bytes/);
        assert.deepEqual(filesBelow(dest), ['a']);
    });

    it('refuses a truncated archive and a damaged header', async () => {
        const archive = packTar([{ name: 'package/a', data: Buffer.alloc(5000, 1) }], { end: false });
        await assert.rejects(extract(archive.subarray(0, 2048), workspace().dest), /truncated/);
        const damaged = Buffer.from(archive);
        damaged[10] ^= 0xff;
        await assert.rejects(extract(damaged, workspace().dest), /checksum/);
    });

    it('refuses a gzip stream that is not gzip', async () => {
        const { parent, dest } = workspace();
        const file = path.join(parent, 'bad.tgz');
        writeFileSync(file, Buffer.from('not gzip at all'));
        await assert.rejects(extractTarGz(file, { dest, maxBytes: 1 << 20 }));
    });

    it('fuzz: any archive of arbitrary names either unpacks inside the target or is refused', async () => {
        const segment = fc.constantFrom('..', '.', '', 'a', 'b', '/', '\\', 'C:', 'c d', '\u00e9', 'package');
        const name = fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('/'));
        const entry = fc.record({ name, type: fc.constantFrom('0', '5', '2', '1', '0'), data: fc.uint8Array({ maxLength: 700 }) });
        await fc.assert(
            fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 1024 }), async (entries, chunk) => {
                const { parent, dest } = workspace();
                const archive = packTar(entries.map((e) => ({ ...e, data: e.type === '0' ? Buffer.from(e.data) : undefined })));
                try {
                    await extractTar(chunksOf(archive, chunk), { dest, maxBytes: 1 << 20 });
                } catch (error) {
                    assert.ok(error instanceof UnsafeArchiveError, String(error));
                }
                assert.deepEqual(readdirSync(parent), ['target']);
                for (const file of filesBelow(dest)) assert.ok(!path.relative(dest, path.join(dest, file)).startsWith('..'));
            }),
            { numRuns: 300 },
        );
    });

    it('safeRelativePath drops the top folder and keeps what is below it', () => {
        assert.equal(safeRelativePath('package/dist/index.js'), 'dist/index.js');
        assert.equal(safeRelativePath('package/'), undefined);
        assert.equal(safeRelativePath('package/./a//b'), 'a/b');
    });

    it('the fixture writer and gunzip agree (sanity of the test archives)', () => {
        const entries = [{ name: 'package/a', data: Buffer.from('hello') }];
        assert.deepEqual(gunzipSync(packTgz(entries)), packTar(entries));
        assert.ok(!existsSync(path.join(tmpdir(), 'escape.txt')));
    });
});
