/**
 * "Local AI: Show Hardware Report" in the real extension host: it asks the real sidecar, opens a
 * readable Markdown document naming this machine's CPU, and "Copy for a Bug Report" puts a
 * plain-text version without paths on the clipboard.
 */
import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { HardwareRequest } from '../../src/common/protocol';
import { reportPlainText } from '../../src/extension/commands/hardware';
import type { LocalAiTestApi } from '../../src/extension/extension';

const EXTENSION_ID = 'local-ai.local-ai';

async function api(): Promise<LocalAiTestApi> {
    const extension = vscode.extensions.getExtension<LocalAiTestApi>(EXTENSION_ID);
    assert.ok(extension, 'Local AI is not installed in this extension host');
    return extension.activate();
}

describe('Show Hardware Report', function () {
    this.timeout(180_000);

    it('opens a Markdown document with this machine’s CPU model', async () => {
        await api();
        const uri = await vscode.commands.executeCommand<string>('localAi.showHardwareReport');
        assert.ok(uri, 'the command returned no document');
        const document = vscode.workspace.textDocuments.find((doc) => doc.uri.toString() === uri);
        assert.ok(document, `no open document for ${uri}`);
        assert.equal(document.languageId, 'markdown');
        const text = document.getText();
        // The OS's own name for the CPU, as users know it.
        const cpuModel = os.cpus()[0].model.trim();
        assert.match(
            text,
            new RegExp(`^\\| Model \\| ${cpuModel.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\|$`, 'm'),
            `the document does not name the CPU ${cpuModel}:\n${text}`,
        );
        assert.match(text, /^# Local AI hardware report$/m);
        assert.match(text, /^\| Runs on \| (CPU|CUDA|VULKAN|METAL) \|$/m);
    });

    it('copies a plain-text report for a bug report, without the user’s home folder', async () => {
        await api();
        await vscode.commands.executeCommand('localAi.showHardwareReport');
        await vscode.env.clipboard.writeText('');
        await vscode.commands.executeCommand('localAi.copyHardwareReport');
        const copied = await vscode.env.clipboard.readText();
        assert.match(copied, /^Local AI \S+, VS Code \S+$/m);
        assert.match(copied, /^\[CPU\]$/m);
        assert.ok(!copied.includes('|') && !copied.includes('#'), 'plain text, not Markdown');
        assert.ok(!copied.includes(os.homedir()), 'the home folder leaked into the report');
    });

    it('writes the home folder as ~ in the copy, where a reason names a file under it', async () => {
        const local = await api();
        const report = await local.services.sidecar.request(HardwareRequest.type, {});
        const library = path.join(os.homedir(), '.cache', 'local-ai', 'libggml-cuda.so');
        const copied = reportPlainText(
            { ...report, backend: { ...report.backend, cpuReason: `CUDA did not load (${library}: cannot open shared object file).` } },
            { extension: '0.1.0', vscode: vscode.version },
        );
        assert.ok(!copied.includes(os.homedir()), `the home folder is in the copy:\n${copied}`);
        assert.match(copied, /CUDA did not load \(~\/\.cache\/local-ai\/libggml-cuda\.so: cannot open shared object file\)/);
    });
});
