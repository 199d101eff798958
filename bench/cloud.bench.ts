/**
 * What the cloud path costs on top of the provider itself, against a loopback mock (so only our
 * overhead is measured, not a network):
 * - time to the whole answer through each provider's SDK, against a bare fetch reading the same bytes
 *   (baseline: what any client must pay);
 * - the fallback router (local fails at once, then the provider), against the provider called directly.
 */
import type { ProviderId } from '../src/common/chat';
import { ErrorCode, LocalAiError } from '../src/common/errors';
import { defaultSettings } from '../src/common/settings';
import { SidecarContext } from '../src/sidecar/context';
import { createProvider } from '../src/sidecar/providers/index';
import { ChatRouter } from '../src/sidecar/chat/router';
import { startMockProvider } from '../test/fixtures/mockProviders/server';
import { compare, elapsedMs, interleave, report, type BenchRow } from './lib';

const ROUNDS = 30;
const PIECES = Array.from({ length: 50 }, (_, i) => `word${i} `);
const messages = [{ role: 'user' as const, content: 'Say fifty words.' }];

/** Both sides warmed once (SDK modules, sockets), then ROUNDS interleaved rounds, in ms. */
async function interleavedMs(ours: () => Promise<unknown>, baseline: () => Promise<unknown>): Promise<number[][]> {
    await ours();
    await baseline();
    return interleave(ROUNDS, [() => elapsedMs(ours), () => elapsedMs(baseline)]);
}

/** The request each provider's SDK sends, replayed with a bare fetch that reads the stream to its end. */
function bareRequest(id: ProviderId, baseUrl: string): { url: string; body: unknown } {
    switch (id) {
        case 'anthropic':
            return { url: `${baseUrl}/v1/messages`, body: { model: 'm', max_tokens: 64, messages, stream: true } };
        case 'gemini':
            return {
                url: `${baseUrl}/v1beta/models/m:streamGenerateContent?alt=sse`,
                body: { contents: [{ role: 'user', parts: [{ text: 'Say fifty words.' }] }] },
            };
        case 'ollama':
            return { url: `${baseUrl}/api/chat`, body: { model: 'm', messages, stream: true } };
        default:
            return { url: `${baseUrl}/chat/completions`, body: { model: 'm', messages, stream: true } };
    }
}

async function main(): Promise<void> {
    const rows: BenchRow[] = [];
    const signal = new AbortController().signal;
    for (const id of ['openai-compatible', 'anthropic', 'gemini', 'ollama'] as ProviderId[]) {
        const mock = await startMockProvider({ provider: id, answer: PIECES });
        try {
            const engine = createProvider({ setting: { id, baseUrl: mock.baseUrl, model: 'm' }, apiKey: 'bench-key' });
            const bare = bareRequest(id, mock.baseUrl);
            const [sdk, baseline] = await interleavedMs(
                () => engine.chat({ messages, onChunk: () => undefined, signal }),
                async () => {
                    const response = await fetch(bare.url, {
                        method: 'POST',
                        headers: { 'content-type': 'application/json' },
                        body: JSON.stringify(bare.body),
                    });
                    await response.text();
                },
            );
            rows.push({
                name: `${id}: 50-piece streamed answer via SDK + ChatEngine vs a bare fetch`,
                unit: 'ms',
                target: 'SDK cost per answer; < 3 ms per piece over bare fetch',
                ...compare(sdk, baseline),
            });
            const extra = compare(sdk, baseline, 'difference');
            rows.push({
                name: `${id}: SDK cost per streamed piece (median extra per answer ÷ ${PIECES.length})`,
                value: extra.ratio! / PIECES.length,
                unit: 'ms/piece',
                ci: [extra.ci![0] / PIECES.length, extra.ci![1] / PIECES.length],
                repeats: extra.repeats,
                target: '< 3 ms (a real provider sends a piece every 10-50 ms)',
            });
        } finally {
            await mock.stop();
        }
    }

    const mock = await startMockProvider({ provider: 'openai-compatible', answer: PIECES });
    try {
        const settings = defaultSettings();
        settings.fallback.mode = 'auto';
        settings.fallback.providers = [{ id: 'openai-compatible', baseUrl: mock.baseUrl, model: 'm' }];
        const log = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
        const context = new SidecarContext({ log, settings, secrets: { providerKeys: {} }, defaultModelsPath: '', statePath: '' });
        const local = {
            chat: async () => {
                throw new LocalAiError(ErrorCode.ModelNotInstalled, 'No model is installed.');
            },
        };
        const router = new ChatRouter({ context, local });
        const direct = createProvider({ setting: settings.fallback.providers[0] });
        const [viaRouter, baseline] = await interleavedMs(
            () => router.chat({ messages, onChunk: () => undefined, signal }),
            () => direct.chat({ messages, onChunk: () => undefined, signal }),
        );
        rows.push({
            name: 'fallback through the router (local fails, then provider) vs the provider directly',
            unit: 'ms',
            target: '≈ 1×: the policy adds no round trip',
            ...compare(viaRouter, baseline),
        });
    } finally {
        await mock.stop();
    }
    report(rows);
}

main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
});
