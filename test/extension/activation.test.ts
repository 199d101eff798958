import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

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
});
