/**
 * Listening beyond loopback needs the user's explicit yes, given before the sidecar ever binds that address:
 * until then the sidecar is told to listen on loopback. An approval is kept per address, so it is asked once.
 */
import type * as vscode from 'vscode';
import { DEFAULT_SERVER_HOST, isLoopbackHost } from '../../common/serverProtocol';
import type { SidecarSettings } from '../../common/settings';

const APPROVED_HOSTS_KEY = 'localAi.server.approvedHosts';

export class ServerHostApproval {
    constructor(private readonly globalState: vscode.Memento) {}

    /** True when `host` is not loopback and the user has not yet agreed to it. */
    needsApproval(host: string): boolean {
        return !isLoopbackHost(host) && !this.approved().includes(host);
    }

    async approve(host: string): Promise<void> {
        await this.globalState.update(APPROVED_HOSTS_KEY, [...new Set([...this.approved(), host])]);
    }

    /** The settings as the sidecar may follow them: an address not yet approved becomes loopback. */
    apply(settings: SidecarSettings): SidecarSettings {
        if (!this.needsApproval(settings.server.host)) return settings;
        return { ...settings, server: { ...settings.server, host: DEFAULT_SERVER_HOST } };
    }

    private approved(): string[] {
        return this.globalState.get<string[]>(APPROVED_HOSTS_KEY) ?? [];
    }
}
