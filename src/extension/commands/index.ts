/**
 * Every command of Local AI, registered from one table. Each domain contributes its rows from its own
 * module; a command that cannot run yet says why instead of doing nothing.
 */
import * as vscode from 'vscode';
import type { ExtensionServices } from '../services';
import { sidecarCommands } from './sidecar';

export interface CommandRow {
    /** `localAi.*`, as declared in package.json. */
    id: string;
    run: (...args: unknown[]) => unknown;
}

export function registerCommands(services: ExtensionServices): vscode.Disposable[] {
    const rows: CommandRow[] = [...sidecarCommands(services)];
    return rows.map((row) =>
        vscode.commands.registerCommand(row.id, async (...args: unknown[]) => {
            try {
                return await row.run(...args);
            } catch (error) {
                const message = error instanceof Error ? error.message : String(error);
                services.log.error(`${row.id}: ${message}`);
                void vscode.window.showErrorMessage(`Local AI: ${message}`);
                return undefined;
            }
        }),
    );
}
