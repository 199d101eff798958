/**
 * Start Local Server, Stop Local Server and Copy Server Address and Token, for the command table. Start and
 * Stop set `localAi.server.enabled` in the user's settings (so every window agrees and only one serves) and
 * say what came of it; Copy gives a tool what it needs, as the environment variables OpenAI's SDKs read.
 */
import * as vscode from 'vscode';
import type { ServerState } from '../../common/serverProtocol';
import { SECTION } from '../config';
import type { LocalServer } from '../server/localServer';
import type { ExtensionServices } from '../services';
import type { CommandRow } from './commandRow';

/** What the clipboard holds after Copy Server Address and Token: pasted into a shell, it configures the `openai` SDKs. */
export function clientEnvironment(address: string, token: string): string {
    return `OPENAI_BASE_URL=${address} OPENAI_API_KEY=${token}`;
}

export function serverCommands({ server, secrets }: ExtensionServices): CommandRow[] {
    return [
        { id: 'localAi.startServer', run: () => startServer(server, secrets) },
        { id: 'localAi.stopServer', run: () => stopServer(server) },
        { id: 'localAi.copyServerAddress', run: () => copyAddress(server, secrets) },
    ];
}

async function setEnabled(server: LocalServer, enabled: boolean): Promise<boolean> {
    await vscode.workspace.getConfiguration(SECTION).update('server.enabled', enabled, vscode.ConfigurationTarget.Global);
    if (server.enabled === enabled) return true;
    void vscode.window.showWarningMessage(
        `Local AI: this workspace's settings turn the local server ${enabled ? 'off' : 'on'} (localAi.server.enabled), over your user setting.`,
    );
    return false;
}

async function startServer(server: LocalServer, secrets: ExtensionServices['secrets']): Promise<void> {
    // The token first, so the sidecar never sees the server enabled without one.
    await secrets.serverToken();
    // Subscribed before the change: a state left from before it (an old problem) must not answer for it.
    const changed = !server.enabled;
    // 'noToken' does not count: the token just stored may reach the sidecar after the setting.
    const outcome = server.whenState('started', (candidate) => candidate.running || (!!candidate.problem && candidate.problem.kind !== 'noToken'), {
        onlyNew: changed,
    });
    if (!(await setEnabled(server, true))) return;
    const state = await outcome;
    if (state.problem?.kind === 'portTakenByLocalAi') return server.sayAnotherServes(state);
    if (!state.running) {
        void vscode.window.showWarningMessage(`Local AI: the local server did not start: ${state.problem?.message}`);
        return;
    }
    // Not awaited: the command is done when the server runs, whether or not the user clicks.
    const copy = 'Copy Address and Token';
    const said = changed ? `Local AI: the local server runs at ${state.address}.` : `Local AI: the local server was already on, at ${state.address}.`;
    void vscode.window.showInformationMessage(said, copy).then((choice) => {
        if (choice === copy) void vscode.commands.executeCommand('localAi.copyServerAddress');
    });
}

async function stopServer(server: LocalServer): Promise<void> {
    if (!(await setEnabled(server, false))) return;
    await server.whenState('stopped', (state) => !state.running);
    void vscode.window.showInformationMessage('Local AI: the local server stopped.');
}

/** The address a tool can use now: this window's server, or the one another window runs. */
function reachableAddress(state: ServerState): string | undefined {
    return state.running || state.problem?.kind === 'portTakenByLocalAi' ? state.address : undefined;
}

async function copyAddress(server: LocalServer, secrets: ExtensionServices['secrets']): Promise<void> {
    const address = reachableAddress(server.state);
    if (!address) {
        const start = 'Start Local Server';
        void vscode.window.showWarningMessage('Local AI: the local server is not running, so there is no address to copy.', start).then((choice) => {
            if (choice === start) void vscode.commands.executeCommand('localAi.startServer');
        });
        return;
    }
    await vscode.env.clipboard.writeText(clientEnvironment(address, await secrets.serverToken()));
    // Says what was copied, never the token itself: notifications can be seen over a shoulder or in a screen share.
    void vscode.window.showInformationMessage(
        `Local AI: copied OPENAI_BASE_URL=${address} and OPENAI_API_KEY (the server's token) to the clipboard; paste them into a terminal or a tool's settings.`,
    );
}
