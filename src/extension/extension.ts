/**
 * Local AI's entry point. Thin on purpose: it wires the log, the sidecar client, the status bar, the
 * views and the commands. Activation never waits for the sidecar: it starts right after, on its own.
 */
import * as vscode from 'vscode';
import { createChatFeatures, type ChatFeatures } from './chat/chatFeatures';
import { downloadModel } from './commands/downloads';
import { createCompletionFeatures, type CompletionFeatures } from './completion/completionFeatures';
import { registerCommands } from './commands/index';
import { DownloadResumer } from './downloadResumer';
import { FallbackPrompts } from './fallback';
import { GpuAcceleration } from './gpu/gpuAcceleration';
import { logChannel } from './log';
import { readSidecarSettings } from './config';
import { SecretStore } from './secrets';
import { ServerHostApproval } from './server/hostApproval';
import { LocalServer } from './server/localServer';
import type { ExtensionServices } from './services';
import { SidecarClient, gpuBackendsPath } from './sidecarClient';
import { StatusBar } from './statusBar';
import { ModelsModel } from './views/modelsModel';
import { ModelsTreeProvider } from './views/modelsTree';

/**
 * What every other extension can reach through `vscode.extensions.getExtension('local-ai.local-ai').exports`:
 * nothing that reads a secret, the store or this extension's context, which VS Code keeps per extension.
 */
export interface LocalAiApi {
    /** How long `activate()` took, in milliseconds. */
    readonly activationMs: number;
}

/** What this extension's own tests reach: the services, and the chat and completion features built on them. */
export type TestServices = ExtensionServices & { chat: ChatFeatures; completion: CompletionFeatures };

export interface LocalAiTestApi extends LocalAiApi {
    readonly services: TestServices;
}

/**
 * The exports for a mode: the services only under the extension's own test runner
 * (`ExtensionMode.Test`), where no other extension is installed; the bare API otherwise.
 */
export function exportsFor(mode: vscode.ExtensionMode, activationMs: number, testServices: TestServices): LocalAiApi | LocalAiTestApi {
    const api: LocalAiApi = { activationMs };
    return Object.freeze(mode === vscode.ExtensionMode.Test ? { ...api, services: testServices } : api);
}

let services: ExtensionServices | undefined;

export function activate(context: vscode.ExtensionContext): LocalAiApi | LocalAiTestApi {
    const started = performance.now();
    const log = logChannel();
    const secrets = new SecretStore(context.secrets);
    const approval = new ServerHostApproval(context.globalState);
    const sidecar = new SidecarClient({ context, log, secrets, readSettings: () => approval.apply(readSidecarSettings()) });
    const models = new ModelsModel({ sidecar, log });
    const downloads = new DownloadResumer(context.globalState, sidecar, (download) => {
        log.info(`Resuming the download of ${download.name ?? download.model} from where it stopped.`);
        return downloadModel(core, download);
    });
    const gpu = new GpuAcceleration({ sidecar, log, globalState: context.globalState, backendsPath: gpuBackendsPath(context) });
    const server = new LocalServer({ sidecar, secrets, log, approval });
    const core: ExtensionServices = { context, log, sidecar, secrets, models, downloads, gpu, server };
    services = core;
    const chat = createChatFeatures(core);
    const completion = createCompletionFeatures(core);
    context.subscriptions.push(chat, completion);
    const modelsTree = new ModelsTreeProvider(models);
    context.subscriptions.push(
        log,
        secrets,
        sidecar,
        models,
        downloads,
        gpu,
        server,
        modelsTree,
        vscode.window.createTreeView('localAi.models', { treeDataProvider: modelsTree, showCollapseAll: true }),
        new StatusBar(sidecar, models, gpu, server),
        new FallbackPrompts(core),
        ...registerCommands(core, chat, completion),
    );

    // Start the sidecar after activation returns, so the editor never waits for it.
    setImmediate(() => {
        sidecar.start().catch((error: unknown) => log.error(`The sidecar did not start: ${error instanceof Error ? error.message : String(error)}`));
    });
    return exportsFor(context.extensionMode, performance.now() - started, { ...core, chat, completion });
}

export async function deactivate(): Promise<void> {
    // Stop the sidecar explicitly and wait for it, so no process outlives the extension host.
    await services?.sidecar.dispose();
    services = undefined;
}
