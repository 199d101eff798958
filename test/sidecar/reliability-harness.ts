/**
 * What the reliability tests and the load benchmark share: streaming a chat or a download through a
 * real sidecar process, waiting for a pushed event, and reading the process's resident memory.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CancellationTokenSource, ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCode } from '../../src/common/errors';
import type { ChatChunk, ChatMessage, ChatResult, SamplingOptions } from '../../src/common/chat';
import type { DownloadProgress } from '../../src/common/models';
import {
    ChatChunkType,
    ChatRequest,
    DownloadProgressType,
    DownloadRequest,
    HardwareRequest,
    LoadModelRequest,
    UnloadModelRequest,
    type DownloadResult,
} from '../../src/common/protocol';
import type { SidecarProcess } from '../fixtures/sidecarProcess';

let nextToken = 0;

export interface ChatCallOptions {
    model: string;
    messages?: ChatMessage[];
    /** Default: 16 tokens, seed 1. */
    options?: SamplingOptions;
    onChunk?: (chunk: ChatChunk) => void;
    /** Cancels through the protocol's $/cancelRequest. Default: never. */
    cancel?: CancellationTokenSource;
}

/** Streams one chat on a fresh partialResultToken and resolves with the final result. */
export async function chatThrough(sidecar: SidecarProcess, call: ChatCallOptions): Promise<ChatResult> {
    const token = `reliability-chat-${nextToken++}`;
    const subscription = sidecar.connection.onProgress(ChatChunkType, token, call.onChunk ?? (() => undefined));
    const params = {
        model: call.model,
        messages: call.messages ?? [{ role: 'user' as const, content: 'Tell me about reliability.' }],
        options: call.options ?? { maxTokens: 16, seed: 1 },
        partialResultToken: token,
    };
    try {
        // An undefined cancellation token would be sent as a second parameter.
        return call.cancel
            ? await sidecar.connection.sendRequest(ChatRequest.type, params, call.cancel.token)
            : await sidecar.connection.sendRequest(ChatRequest.type, params);
    } finally {
        subscription.dispose();
    }
}

/** Streams one download on a fresh partialResultToken. */
export async function downloadThrough(
    sidecar: SidecarProcess,
    model: string,
    onProgress: (progress: DownloadProgress) => void = () => undefined,
): Promise<DownloadResult> {
    const token = `reliability-download-${nextToken++}`;
    const subscription = sidecar.connection.onProgress(DownloadProgressType, token, onProgress);
    try {
        return await sidecar.connection.sendRequest(DownloadRequest.type, { model, partialResultToken: token });
    } finally {
        subscription.dispose();
    }
}

/** Resolves when `test` holds for a value `subscribe` delivers; rejects after `timeoutMs`. */
export function eventually<T>(subscribe: (listener: (value: T) => void) => void, test: (value: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
    return new Promise((resolve, reject) => {
        let done = false;
        const timer = setTimeout(() => {
            done = true;
            reject(new Error(`timed out waiting for ${what}`));
        }, timeoutMs);
        subscribe((value) => {
            if (done || !test(value)) return;
            done = true;
            clearTimeout(timer);
            resolve(value);
        });
    });
}

/** Resolves when the process has exited (at once if it already has). */
export function exited(sidecar: SidecarProcess): Promise<void> {
    if (sidecar.child.exitCode !== null || sidecar.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => sidecar.child.once('exit', () => resolve()));
}

/** kill -9, and wait until the process is gone. */
export async function killHard(sidecar: SidecarProcess): Promise<void> {
    const gone = exited(sidecar);
    sidecar.child.kill('SIGKILL');
    await gone;
    await sidecar.stop();
}

/** Resident memory of a process in bytes, from /proc (Linux). */
export function residentBytes(pid: number): number {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (!match) throw new Error(`no VmRSS for pid ${pid}`);
    return Number(match[1]) * 1024;
}

export const MB = 1024 * 1024;

/** Random bytes standing in for a model file on the fake hub (downloads never load what they fetch). */
export function hubFileBytes(sizeBytes: number): Buffer {
    return randomBytes(sizeBytes);
}

/** Percentile of a list (nearest rank). */
export function percentile(values: number[], p: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export interface LoadRunOptions {
    /** The model every chat uses (loaded first). */
    model: string;
    /** Default 20. */
    chats?: number;
    /** Tokens per answer. Default 12. */
    maxTokens?: number;
    /** Every n-th chat is cancelled after its first piece of text; 0 never. Default 5. */
    cancelEvery?: number;
    /** A hub URI downloaded while the chats run. Default: none. */
    download?: string;
}

export interface LoadRunResult {
    completed: number;
    cancelled: number;
    /** Errors other than a clean cancellation, as messages. */
    failed: string[];
    /** Milliseconds from sending each completed chat to its result. */
    latenciesMs: number[];
    download?: DownloadResult;
    rssBeforeLoad: number;
    rssLoaded: number;
    rssAfterUnload: number;
}

/** Loads the model, runs the chats all at once (plus the download), then unloads, measuring RSS around it. */
export async function runLoad(sidecar: SidecarProcess, options: LoadRunOptions): Promise<LoadRunResult> {
    const pid = sidecar.child.pid!;
    const { chats = 20, maxTokens = 12, cancelEvery = 5 } = options;
    // The hardware report starts llama.cpp's runtime, which stays for the process's life: the baseline includes it.
    await sidecar.connection.sendRequest(HardwareRequest.type, {});
    const rssBeforeLoad = residentBytes(pid);
    await sidecar.connection.sendRequest(LoadModelRequest.type, { model: options.model });
    const rssLoaded = residentBytes(pid);
    const result: LoadRunResult = { completed: 0, cancelled: 0, failed: [], latenciesMs: [], rssBeforeLoad, rssLoaded, rssAfterUnload: 0 };
    const download = options.download ? downloadThrough(sidecar, options.download) : undefined;
    await Promise.all(
        Array.from({ length: chats }, async (_, index) => {
            const cancels = cancelEvery > 0 && index % cancelEvery === cancelEvery - 1;
            const cancel = cancels ? new CancellationTokenSource() : undefined;
            const started = performance.now();
            try {
                const answer = await chatThrough(sidecar, {
                    model: options.model,
                    messages: [{ role: 'user', content: `Question ${index}: what keeps a program reliable?` }],
                    options: { maxTokens, seed: index },
                    cancel,
                    onChunk: (chunk) => {
                        if (cancel && chunk.kind === 'text') cancel.cancel();
                    },
                });
                if (answer.finishReason === 'cancelled') {
                    result.cancelled++;
                } else if (answer.usage.completionTokens === maxTokens || answer.finishReason === 'stop') {
                    result.completed++;
                    result.latenciesMs.push(performance.now() - started);
                } else {
                    result.failed.push(`chat ${index} ended with ${answer.finishReason} after ${answer.usage.completionTokens} tokens`);
                }
            } catch (error) {
                if (cancel && error instanceof ResponseError && error.code === ErrorCode.Cancelled) result.cancelled++;
                else result.failed.push(`chat ${index}: ${error instanceof Error ? error.message : String(error)}`);
            }
        }),
    );
    if (download) result.download = await download;
    await sidecar.connection.sendRequest(UnloadModelRequest.type, {});
    result.rssAfterUnload = residentBytes(pid);
    return result;
}
