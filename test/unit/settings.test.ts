/**
 * The settings a user gets when nothing is configured are declared twice by necessity: in
 * package.json (what the Settings editor shows) and in defaultSettings() (what the sidecar and the
 * CLI use). This keeps the two equal.
 */
import * as assert from 'node:assert/strict';
import manifest from '../../package.json';
import { defaultSettings, hubEndpoint, type SidecarSettings } from '../../src/common/settings';

/** Each declared setting (under `localAi.`) and where its value lives in SidecarSettings. */
const SETTING_PATHS: Record<string, (settings: SidecarSettings) => unknown> = {
    modelsPath: (s) => s.modelsPath,
    extraModelFolders: (s) => s.extraModelFolders,
    hubEndpoint: (s) => s.hubEndpoint,
    offline: (s) => s.offline,
    maxConcurrentDownloads: (s) => s.maxConcurrentDownloads,
    defaultModel: (s) => s.defaultModel,
    models: (s) => s.userModels,
    gpu: (s) => s.gpu,
    gpuRegistry: (s) => s.gpuRegistry,
    gpuLayers: (s) => s.gpuLayers,
    threads: (s) => s.threads,
    contextSize: (s) => s.contextSize,
    idleUnloadMinutes: (s) => s.idleUnloadMinutes,
    'server.enabled': (s) => s.server.enabled,
    'server.port': (s) => s.server.port,
    'server.host': (s) => s.server.host,
    'server.allowedOrigins': (s) => s.server.allowedOrigins,
    'completion.model': (s) => s.completion.model,
    'completion.provider': (s) => s.completion.provider,
    'completion.baseUrl': (s) => s.completion.baseUrl,
    'completion.remoteModel': (s) => s.completion.remoteModel,
    'fallback.mode': (s) => s.fallback.mode,
    'fallback.providers': (s) => s.fallback.providers,
    'fallback.triggers': (s) => s.fallback.triggers,
    'fallback.firstTokenTimeoutSeconds': (s) => s.fallback.firstTokenTimeoutSeconds,
    'fallback.forbidInWorkspace': (s) => s.fallback.forbidden,
};

/** Settings only the extension reads. */
const EXTENSION_ONLY = new Set(['trace.server', 'completion.enabled', 'completion.languages']);

describe('settings defaults', () => {
    const declared: Record<string, { default?: unknown }> = manifest.contributes.configuration.properties;
    const defaults = defaultSettings();

    it('declares in package.json the defaults the sidecar and the CLI use', () => {
        for (const [key, read] of Object.entries(SETTING_PATHS)) {
            assert.ok(`localAi.${key}` in declared, `localAi.${key} is not declared in package.json`);
            assert.deepEqual(declared[`localAi.${key}`].default, read(defaults), `localAi.${key}`);
        }
    });

    it('knows where every declared setting goes', () => {
        const unknown = Object.keys(declared)
            .map((key) => key.replace(/^localAi\./, ''))
            .filter((key) => !(key in SETTING_PATHS) && !EXTENSION_ONLY.has(key));
        assert.deepEqual(unknown, []);
    });
});

describe('hub endpoint', () => {
    it('takes the setting, then HF_ENDPOINT, then huggingface.co, without a trailing slash', () => {
        assert.equal(hubEndpoint('https://mirror.example/', { HF_ENDPOINT: 'https://other.example' }), 'https://mirror.example');
        assert.equal(hubEndpoint('', { HF_ENDPOINT: 'https://hf-mirror.example//' }), 'https://hf-mirror.example');
        assert.equal(hubEndpoint('', {}), 'https://huggingface.co');
    });
});
