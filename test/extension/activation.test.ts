import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { exportsFor, type LocalAiTestApi } from '../../src/extension/extension';

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

describe('Activation', () => {
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
