import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { exportsFor, type LocalAiTestApi } from '../../src/extension/extension';
import { localAi, nextStatus } from './harness';

const EXTENSION_ID = 'local-ai.local-ai';

/** The part of the extension's exports (LocalAiApi) this test relies on. */
interface ActivationExports {
    /** How long activate() took, in milliseconds. */
    activationMs: number;
    services: {
        /** The client of the sidecar process. */
        sidecar: unknown;
    };
}

/** The first start of a sidecar process in this extension host, if one was seen. */
interface SidecarSpawn {
    /** Whether the extension host had marked Local AI's activate() as settled by then. */
    afterActivate: boolean;
}

/**
 * Watches child_process from when mocha loads this file, which is before Local AI activates (onStartupFinished
 * comes after the test runner starts), and records the first start of dist/sidecar.mjs against the extension
 * host's own mark of activate() settling: one thread, so the order is exact, without clocks.
 */
function watchFirstSidecarSpawn(): { first(): SidecarSpawn | undefined; stop(): void } {
    // The module object itself: an `import * as` namespace would be a copy, and the language client calls the original.
    const childProcess = require('node:child_process') as typeof import('node:child_process');
    const originals = { spawn: childProcess.spawn, fork: childProcess.fork };
    let first: SidecarSpawn | undefined;
    const stop = () => Object.assign(childProcess, originals);
    const watch =
        <F extends (...args: never[]) => unknown>(original: F) =>
        (...args: Parameters<F>) => {
            if (!first && JSON.stringify(args).includes('sidecar.mjs')) {
                const marks: { name: string }[] =
                    (globalThis as { MonacoPerformanceMarks?: { getMarks(): { name: string }[] } }).MonacoPerformanceMarks?.getMarks() ?? [];
                first = { afterActivate: marks.some((mark) => mark.name === `code/extHost/didActivateExtension/${EXTENSION_ID}`) };
                stop();
            }
            return original(...args);
        };
    Object.assign(childProcess, { spawn: watch(originals.spawn), fork: watch(originals.fork) });
    return { first: () => first, stop };
}

const sidecarSpawns = watchFirstSidecarSpawn();

describe('Activation', () => {
    after(() => sidecarSpawns.stop());

    it('is installed under its marketplace id', () => {
        const extension = vscode.extensions.getExtension(EXTENSION_ID);
        assert.ok(extension, `${EXTENSION_ID} is not among ${vscode.extensions.all.map((e) => e.id).join(', ')}`);
    });

    it('activates and exposes its API', async () => {
        const extension = vscode.extensions.getExtension<ActivationExports | undefined>(EXTENSION_ID);
        assert.ok(extension);
        const api = await extension.activate();
        assert.equal(extension.isActive, true);
        assert.ok(api, 'activate() returned nothing; the extension should export its API');
        // Reported, not bounded: these machines are too noisy for a time limit. The
        // extension's own promise is that activate() never waits for the sidecar.
        assert.ok(Number.isFinite(api.activationMs) && api.activationMs >= 0, `activationMs = ${api.activationMs}`);
        assert.ok(api.services?.sidecar, 'exports.services.sidecar is missing');
    });

    it('returns from activate() before it starts the sidecar, which then becomes ready on its own', async () => {
        const local = await localAi();
        await nextStatus(local, (status) => status.health === 'ready');
        const spawn = sidecarSpawns.first();
        assert.ok(spawn, 'no start of the sidecar process was seen after this file loaded: Local AI was active before');
        assert.equal(spawn.afterActivate, true, 'the sidecar process started before activate() returned: activation waited for it');
    });

    it('registers every command it shows in the Command Palette', async () => {
        const extension = vscode.extensions.getExtension(EXTENSION_ID);
        assert.ok(extension);
        await extension.activate();
        const contributed: { command: string }[] = extension.packageJSON.contributes?.commands ?? [];
        const registered = new Set(await vscode.commands.getCommands(true));
        const missing = contributed.map((c) => c.command).filter((id) => !registered.has(id));
        assert.deepEqual(missing, [], 'commands declared in package.json but not registered by activate()');
    });

    describe('exports', () => {
        /** Every object and function reachable from `root`, own properties and prototypes alike. */
        function reachable(root: unknown): unknown[] {
            const seen = new Set<unknown>();
            const queue = [root];
            while (queue.length) {
                const value = queue.shift();
                if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value)) continue;
                seen.add(value);
                for (const key of Reflect.ownKeys(value)) {
                    const descriptor = Reflect.getOwnPropertyDescriptor(value, key);
                    if (descriptor && 'value' in descriptor) queue.push(descriptor.value);
                }
                queue.push(Object.getPrototypeOf(value));
            }
            return [...seen];
        }

        for (const [name, mode] of [
            ['production', vscode.ExtensionMode.Production],
            ['development', vscode.ExtensionMode.Development],
        ] as const) {
            it(`leaks no secret, secret store or extension context to other extensions in ${name} mode`, async () => {
                const extension = vscode.extensions.getExtension<LocalAiTestApi>(EXTENSION_ID);
                assert.ok(extension);
                const { services } = await extension.activate();
                const key = `sk-exports-probe-${Date.now()}`;
                await services.secrets.setProviderKey('openai', key);
                try {
                    const exported = exportsFor(mode, 1, services);
                    const values = reachable(exported);
                    assert.deepEqual(Object.keys(exported), ['activationMs']);
                    assert.ok(!values.includes(services), 'the services are reachable');
                    assert.ok(!values.includes(services.secrets), 'the SecretStore is reachable');
                    assert.ok(
                        !values.includes(services.context) && !values.includes(services.context.secrets),
                        'the ExtensionContext or its SecretStorage is reachable',
                    );
                    assert.ok(!JSON.stringify(exported).includes(key), 'the API key is in the exports');
                    assert.ok(Object.isFrozen(exported), 'another extension could add to the exports');
                } finally {
                    await services.secrets.setProviderKey('openai', undefined);
                }
            });
        }

        it("gives the services to this extension's own tests only (test mode)", async () => {
            const extension = vscode.extensions.getExtension<LocalAiTestApi>(EXTENSION_ID);
            assert.ok(extension);
            const { services } = await extension.activate();
            assert.equal(services.context.extensionMode, vscode.ExtensionMode.Test);
            assert.equal((exportsFor(vscode.ExtensionMode.Test, 1, services) as LocalAiTestApi).services, services);
        });
    });
});
