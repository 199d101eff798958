/** How every `local-ai chat` answer reaches the terminal, whichever engine produced it. */
import type { ChatChunk, ChatResult } from '../../common/chat';
import { isLocalAiError } from '../../common/errors';
import { batchText } from '../chat/textBatcher';
import { exitCodeFor } from './exitCodes';

export interface StreamChatOptions {
    /** JSON lines (each chunk, then the result) instead of plain text. */
    json: boolean;
    /** The line written to stderr after a plain-text answer. */
    summary: (result: ChatResult) => string;
    /** Starts the answer; Ctrl+C aborts `signal`. */
    chat: (onChunk: (chunk: ChatChunk) => void, signal: AbortSignal) => Promise<ChatResult>;
}

/**
 * Streams one answer to stdout and returns the exit code: 0, 130 when interrupted, else the code of
 * `local-ai models` for the error (5 a provider or the network failed, its answer broken or cut short;
 * 6 a key refused), 1 for anything else.
 */
export async function streamChat(options: StreamChatOptions): Promise<number> {
    const controller = new AbortController();
    const onInterrupt = () => controller.abort();
    process.on('SIGINT', onInterrupt);
    // One write per batch, not per token: each is a system call between two of llama.cpp's decodes.
    const batcher = batchText((chunk: ChatChunk) => {
        if (options.json) process.stdout.write(`${JSON.stringify(chunk)}\n`);
        else if (chunk.kind === 'text') process.stdout.write(chunk.text);
    });
    try {
        const result = await options.chat(batcher.onChunk, controller.signal).finally(batcher.flush);
        if (options.json) {
            process.stdout.write(`${JSON.stringify({ kind: 'result', result })}\n`);
        } else {
            process.stdout.write('\n');
            process.stderr.write(`${options.summary(result)}\n`);
        }
        return result.finishReason === 'cancelled' ? 130 : 0;
    } catch (error) {
        const hint = isLocalAiError(error) && error.data.hint ? `\n${error.data.hint}` : '';
        process.stderr.write(`local-ai chat: ${error instanceof Error ? error.message : String(error)}${hint}\n`);
        return isLocalAiError(error) ? exitCodeFor(error) : 1;
    } finally {
        process.off('SIGINT', onInterrupt);
    }
}
