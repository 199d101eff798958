// A node-llama-cpp platform package (`@node-llama-cpp/<platform>`) at the pinned version, put into a
// staged extension: from node_modules when npm ci installed it for this machine, otherwise from the
// registry (npm's own client, so npm_config_registry, .npmrc and proxies apply), kept as a tarball in a
// packaging cache outside the clone and checked against the registry's sha512 integrity, and against
// package-lock.json's, each time it is used. Nothing is installed into node_modules.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where fetched tarballs are kept between runs: LOCAL_AI_PACKAGING_CACHE, else ~/.cache/local-ai/packaging. */
export const packagingCache = () => process.env.LOCAL_AI_PACKAGING_CACHE || join(homedir(), '.cache', 'local-ai', 'packaging');

const npmCommand = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** npm's output, or an Error carrying what npm said on stderr. */
function npm(args, cwd) {
    try {
        return execFileSync(npmCommand, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], shell: process.platform === 'win32' });
    } catch (error) {
        throw new Error(`npm ${args.join(' ')} failed: ${String(error.stderr || error.message).trim()}`);
    }
}

const sha512 = (file) => `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;

/**
 * Copies `name@version` into `into` (the package's folder inside a staged node_modules).
 * @param {object} options
 * @param {string} options.name the package, e.g. '@node-llama-cpp/mac-arm64-metal'
 * @param {string} options.version the exact version node-llama-cpp is pinned to
 * @param {string} options.root the repository (its node_modules and package-lock.json)
 * @param {string} options.into the folder to fill; it must not exist yet
 * @param {string} [options.cache] default: packagingCache()
 * @returns {string} where the package came from, for the log
 */
export function stagePlatformPackage({ name, version, root, into, cache = packagingCache() }) {
    const installed = join(root, 'node_modules', name);
    if (existsSync(join(installed, 'package.json')) && JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).version === version) {
        cpSync(installed, into, { recursive: true });
        return 'node_modules';
    }
    const tarball = join(cache, `${name.replace('/', '+')}-${version}.tgz`);
    const integrity = expectedIntegrity({ name, version, root });
    if (!existsSync(tarball) || sha512(tarball) !== integrity) download({ name, version, integrity, cache, tarball });
    mkdirSync(into, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', into, '--strip-components=1']);
    return `${tarball} (${integrity.slice(0, 19)}…)`;
}

/** The registry's integrity for name@version, which package-lock.json, when it records one, must agree with. */
function expectedIntegrity({ name, version, root }) {
    let dist;
    try {
        dist = JSON.parse(npm(['view', '--json', '--prefer-offline', `${name}@${version}`, 'dist'], root) || 'null');
    } catch (error) {
        const registry = npm(['config', 'get', 'registry'], root).trim();
        const why = /\bE404\b/.test(error.message) ? 'has no such package version' : 'could not be asked for it';
        throw new Error(`${name}@${version} cannot be packaged: the registry ${registry} ${why}.\n${error.message}`);
    }
    if (!dist?.integrity?.startsWith('sha512-')) {
        const registry = npm(['config', 'get', 'registry'], root).trim();
        throw new Error(`${name}@${version}: the registry ${registry} gives no sha512 integrity (${JSON.stringify(dist)}).`);
    }
    const locked = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages?.[`node_modules/${name}`];
    if (locked?.version === version && locked.integrity && locked.integrity !== dist.integrity) {
        throw new Error(`${name}@${version}: the registry's integrity ${dist.integrity} differs from package-lock.json's ${locked.integrity}.`);
    }
    return dist.integrity;
}

/** Fetches the tarball into the cache: written beside it, checked, then renamed into place. */
function download({ name, version, integrity, cache, tarball }) {
    mkdirSync(cache, { recursive: true });
    const scratch = mkdtempSync(join(cache, '.download-'));
    try {
        const [packed] = JSON.parse(npm(['pack', '--json', '--prefer-offline', '--pack-destination', scratch, `${name}@${version}`], scratch));
        const file = join(scratch, packed.filename);
        const actual = sha512(file);
        if (actual !== integrity) throw new Error(`${name}@${version}: the downloaded tarball is ${actual}, the registry says ${integrity}.`);
        renameSync(file, tarball);
    } finally {
        rmSync(scratch, { recursive: true, force: true });
    }
}
