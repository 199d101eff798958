/** What the extension's views and commands share; built once in `activate()`. */
import type * as vscode from 'vscode';
import type { SecretStore } from './secrets';
import type { SidecarClient } from './sidecarClient';

export interface ExtensionServices {
    context: vscode.ExtensionContext;
    log: vscode.LogOutputChannel;
    sidecar: SidecarClient;
    secrets: SecretStore;
}
