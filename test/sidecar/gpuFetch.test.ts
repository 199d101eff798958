/**
 * Fetching a GPU backend (src/sidecar/gpu) from a loopback npm registry (test/fixtures/fakeNpmRegistry): the real
 * @node-llama-cpp/linux-x64-vulkan package that npm installed, packed as npm publishes it, with its true sha512;
 * and each fault a registry, a proxy or a hostile package can show. After every failure nothing is installed.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ErrorCode, isLocalAiError } from '../../src/common/errors';
import type { HardwareReport } from '../../src/common/hardware';
import type { GpuFetchProgress } from '../../src/common/protocol';
import { defaultSettings } from '../../src/common/settings';
import { SidecarContext } from '../../src/sidecar/context';
import { GpuService } from '../../src/sidecar/gpu';
import { nodeLlamaCppVersion } from '../../src/sidecar/gpu/packages';
import { craftedPackage, type FakeNpmRegistry, packInstalledPackage, startFakeNpmRegistry } from '../fixtures/fakeNpmRegistry/server';
import type { TarEntry } from '../fixtures/fakeNpmRegistry/tarWriter';

const VULKAN = '@node-llama-cpp/linux-x64-vulkan';
const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

/** A pretend machine with an AMD GPU: the offer is Vulkan. */
const amdReport = { gpus: [{ vendor: 'AMD', model: 'Radeon RX 7800 XT', vramTotalBytes: 16 << 30, usable: false }] } as unknown as HardwareReport;

/** A small but well-formed backend package, so the fault cases move little data. */
function smallPackage(extra: TarEntry[] = []): ReturnType<typeof craftedPackage> {
    const version = nodeLlamaCppVersion();
    return craftedPackage(VULKAN, version, [
        { name: 'package/', type: '5' },
        { name: 'package/package.json', data: Buffer.from(JSON.stringify({ name: VULKAN, version, type: 'module', main: 'dist/index.js' })) },
        { name: 'package/dist/index.js', data: Buffer.from('export function getBinsDir() { return {}; }\n') },
        { name: 'package/bins/blob', data: randomBytes(400_000) },
        ...extra,
    ]);
}

describe('gpu: fetching a backend from the npm registry', function () {
    this.timeout(300_000);
    let registry: FakeNpmRegistry;
    let root: string;
    let offline: boolean;

    function service(): GpuService {
        const settings = { ...defaultSettings(), gpuRegistry: registry.url, offline };
        const context = new SidecarContext({
            log: silent,
            settings,
            secrets: { providerKeys: {} },
            defaultModelsPath: root,
            statePath: root,
            gpuBackendsPath: root,
        });
        return new GpuService({
            context,
            hardware: async () => amdReport,
            runtime: { active: () => undefined, loadFailure: () => undefined },
            platform: 'linux',
            arch: 'x64',
        });
    }

    const enable = (progress: GpuFetchProgress[] = [], signal = new AbortController().signal) => service().enable('vulkan', (p) => progress.push(p), signal);

    /** Nothing installed: no backend folder, no staging folder left behind. */
    function assertNothingInstalled(): void {
        const version = path.join(root, nodeLlamaCppVersion());
        assert.ok(!existsSync(version) || readdirSync(version).length === 0, `installed: ${existsSync(version) ? readdirSync(version) : ''}`);
        assert.deepEqual(
            readdirSync(root).filter((entry) => entry.startsWith('.staging-')),
            [],
        );
    }

    beforeEach(async () => {
        root = mkdtempSync(path.join(tmpdir(), 'local-ai-gpu-'));
        offline = false;
        registry = await startFakeNpmRegistry();
    });

    afterEach(async () => {
        await registry.close();
    });

    it('offers Vulkan for an AMD GPU with the sizes from the registry, before anything is downloaded', async () => {
        const real = packInstalledPackage(VULKAN);
        registry.add(real);
        const { offer } = await service().offer();
        assert.ok(offer);
        assert.equal(offer.backend, 'vulkan');
        assert.deepEqual(
            offer.packages.map((p) => [p.name, p.version, p.downloadBytes, p.unpackedBytes]),
            [[VULKAN, nodeLlamaCppVersion(), real.tarball.length, real.unpackedSize]],
        );
        assert.match(offer.summary, new RegExp(`${VULKAN}@${nodeLlamaCppVersion()}.*from ${registry.url}`));
        assert.ok(!registry.requests.some((r) => r.method === 'GET' && r.url.startsWith('/tarballs/')), 'no tarball was downloaded');
    });

    it('installs the real Vulkan package: verified, unpacked under <version>/linux-x64-vulkan, with progress', async () => {
        const real = packInstalledPackage(VULKAN);
        registry.add(real);
        const progress: GpuFetchProgress[] = [];
        const result = await enable(progress);
        const folder = path.join(root, nodeLlamaCppVersion(), 'linux-x64-vulkan');
        assert.equal(result.installed.folder, folder);
        assert.equal(result.restartRequired, true);
        assert.equal(result.bytesFetched, real.tarball.length);
        const installed = path.join(folder, 'node_modules', VULKAN);
        const source = path.join(process.cwd(), 'node_modules', VULKAN);
        assert.deepEqual(
            readFileSync(path.join(installed, 'bins/linux-x64-vulkan/libggml-vulkan.so')),
            readFileSync(path.join(source, 'bins/linux-x64-vulkan/libggml-vulkan.so')),
        );
        assert.equal(result.installed.sizeBytes > real.unpackedSize! - 1, true);
        assert.deepEqual([...new Set(progress.map((p) => p.phase))], ['download', 'verify', 'unpack']);
        assert.equal(progress.filter((p) => p.phase === 'verify')[0].bytes, real.tarball.length);
        const again = await enable();
        assert.equal(again.downloaded, false, 'a second enable fetches nothing');
    });

    it('an integrity mismatch installs nothing, deletes the bad bytes, and says so', async () => {
        registry.add(smallPackage());
        registry.faults.corrupt = new Set([VULKAN]);
        await assert.rejects(enable(), (error: unknown) => {
            assert.ok(isLocalAiError(error) && error.code === ErrorCode.ChecksumMismatch);
            assert.match(error.message, /arrived corrupted: its sha512 .* is not the registry's integrity .*Nothing was installed/);
            return true;
        });
        assertNothingInstalled();
        assert.deepEqual(readdirSync(path.join(root, '.downloads')), [], 'the corrupted tarball is deleted');
    });

    it('a connection that dies halfway is resumed by Range and the backend installs', async () => {
        const pkg = smallPackage();
        registry.add(pkg);
        registry.faults.truncateOnce = new Set([VULKAN]);
        const result = await enable();
        assert.equal(result.downloaded, true);
        const gets = registry.requests.filter((r) => r.method === 'GET' && r.url.startsWith('/tarballs/'));
        assert.equal(gets.length, 2);
        assert.equal(gets[0].range, undefined);
        assert.match(gets[1].range ?? '', /^bytes=[1-9]\d*-$/, 'the second request resumes from the bytes on disk');
    });

    it('a cancelled download keeps its partial, and the next enable resumes from it', async () => {
        registry.add(packInstalledPackage(VULKAN));
        const controller = new AbortController();
        // Cancelled as soon as the first bytes are reported, as the Cancel button would.
        const cancelled = service().enable(
            'vulkan',
            (p) => {
                if (p.bytes > 0) controller.abort();
            },
            controller.signal,
        );
        await assert.rejects(cancelled, (error: unknown) => isLocalAiError(error) && error.code === ErrorCode.Cancelled);
        assertNothingInstalled();
        assert.equal(readdirSync(path.join(root, '.downloads')).length, 1, 'the partial tarball is kept');
        registry.requests.length = 0;
        await enable();
        const get = registry.requests.find((r) => r.method === 'GET' && r.url.startsWith('/tarballs/'));
        assert.match(get?.range ?? '', /^bytes=[1-9]\d*-$/);
    });

    it('503 answers are retried and then the backend installs', async () => {
        registry.add(smallPackage());
        registry.faults.unavailable = new Map([[VULKAN, 2]]);
        const result = await enable();
        assert.equal(result.downloaded, true);
        assert.equal(registry.requests.filter((r) => r.method === 'GET' && r.url.startsWith('/tarballs/')).length, 3);
    });

    it('a version the registry does not have is a clear message, and nothing is fetched', async () => {
        registry.add(smallPackage());
        registry.faults.missing = new Set([VULKAN]);
        await assert.rejects(enable(), (error: unknown) => {
            assert.ok(isLocalAiError(error) && error.code === ErrorCode.DownloadFailed);
            assert.match(error.message, new RegExp(`has no ${VULKAN}@${nodeLlamaCppVersion()} \\(HTTP 404\\)`));
            assert.match(error.data.hint ?? '', /must match node-llama-cpp .* exactly/);
            return true;
        });
        assertNothingInstalled();
    });

    for (const [what, entry] of [
        ['a ../ entry', { name: 'package/../../../escape.txt', data: Buffer.from('owned') }],
        ['a symbolic link', { name: 'package/bins/evil', type: '2', linkname: '/etc/passwd' }],
        ['a hard link', { name: 'package/bins/evil', type: '1', linkname: 'package/package.json' }],
    ] as [string, TarEntry][]) {
        it(`a package with ${what} is refused after its integrity passed, and nothing is written outside`, async () => {
            registry.add(smallPackage([entry]));
            await assert.rejects(enable(), /refused|leaves its folder/);
            assertNothingInstalled();
            assert.ok(!existsSync(path.join(root, '..', 'escape.txt')) && !existsSync(path.join(path.dirname(root), 'escape.txt')));
        });
    }

    it('offline mode refuses before touching the network and says what to do', async () => {
        registry.add(smallPackage());
        offline = true;
        await assert.rejects(enable(), (error: unknown) => {
            assert.ok(isLocalAiError(error) && error.code === ErrorCode.NetworkError);
            assert.match(error.message, /offline mode/);
            assert.match(error.data.hint ?? '', /Turn off localAi\.offline/);
            return true;
        });
        assert.deepEqual(registry.requests, []);
    });

    it("another node-llama-cpp version's backend is removed when this one is enabled, and disable removes everything", async () => {
        registry.add(smallPackage());
        const old = path.join(root, '0.0.1', 'linux-x64-vulkan');
        (await import('node:fs')).mkdirSync(old, { recursive: true });
        await enable();
        assert.ok(!existsSync(path.join(root, '0.0.1')));
        const gpu = service();
        assert.deepEqual(
            (await gpu.status()).installed.map((each) => each.backend),
            ['vulkan'],
        );
        const { removed } = await gpu.disable();
        assert.deepEqual(removed, [path.join(root, nodeLlamaCppVersion(), 'linux-x64-vulkan')]);
        assert.deepEqual((await gpu.status()).installed, []);
    });
});
