/**
 * What `npm start` and `npm test` install by themselves on a fresh machine (scripts/setup.mjs), and where
 * the extension tests run (scripts/test-host.mjs): the decisions, and the real script on a machine that
 * lacks the browser.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

interface SetupModule {
    dependenciesToInstall(state: { lockfile: string | undefined; stamp: string | undefined; hasNodeModules: boolean }): string | undefined;
    missingPackages(options: {
        browser: boolean;
        serverBuild: boolean;
        unzip: boolean;
        hasCommand: (command: string) => boolean;
        hasFile: (file: string) => boolean;
        env?: Record<string, string | undefined>;
    }): { name: string; why: string }[];
    installPlan(options: { packages: string[]; isRoot: boolean; hasAptGet: boolean; sudoWorks: boolean }): { run: string[][] } | { message: string };
}

interface TestHostModule {
    chooseTestHost(options: {
        env: Record<string, string | undefined>;
        platform: NodeJS.Platform;
        which: (name: string) => string | undefined;
        exists: (file: string) => boolean;
    }): { host: 'desktop' | 'server'; reason: string; desktopExecutable?: string };
}

/** npm test runs with the repository as its working folder. */
const scripts = path.resolve('scripts');
const load = <T>(name: string) => import(pathToFileURL(path.join(scripts, name)).href) as Promise<T>;

describe('set-up of a fresh machine', () => {
    let setup: SetupModule;
    let testHost: TestHostModule;
    before(async () => {
        setup = await load<SetupModule>('setup.mjs');
        testHost = await load<TestHostModule>('test-host.mjs');
    });

    describe('dependencies', () => {
        const lockfile = '{"lockfileVersion": 3}';
        const stamp = createHash('sha256').update(lockfile).digest('hex');

        it('installs when node_modules is missing', () => {
            assert.equal(setup.dependenciesToInstall({ lockfile, stamp: undefined, hasNodeModules: false }), 'node_modules is missing');
        });

        it('installs again when the lockfile changed since the last install, or nothing records it', () => {
            const why = 'node_modules was installed from another package-lock.json';
            assert.equal(setup.dependenciesToInstall({ lockfile: `${lockfile} `, stamp, hasNodeModules: true }), why);
            assert.equal(setup.dependenciesToInstall({ lockfile, stamp: undefined, hasNodeModules: true }), why);
        });

        it('does nothing when node_modules came from this lockfile (so it works offline)', () => {
            assert.equal(setup.dependenciesToInstall({ lockfile, stamp: `${stamp}\n`, hasNodeModules: true }), undefined);
        });
    });

    describe('system packages', () => {
        const none = () => false;
        const all = () => true;

        it('needs chromium, unzip and the server build tools on a bare machine', () => {
            const missing = setup.missingPackages({ browser: true, serverBuild: true, unzip: true, hasCommand: none, hasFile: none, env: {} });
            assert.deepEqual(
                missing.map((p) => p.name),
                ['chromium', 'unzip', 'libkrb5-dev', 'python3', 'make', 'g++'],
            );
        });

        it('needs no build tools once the VS Code server is in the cache, and nothing once all is there', () => {
            assert.deepEqual(
                setup.missingPackages({ browser: true, serverBuild: false, unzip: false, hasCommand: none, hasFile: none, env: {} }).map((p) => p.name),
                ['chromium'],
            );
            assert.deepEqual(setup.missingPackages({ browser: true, serverBuild: true, unzip: true, hasCommand: all, hasFile: all, env: {} }), []);
        });

        it('looks for the browser where LOCAL_AI_CHROMIUM says', () => {
            const missing = setup.missingPackages({
                browser: true,
                serverBuild: false,
                unzip: false,
                hasCommand: all,
                hasFile: (file) => file === '/opt/chrome',
                env: { LOCAL_AI_CHROMIUM: '/opt/chrome' },
            });
            assert.deepEqual(missing, []);
        });

        it('installs with apt-get as root, through sudo -n otherwise', () => {
            assert.deepEqual(setup.installPlan({ packages: ['chromium'], isRoot: true, hasAptGet: true, sudoWorks: false }), {
                run: [
                    ['apt-get', 'update'],
                    ['apt-get', 'install', '-y', '--no-install-recommends', 'chromium'],
                ],
            });
            assert.deepEqual(setup.installPlan({ packages: ['chromium', 'libkrb5-dev'], isRoot: false, hasAptGet: true, sudoWorks: true }), {
                run: [
                    ['sudo', '-n', 'apt-get', 'update'],
                    ['sudo', '-n', 'apt-get', 'install', '-y', '--no-install-recommends', 'chromium', 'libkrb5-dev'],
                ],
            });
        });

        it('stops with the exact command when it cannot install', () => {
            const plan = setup.installPlan({ packages: ['chromium', 'libkrb5-dev'], isRoot: false, hasAptGet: true, sudoWorks: false });
            assert.ok('message' in plan);
            assert.match(plan.message, /^ {2}sudo apt-get update && sudo apt-get install -y chromium libkrb5-dev$/m);
            const noApt = setup.installPlan({ packages: ['chromium'], isRoot: true, hasAptGet: false, sudoWorks: false });
            assert.ok('message' in noApt);
            assert.match(noApt.message, /lacks chromium, and has no apt-get/);
        });

        it('the real script, on a machine without the browser or apt-get, names what to install and exits 1', () => {
            // PATH holds node alone: no apt-get, no sudo, no `code` (so the server host, which needs the browser).
            const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-setup-path-'));
            try {
                fs.symlinkSync(process.execPath, path.join(bin, 'node'));
                const result = spawnSync(
                    path.join(bin, 'node'),
                    [
                        '--input-type=module',
                        '-e',
                        `
                    const { setup, SetupError } = await import(${JSON.stringify(pathToFileURL(path.join(scripts, 'setup.mjs')).href)});
                    try { await setup({ command: 'test', stages: ['extension'] }); } catch (error) { console.error(error.message); process.exit(error instanceof SetupError ? 1 : 2); }
                `,
                    ],
                    {
                        encoding: 'utf8',
                        env: {
                            PATH: bin,
                            HOME: process.env.HOME,
                            LOCAL_AI_CHROMIUM: '/nonexistent/chromium',
                            LOCAL_AI_TEST_CACHE: process.env.LOCAL_AI_TEST_CACHE ?? '',
                        },
                    },
                );
                assert.equal(result.status, 1, result.stderr);
                assert.match(result.stdout, /missing chromium: the browser the workbench tests drive/);
                assert.match(result.stderr, /This machine lacks chromium, and has no apt-get to install them with/);
            } finally {
                fs.rmSync(bin, { recursive: true, force: true });
            }
        });
    });

    describe("the extension tests' host", () => {
        const linuxCode = '/usr/share/code/bin/code';
        const desktop = '/usr/share/code/code';
        const installed = (file: string) => file === desktop || file === linuxCode;
        const choose = (
            env: Record<string, string | undefined>,
            which: (name: string) => string | undefined = () => undefined,
            platform: NodeJS.Platform = 'linux',
        ) => testHost.chooseTestHost({ env, platform, which, exists: installed });

        it('is the VS Code server when no desktop VS Code is here', () => {
            const choice = choose({ DISPLAY: ':0' });
            assert.equal(choice.host, 'server');
            assert.match(choice.reason, /no desktop VS Code/);
        });

        it('is desktop VS Code when `code` on PATH leads to it and a display is there', () => {
            assert.deepEqual(
                choose({ DISPLAY: ':0' }, () => linuxCode),
                { host: 'desktop', reason: `desktop VS Code at ${desktop}`, desktopExecutable: desktop },
            );
            assert.equal(choose({}, () => linuxCode, 'darwin').host, 'desktop');
        });

        it('stays on the server when Linux has no display to open desktop VS Code on', () => {
            assert.equal(choose({}, () => linuxCode).host, 'server');
        });

        it('ignores a `code` that is not desktop VS Code (code-server has one too)', () => {
            assert.equal(choose({ DISPLAY: ':0' }, () => '/usr/lib/code-server/bin/code').host, 'server');
        });

        it('takes LOCAL_AI_VSCODE_PATH, the executable or its `code` command', () => {
            assert.equal(choose({ DISPLAY: ':0', LOCAL_AI_VSCODE_PATH: desktop }).desktopExecutable, desktop);
            assert.equal(choose({ DISPLAY: ':0', LOCAL_AI_VSCODE_PATH: linuxCode }).desktopExecutable, desktop);
            assert.throws(() => choose({ LOCAL_AI_VSCODE_PATH: '/nowhere/code' }), /LOCAL_AI_VSCODE_PATH=\/nowhere\/code: no such file/);
        });

        it('obeys LOCAL_AI_TEST_HOST, and refuses other values', () => {
            assert.equal(choose({ DISPLAY: ':0', LOCAL_AI_TEST_HOST: 'server' }, () => linuxCode).host, 'server');
            const download = choose({ LOCAL_AI_TEST_HOST: 'desktop' });
            assert.equal(download.host, 'desktop');
            assert.equal(download.desktopExecutable, undefined);
            assert.match(download.reason, /@vscode\/test-electron downloads one/);
            assert.throws(() => choose({ LOCAL_AI_TEST_HOST: 'web' }), /LOCAL_AI_TEST_HOST=web: use desktop or server/);
        });
    });
});
