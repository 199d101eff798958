/**
 * Reads Local AI's settings in one typed place. Settings that could point the extension at another
 * folder, endpoint or binary are declared as restricted in package.json: in an untrusted workspace
 * VS Code returns only their user-level values, so a hostile `.vscode/settings.json` is ignored.
 */
import * as vscode from 'vscode';
import type { FallbackReason } from '../common/chat';
import type { GpuMode } from '../common/hardware';
import type { ProviderSetting, SidecarSettings, UserModelSetting } from '../common/settings';

export const SECTION = 'localAi';

/** Setting keys (under `localAi.`) whose change must be pushed to the sidecar. */
export const SIDECAR_KEYS = [
    'modelsPath',
    'extraModelFolders',
    'hubEndpoint',
    'offline',
    'maxConcurrentDownloads',
    'defaultModel',
    'models',
    'gpu',
    'gpuLayers',
    'threads',
    'contextSize',
    'idleUnloadMinutes',
    'fallback',
] as const;

/** Setting keys whose change needs the sidecar process restarted (none today: all are applied live). */
export const RESTART_KEYS: readonly string[] = [];

const FALLBACK_REASONS: FallbackReason[] = ['noLocalModel', 'downloading', 'doesNotFit', 'loadFailed', 'localError', 'firstTokenTimeout'];

function autoOrNumber(value: unknown): number | 'auto' {
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 'auto';
}

export function readSidecarSettings(): SidecarSettings {
    const config = vscode.workspace.getConfiguration(SECTION);
    const triggers = config.get<Partial<Record<FallbackReason, boolean>>>('fallback.triggers') ?? {};
    return {
        modelsPath: config.get<string>('modelsPath') ?? '',
        extraModelFolders: config.get<string[]>('extraModelFolders') ?? [],
        hubEndpoint: config.get<string>('hubEndpoint') ?? '',
        proxy: vscode.workspace.getConfiguration('http').get<string>('proxy') ?? '',
        offline: config.get<boolean>('offline') ?? false,
        maxConcurrentDownloads: config.get<number>('maxConcurrentDownloads') ?? 2,
        defaultModel: config.get<string>('defaultModel') ?? '',
        userModels: config.get<UserModelSetting[]>('models') ?? [],
        gpu: config.get<GpuMode>('gpu') ?? 'auto',
        gpuLayers: autoOrNumber(config.get('gpuLayers')),
        threads: autoOrNumber(config.get('threads')),
        contextSize: autoOrNumber(config.get('contextSize')),
        idleUnloadMinutes: config.get<number>('idleUnloadMinutes') ?? 10,
        fallback: {
            mode: config.get<'off' | 'ask' | 'auto'>('fallback.mode') ?? 'off',
            triggers: Object.fromEntries(FALLBACK_REASONS.map((reason) => [reason, triggers[reason] ?? true])) as Record<FallbackReason, boolean>,
            firstTokenTimeoutSeconds: config.get<number>('fallback.firstTokenTimeoutSeconds') ?? 30,
            providers: config.get<ProviderSetting[]>('fallback.providers') ?? [],
            forbidden: config.get<boolean>('fallback.forbidInWorkspace') ?? false,
        },
    };
}

/** True when a configuration change touches a setting the sidecar reads. */
export function affectsSidecar(event: vscode.ConfigurationChangeEvent): boolean {
    return event.affectsConfiguration('http.proxy') || SIDECAR_KEYS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`));
}
