/** What the extension's views, commands and chat features share; built once in `activate()`, before them. */
import type * as vscode from 'vscode';
import type { DownloadResumer } from './downloadResumer';
import type { GpuAcceleration } from './gpu/gpuAcceleration';
import type { SecretStore } from './secrets';
import type { LocalServer } from './server/localServer';
import type { SidecarClient } from './sidecarClient';
import type { ModelsModel } from './views/modelsModel';

export interface ExtensionServices {
    context: vscode.ExtensionContext;
    log: vscode.LogOutputChannel;
    sidecar: SidecarClient;
    secrets: SecretStore;
    /** Models, the recommendation, the active model and downloads, as the views show them. */
    models: ModelsModel;
    /** Remembers running downloads so they start again after a sidecar restart or a window reload. */
    downloads: DownloadResumer;
    /** The GPU backends fetched on demand, the offer for this machine's GPU, and a running fetch. */
    gpu: GpuAcceleration;
    /** The local OpenAI-compatible server's state as the sidecar reports it, and the consent it needs. */
    server: LocalServer;
}
