/**
 * `local-ai complete --file F --line L --column C`: a code completion at a place in a file, as the editor
 * would ask for it (the same window of lines around the cursor), printed to stdout, or the whole result
 * with its usage and timings with --json. For scripting and for the benchmark.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CompletionResult } from '../../common/completion';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { disposeServices } from '../services';
import { defineCommand } from './commandLine';
import { createCliServices } from './context';
import { cutWindow } from '../../common/completionWindow';

const spec = {
    name: 'complete',
    summary: 'Complete code at a place in a file with the local completion model',
    options: {
        file: {
            type: 'string',
            value: 'F',
            inUsage: true,
            required: 'Give the file: local-ai complete --file F --line L --column C',
            description: 'the source file',
        },
        line: { type: 'integer', value: 'L', min: 1, inUsage: true, required: 'Give the line (1-based): --line L', description: 'the cursor line, 1-based' },
        column: {
            type: 'integer',
            value: 'C',
            min: 1,
            inUsage: true,
            required: 'Give the column (1-based): --column C',
            description: 'the cursor column, 1-based (characters)',
        },
        model: { type: 'string', value: 'ID|PATH', description: 'a model id, id@QUANT or .gguf path (default: the completion model)' },
        'max-tokens': { type: 'integer', value: 'N', min: 1, description: 'answer tokens at most (default 128)' },
        'single-line': { type: 'boolean', description: 'only the rest of the line' },
        threads: { type: 'integer', value: 'N', min: 1, description: 'CPU threads for generation (default: one per physical core)' },
        json: { type: 'boolean', description: 'print the result as JSON: text, finish reason, usage and timings' },
        'models-dir': { type: 'string', value: 'DIR', description: 'where models are kept (default LOCAL_AI_MODELS_PATH or ~/.local-ai/models)' },
        verbose: { type: 'boolean', description: 'engine logs on stderr' },
    },
    optionColumn: 20,
} as const;

/** The window around a 1-based line and column: the text before and after the cursor. */
export function cursorWindow(text: string, line: number, column: number): { prefix: string; suffix: string } {
    const lines = text.split('\n');
    if (line > lines.length) {
        throw new LocalAiError(ErrorCode.InvalidParams, `The file has ${lines.length} lines; line ${line} is past its end.`);
    }
    const current = lines[line - 1];
    if (column > current.length + 1) {
        throw new LocalAiError(ErrorCode.InvalidParams, `Line ${line} has ${current.length} characters; column ${column} is past its end.`);
    }
    // The editor's own window (src/common/completionWindow.ts), so a scripted completion sees what the editor sends.
    const { prefix, suffix } = cutWindow({ lines, line: line - 1, character: column - 1 });
    return { prefix, suffix };
}

export const completeCommand = defineCommand(spec, async ({ values }) => {
    const file = path.resolve(values.file);
    let text: string;
    try {
        text = fs.readFileSync(file, 'utf8');
    } catch (error) {
        throw new LocalAiError(ErrorCode.FileSystemError, `Could not read ${file}: ${(error as Error).message}`, { file });
    }
    const window = cursorWindow(text, values.line, values.column);
    const services = createCliServices({ modelsDir: values['models-dir'], verbose: values.verbose });
    if (values.threads !== undefined) services.context.updateSettings({ ...services.context.settings, threads: values.threads });
    const completion = services.completion;
    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.on('SIGINT', onSigint);
    try {
        const result: CompletionResult = await completion.complete({
            ...window,
            model: values.model,
            fileName: path.basename(file),
            maxTokens: values['max-tokens'],
            singleLine: values['single-line'],
            trigger: 'explicit',
            signal: controller.signal,
        });
        if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else {
            process.stdout.write(`${result.text}\n`);
            const { usage, timings } = result;
            process.stderr.write(
                `[${result.engine.model} on ${result.engine.device}: ${usage.completionTokens} tokens, ${usage.evaluatedTokens} of ${usage.promptTokens} prompt tokens evaluated, ${timings.totalMs} ms, ${result.finishReason}]\n`,
            );
        }
        return result.finishReason === 'cancelled' ? 130 : 0;
    } finally {
        process.off('SIGINT', onSigint);
        await disposeServices(services);
    }
});
