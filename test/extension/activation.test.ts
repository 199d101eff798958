import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

const EXTENSION_ID = 'local-ai.local-ai';

/**
 * The part of the extension's exports this test relies on. Both fields are optional
 * here so the test checks whatever the extension provides today.
 */
interface ActivationExports {
    /** How long activate() took, in milliseconds. */
    activationMs?: number;
    /** The handle of the sidecar process client. */
    sidecar?: unknown;
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
        if (api.activationMs !== undefined) {
            // The number is reported, not bounded: these machines are too noisy for a time limit.
            assert.ok(Number.isFinite(api.activationMs) && api.activationMs >= 0, `activationMs = ${api.activationMs}`);
            console.log(`      activate() took ${Math.round(api.activationMs)} ms`);
        }
        if ('sidecar' in api) {
            assert.ok(api.sidecar, 'exports.sidecar is empty');
        }
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
});
