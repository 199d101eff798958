/**
 * Every command of Local AI, registered from one table. Each domain contributes its rows from its own
 * module; a command that cannot run yet says why instead of doing nothing.
 */
import * as vscode from 'vscode';
import { showError } from '../errors';
import type { ChatFeatures } from '../chat/chatFeatures';
import type { CompletionFeatures } from '../completion/completionFeatures';
import type { ExtensionServices } from '../services';
import { chatCommands } from './chat';
import type { CommandRow } from './commandRow';
import { cloudCommands } from './cloud';
import { completionCommands } from './completion';
import { gpuCommands } from './gpu';
import { hardwareCommands } from './hardware';
import { modelCommands } from './models';
import { serverCommands } from './server';
import { sidecarCommands } from './sidecar';

export function registerCommands(services: ExtensionServices, chat: ChatFeatures, completion: CompletionFeatures): vscode.Disposable[] {
    const rows: CommandRow[] = [
        ...sidecarCommands(services),
        ...chatCommands(chat),
        ...modelCommands(services),
        ...hardwareCommands(services),
        ...cloudCommands(services),
        ...gpuCommands(services.gpu),
        ...serverCommands(services),
        ...completionCommands(completion.state),
    ];
    return rows.map((row) =>
        vscode.commands.registerCommand(row.id, async (...args: unknown[]) => {
            try {
                return await row.run(...args);
            } catch (error) {
                // One place turns sidecar error codes into messages with buttons that fix the problem.
                void showError(services.log, row.id, error, {
                    model: typeof args[0] === 'string' ? args[0] : undefined,
                    retry: () => vscode.commands.executeCommand(row.id, ...args),
                });
                return undefined;
            }
        }),
    );
}
