/**
 * How packaging gets another platform's llama.cpp package (scripts/packaging/platformPackage.mjs): with npm's own
 * client, from a registry on loopback standing in for npm's (npm_config_registry), into a packaging cache,
 * checked against the registry's sha512 and package-lock.json's; and a loud stop naming package, version and
 * registry when the pinned version is missing.
 */
import { strict as assert } from 'node:assert';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const NAME = '@node-llama-cpp/mac-x64';
const VERSION = '3.21.1';

/** A real npm tarball (a `package/` folder, gzipped tar) holding a package.json and a stand-in addon. */
function packTarball(folder: string, addon: string): Buffer {
    const source = path.join(folder, 'package');
    fs.mkdirSync(path.join(source, 'bins', 'mac-x64'), { recursive: true });
    fs.writeFileSync(path.join(source, 'package.json'), JSON.stringify({ name: NAME, version: VERSION }));
    fs.writeFileSync(path.join(source, 'bins', 'mac-x64', 'llama-addon.node'), addon);
    const file = path.join(folder, 'package.tgz');
    execFileSync('tar', ['-czf', file, '-C', folder, 'package']);
    return fs.readFileSync(file);
}

const MODULE = pathToFileURL(path.resolve('scripts', 'packaging', 'platformPackage.mjs')).href;
const integrityOf = (bytes: Buffer) => `sha512-${createHash('sha512').update(bytes).digest('base64')}`;

describe('fetching a platform package for packaging', function () {
    // Each case runs npm two or three times; on a busy machine one npm start takes seconds.
    this.timeout(120_000);
    let scratch: string;
    let server: http.Server;
    let registry: string;
    /** What the stand-in registry serves: the versions it lists, and the tarball's bytes. */
    let served: { versions: string[]; tarball: Buffer; integrity: string };
    let tarballRequests = 0;
    const savedEnv = { registry: process.env.npm_config_registry, cache: process.env.npm_config_cache };

    before(async () => {
        server = http.createServer((request, response) => {
            if (request.url === '/tarball.tgz') {
                tarballRequests++;
                response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(served.tarball);
            } else if (decodeURIComponent(request.url ?? '') === `/${NAME}`) {
                const versions = Object.fromEntries(
                    served.versions.map((version) => [
                        version,
                        { name: NAME, version, dist: { integrity: served.integrity, tarball: `${registry}tarball.tgz` } },
                    ]),
                );
                response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: NAME, 'dist-tags': { latest: VERSION }, versions }));
            } else {
                response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
            }
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });

    after(async () => {
        await new Promise((resolve) => server.close(resolve));
    });

    beforeEach(() => {
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-platform-package-'));
        const tarball = packTarball(scratch, 'addon bytes');
        served = { versions: [VERSION], tarball, integrity: integrityOf(tarball) };
        tarballRequests = 0;
        // npm's own cache would answer from an earlier case: each case gets an empty one.
        process.env.npm_config_registry = registry;
        process.env.npm_config_cache = path.join(scratch, 'npm-cache');
        fs.writeFileSync(path.join(scratch, 'package-lock.json'), JSON.stringify({ packages: {} }));
    });

    afterEach(() => {
        for (const [key, value] of [
            ['npm_config_registry', savedEnv.registry],
            ['npm_config_cache', savedEnv.cache],
        ] as const) {
            if (value === undefined) delete process.env[key];
            else process.env[key] = value;
        }
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    /**
     * stagePlatformPackage() runs npm synchronously, so it runs in a child process while this one serves the
     * registry; it answers where the package came from, or throws the child's error message.
     */
    const stage = async (into: string): Promise<string> => {
        const options = { name: NAME, version: VERSION, root: scratch, into: path.join(scratch, into), cache: path.join(scratch, 'cache') };
        const script = `import(${JSON.stringify(MODULE)}).then((m) => console.log(m.stagePlatformPackage(${JSON.stringify(options)})))`;
        try {
            return (await promisify(execFile)(process.execPath, ['-e', script], { encoding: 'utf8' })).stdout;
        } catch (error) {
            throw new Error((error as { stderr: string }).stderr);
        }
    };

    it('fetches the pinned version into the packaging cache, checked, and reuses it the next time', async () => {
        const from = await stage('first');
        assert.match(from, /mac-x64-3\.21\.1\.tgz/);
        assert.equal(fs.readFileSync(path.join(scratch, 'first', 'bins', 'mac-x64', 'llama-addon.node'), 'utf8'), 'addon bytes');
        assert.equal(JSON.parse(fs.readFileSync(path.join(scratch, 'first', 'package.json'), 'utf8')).version, VERSION);
        assert.equal(fs.existsSync(path.join(scratch, 'node_modules')), false, 'nothing goes into node_modules');
        // Without npm's own cache, a second download would have to reach the registry.
        fs.rmSync(path.join(scratch, 'npm-cache'), { recursive: true, force: true });
        await stage('second');
        assert.equal(fs.readFileSync(path.join(scratch, 'second', 'bins', 'mac-x64', 'llama-addon.node'), 'utf8'), 'addon bytes');
        assert.equal(tarballRequests, 1, 'the cached tarball was downloaded again');
    });

    it('stops, naming package, version and registry, when the registry lacks the pinned version', async () => {
        served.versions = ['3.20.0'];
        await assert.rejects(
            stage('missing'),
            (error: Error) =>
                error.message.includes(`${NAME}@${VERSION} cannot be packaged`) &&
                error.message.includes(`the registry ${registry} has no such package version`),
        );
        assert.equal(fs.existsSync(path.join(scratch, 'missing')), false);
    });
});
