/**
 * The fallback policy as pure decisions, so the whole matrix can be tested without a server:
 * why the local engine could not answer, and whether that lets a conversation leave the machine.
 */
import type { FallbackReason, ProviderId } from '../../common/chat';
import { ErrorCode, isLocalAiError } from '../../common/errors';
import { providerApiKey, type ProviderSetting, type SidecarSecrets, type SidecarSettings } from '../../common/settings';
import { PROVIDERS } from '../../common/providers';

/** Sorts a local failure into a fallback reason; undefined when no provider should answer instead. */
export function fallbackReasonFor(error: unknown, downloading: boolean): FallbackReason | undefined {
    if (error instanceof Error && error.name === 'AbortError') return undefined;
    if (!isLocalAiError(error)) return 'localError';
    switch (error.code) {
        case ErrorCode.ModelNotFound:
        case ErrorCode.ModelNotInstalled:
        case ErrorCode.NoEngineAvailable:
            return downloading ? 'downloading' : 'noLocalModel';
        case ErrorCode.ModelDoesNotFit:
            return 'doesNotFit';
        case ErrorCode.LoadFailed:
        case ErrorCode.InvalidModelFile:
            return 'loadFailed';
        // The caller's own request is at fault, or the caller stopped it: a provider would not help.
        case ErrorCode.Cancelled:
        case ErrorCode.InvalidParams:
        case ErrorCode.ContextOverflow:
            return undefined;
        default:
            return 'localError';
    }
}

/** Plain words for the user: why the local model is not answering. */
export function reasonMessage(reason: FallbackReason, settings: SidecarSettings, error?: unknown): string {
    const detail = error instanceof Error && error.message ? ` (${error.message.replace(/\.$/, '')})` : '';
    switch (reason) {
        case 'noLocalModel':
            return 'No local model is installed yet.';
        case 'downloading':
            return 'The local model is still downloading.';
        case 'doesNotFit':
            return `The local model does not fit in this machine's memory${detail}.`;
        case 'loadFailed':
            return `The local model failed to load${detail}.`;
        case 'localError':
            return `The local model failed while answering${detail}.`;
        case 'firstTokenTimeout':
            return `The local model has not started answering after ${settings.fallback.firstTokenTimeoutSeconds} s.`;
    }
}

/** Why nothing may leave the machine, or undefined when a provider may be used. */
export type CloudBlock = 'offline' | 'forbidden' | 'off' | 'triggerOff' | 'noProviders';

/** The rules that hold even when the user picked a provider by hand: workspace forbid and offline win. */
export function explicitBlock(settings: SidecarSettings): CloudBlock | undefined {
    if (settings.offline) return 'offline';
    if (settings.fallback.forbidden) return 'forbidden';
    return undefined;
}

/** Whether the policy lets a provider answer for this reason. */
export function fallbackBlock(settings: SidecarSettings, reason: FallbackReason): CloudBlock | undefined {
    const explicit = explicitBlock(settings);
    if (explicit) return explicit;
    if (settings.fallback.mode === 'off') return 'off';
    if (!settings.fallback.triggers[reason]) return 'triggerOff';
    if (settings.fallback.providers.length === 0) return 'noProviders';
    return undefined;
}

export const BLOCK_HINTS: Record<CloudBlock, string> = {
    offline: 'Offline mode is on (localAi.offline): nothing leaves this machine.',
    forbidden: 'This workspace forbids cloud providers (localAi.fallback.forbidInWorkspace).',
    off: 'Cloud fallback is off (localAi.fallback.mode).',
    triggerOff: 'Cloud fallback is switched off for this situation (localAi.fallback.triggers).',
    noProviders: 'No provider is configured (localAi.fallback.providers): run "Local AI: Use a Cloud Provider…".',
};

export interface UsableProvider {
    setting: ProviderSetting;
    apiKey?: string;
}

/** The configured providers in order, split into those that can be called and those missing a key. */
export function usableProviders(settings: SidecarSettings, secrets: SidecarSecrets): { usable: UsableProvider[]; missingKey: ProviderId[] } {
    const usable: UsableProvider[] = [];
    const missingKey: ProviderId[] = [];
    for (const setting of settings.fallback.providers) {
        const apiKey = providerApiKey(secrets, setting.id);
        if (!apiKey && PROVIDERS[setting.id].keyRequired) missingKey.push(setting.id);
        else usable.push({ setting, apiKey });
    }
    return { usable, missingKey };
}
