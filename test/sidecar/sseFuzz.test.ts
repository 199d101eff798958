/**
 * Random byte streams from a provider, through each real SDK and the one ChatEngine: well-formed
 * pieces, the wire's end marker or not, garbage bytes, cut frames, JSON of any shape, blank lines and
 * comments, split at random points. Every outcome is an answer that the wire really ended (its text
 * made of pieces that were sent) or a typed ProviderFailure in plain words; never a raw error, never
 * "stop" without the end marker.
 */
import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import type { ChatResult, ProviderId } from '../../src/common/chat';
import { createProvider, ProviderFailure } from '../../src/sidecar/providers/index';
import { HOSTILE_KEY, keyLeaks, WIRES } from '../fixtures/mockProviders/hostile';
import { WIRE_FORMATS } from '../fixtures/mockProviders/wire';

/** One part of a generated stream. */
type Segment =
    | { kind: 'piece'; text: string }
    | { kind: 'end' }
    | { kind: 'garbage'; bytes: Uint8Array }
    | { kind: 'cut'; fraction: number }
    | { kind: 'json'; value: unknown }
    | { kind: 'blank' }
    | { kind: 'comment' };

interface Case {
    id: ProviderId;
    segments: Segment[];
    /** Where the bytes are split into separate writes, as fractions of the length. */
    splits: number[];
}

/** The wire's end marker (and what follows it on the wire). */
function endMarker(id: ProviderId): string {
    const wire = WIRE_FORMATS[id];
    return wire
        .frames({ model: 'm', pieces: id === 'gemini' ? [''] : [], promptTokens: 1 })
        .slice(-wire.endFrames)
        .join('');
}

function bytesOf(id: ProviderId, segments: Segment[]): Buffer {
    const wire = WIRE_FORMATS[id];
    const sse = wire.contentType === 'text/event-stream';
    const parts = segments.map((segment, index): Buffer | string => {
        switch (segment.kind) {
            case 'piece':
                return wire.pieceFrame('m', segment.text);
            case 'end':
                return endMarker(id);
            case 'garbage':
                return Buffer.from(segment.bytes);
            case 'cut': {
                const frame = wire.pieceFrame('m', `cut${index};`);
                return frame.slice(0, Math.floor(frame.length * segment.fraction));
            }
            case 'json':
                return sse ? `data: ${JSON.stringify(segment.value)}\n\n` : `${JSON.stringify(segment.value)}\n`;
            case 'blank':
                return '\n';
            default:
                return sse ? ': keep-alive\n\n' : '\n';
        }
    });
    return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)));
}

/** Pieces are numbered words, so an answer's text can be matched back to the pieces that were sent. */
const segment = (index: number): fc.Arbitrary<Segment> =>
    fc.oneof(
        { weight: 6, arbitrary: fc.constant<Segment>({ kind: 'piece', text: `w${index};` }) },
        { weight: 2, arbitrary: fc.constant<Segment>({ kind: 'end' }) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((bytes): Segment => ({ kind: 'garbage', bytes })) },
        { weight: 1, arbitrary: fc.double({ min: 0.05, max: 0.95, noNaN: true }).map((fraction): Segment => ({ kind: 'cut', fraction })) },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((value): Segment => ({ kind: 'json', value })) },
        { weight: 1, arbitrary: fc.constantFrom<Segment>({ kind: 'blank' }, { kind: 'comment' }) },
    );

const caseArbitrary: fc.Arbitrary<Case> = fc.record({
    id: fc.constantFrom(...WIRES),
    segments: fc
        .array(fc.nat({ max: 1000 }), { maxLength: 12 })
        .chain((seeds) => (seeds.length ? fc.tuple(...seeds.map((_, index) => segment(index))) : fc.constant([] as Segment[]))),
    splits: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
});

describe('random SSE and NDJSON byte streams', function () {
    this.timeout(120_000);
    let server: http.Server;
    let url = '';
    let current: Case | undefined;
    const warn = console.warn;

    before(async () => {
        // The Ollama client prints every line it cannot parse; 200 runs of that would bury the report.
        console.warn = () => undefined;
        server = http.createServer(async (request, response) => {
            for await (const _ of request) {
                // The body is not needed; reading it lets the client finish sending.
            }
            const { id, segments, splits } = current!;
            const bytes = bytesOf(id, segments);
            const cuts = [...new Set(splits.map((split) => Math.floor(split * bytes.length)))].sort((a, b) => a - b);
            response.writeHead(200, { 'content-type': WIRE_FORMATS[id].contentType });
            let from = 0;
            for (const to of [...cuts, bytes.length]) {
                if (response.destroyed) return;
                if (to > from) response.write(bytes.subarray(from, to));
                from = Math.max(from, to);
                await new Promise((resolve) => setImmediate(resolve));
            }
            response.end();
        });
        server.listen(0, '127.0.0.1');
        await once(server, 'listening');
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
        console.warn = warn;
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
    });

    it('every outcome is an answer the wire ended, or a typed failure in plain words', async () => {
        await fc.assert(
            fc.asyncProperty(caseArbitrary, async (fuzzCase) => {
                current = fuzzCase;
                const { id, segments } = fuzzCase;
                const baseUrl = id === 'openai-compatible' ? `${url}/v1` : url;
                let outcome: ChatResult | unknown;
                try {
                    outcome = await createProvider({ setting: { id, baseUrl, model: 'm' }, apiKey: HOSTILE_KEY, idleTimeoutMs: 10_000 }).chat({
                        messages: [{ role: 'user', content: 'Hello?' }],
                        onChunk: () => undefined,
                        signal: new AbortController().signal,
                    });
                } catch (error) {
                    outcome = error;
                }
                if (outcome instanceof Error) {
                    assert.ok(outcome instanceof ProviderFailure, `a raw error: ${outcome.stack}`);
                    assert.equal(outcome.kind, 'brokenStream', outcome.message);
                    assert.doesNotMatch(outcome.message, /Cannot read|Cannot use|TypeError|undefined/);
                    assert.deepEqual(keyLeaks(outcome.message), []);
                    return;
                }
                const result = outcome as ChatResult;
                assert.ok(
                    segments.some((part) => part.kind === 'end'),
                    `"${result.finishReason}" from a stream without the end marker`,
                );
                assert.equal(result.finishReason, 'stop');
                // The text is made of pieces that were sent, in order (a piece garbage ran into may be lost).
                let rest = result.text;
                for (const part of segments) if (part.kind === 'piece' && rest.startsWith(part.text)) rest = rest.slice(part.text.length);
                assert.equal(rest, '', `text not made of sent pieces: ${result.text}`);
            }),
            { numRuns: 200, interruptAfterTimeLimit: 50_000 },
        );
    });
});
