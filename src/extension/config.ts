/**
 * Reads Local AI's settings in one typed place. Settings that could point the extension at another
 * folder, endpoint or binary are declared as restricted in package.json: in an untrusted workspace
 * VS Code returns only their user-level values, so a hostile `.vscode/settings.json` is ignored.
 */
import * as vscode from 'vscode';
import { FALLBACK_REASONS, type FallbackReason } from '../common/chat';
import type { GpuMode } from '../common/hardware';
import { defaultSettings, type ProviderSetting, type SidecarSettings, type UserModelSetting } from '../common/settings';

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
    'gpuRegistry',
    'gpuLayers',
    'threads',
    'contextSize',
    'idleUnloadMinutes',
    'completion',
    'server',
    'fallback',
] as const;

function autoOrNumber(value: unknown, otherwise: number | 'auto'): number | 'auto' {
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : otherwise;
}

export function readSidecarSettings(): SidecarSettings {
    const config = vscode.workspace.getConfiguration(SECTION);
    const defaults = defaultSettings();
    const triggers = config.get<Partial<Record<FallbackReason, boolean>>>('fallback.triggers') ?? {};
    return {
        modelsPath: config.get<string>('modelsPath') ?? defaults.modelsPath,
        extraModelFolders: config.get<string[]>('extraModelFolders') ?? defaults.extraModelFolders,
        hubEndpoint: config.get<string>('hubEndpoint') ?? defaults.hubEndpoint,
        proxy: vscode.workspace.getConfiguration('http').get<string>('proxy') ?? defaults.proxy,
        offline: config.get<boolean>('offline') ?? defaults.offline,
        maxConcurrentDownloads: config.get<number>('maxConcurrentDownloads') ?? defaults.maxConcurrentDownloads,
        defaultModel: config.get<string>('defaultModel') ?? defaults.defaultModel,
        userModels: config.get<UserModelSetting[]>('models') ?? defaults.userModels,
        gpu: config.get<GpuMode>('gpu') ?? defaults.gpu,
        gpuRegistry: config.get<string>('gpuRegistry') ?? '',
        gpuLayers: autoOrNumber(config.get('gpuLayers'), defaults.gpuLayers),
        threads: autoOrNumber(config.get('threads'), defaults.threads),
        contextSize: autoOrNumber(config.get('contextSize'), defaults.contextSize),
        idleUnloadMinutes: config.get<number>('idleUnloadMinutes') ?? defaults.idleUnloadMinutes,
        completion: {
            model: config.get<string>('completion.model') ?? defaults.completion.model,
            provider: config.get<SidecarSettings['completion']['provider']>('completion.provider') ?? defaults.completion.provider,
            baseUrl: config.get<string>('completion.baseUrl') ?? defaults.completion.baseUrl,
            remoteModel: config.get<string>('completion.remoteModel') ?? defaults.completion.remoteModel,
        },
        server: {
            enabled: config.get<boolean>('server.enabled') ?? defaults.server.enabled,
            port: config.get<number>('server.port') ?? defaults.server.port,
            host: config.get<string>('server.host') ?? defaults.server.host,
            allowedOrigins: config.get<string[]>('server.allowedOrigins') ?? defaults.server.allowedOrigins,
        },
        fallback: {
            mode: config.get<'off' | 'ask' | 'auto'>('fallback.mode') ?? defaults.fallback.mode,
            triggers: Object.fromEntries(FALLBACK_REASONS.map((reason) => [reason, triggers[reason] ?? defaults.fallback.triggers[reason]])) as Record<
                FallbackReason,
                boolean
            >,
            firstTokenTimeoutSeconds: config.get<number>('fallback.firstTokenTimeoutSeconds') ?? defaults.fallback.firstTokenTimeoutSeconds,
            providers: config.get<ProviderSetting[]>('fallback.providers') ?? defaults.fallback.providers,
            forbidden: config.get<boolean>('fallback.forbidInWorkspace') ?? defaults.fallback.forbidden,
        },
    };
}

/** True when a configuration change touches a setting the sidecar reads. */
export function affectsSidecar(event: vscode.ConfigurationChangeEvent): boolean {
    return event.affectsConfiguration('http.proxy') || SIDECAR_KEYS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`));
}
