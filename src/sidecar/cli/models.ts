/**
 * `local-ai models list|check|download|cleanup|delete`: the model store from a terminal or a script.
 * Exit codes say what happened, so scripts can react without parsing text (see the help's footer).
 */
import { type ErrorCode, LocalAiError } from '../../common/errors';
import { formatBytes, printable } from '../../common/format';
import type { DownloadProgress, ModelFile } from '../../common/models';
import { splitPartFiles } from '../models/hubUri';
import { disposeServices, type Services } from '../services';
import { UsageError, defineCommand } from './commandLine';
import { createCliServices } from './context';
import { exitCodeFor } from './exitCodes';

/** What every action reads of the command line. */
interface ModelsArgs {
    model?: string;
    quant?: string;
    force: boolean;
    json: boolean;
    repair: boolean;
}

export const modelsCommand = defineCommand(
    {
        name: 'models',
        summary: 'List, check, download, clean up and delete models',
        positionals: [
            {
                name: 'action',
                required: 'name an action.',
                choiceColumn: 29,
                choices: [
                    { name: 'list', summary: 'every catalog, user and on-disk model with its state and size' },
                    {
                        name: 'check',
                        synopsis: '[--model M] [--repair]',
                        summary: "verify installed files: size, then sha256 against the hub's LFS hash",
                    },
                    {
                        name: 'download',
                        synopsis: '--model M [--quant Q] [--force]',
                        summary: 'download unless installed from that commit; resumes an interrupted download',
                    },
                    { name: 'cleanup', summary: 'delete partial downloads no download is using' },
                    { name: 'delete', synopsis: '--model M [--quant Q]', summary: 'delete a downloaded model (every quantization unless --quant)' },
                ],
            },
            // `local-ai models download qwen2.5-coder-7b-instruct` says what --model says.
            { name: 'model', hidden: true },
        ],
        options: {
            model: { type: 'string', value: 'M', description: 'catalog id, hf:owner/repo/file.gguf, hf:owner/repo:Q4_K_M, or a .gguf path' },
            quant: { type: 'string', value: 'Q', description: "quantization (default: the model's default)" },
            force: { type: 'boolean', description: 'download even when the model does not fit this machine' },
            repair: {
                type: 'boolean',
                description: 'with check: fetch damaged or missing files again; each replaces the damaged copy once verified',
            },
            json: { type: 'boolean', description: 'print JSON instead of text' },
            'models-dir': { type: 'string', value: 'D', description: 'models folder (default: LOCAL_AI_MODELS_PATH, else ~/.local-ai/models)' },
            verbose: { type: 'boolean', description: 'log details on stderr' },
        },
        optionColumn: 17,
        footer: `Environment: HF_ENDPOINT (hub mirror), HF_TOKEN (gated models), HTTPS_PROXY, LOCAL_AI_OFFLINE=1.

Exit codes:
  0  done            1  unexpected error       2  bad usage
  3  check found a damaged file, or a download arrived corrupted (its bytes were deleted);
     check --repair: a file stayed damaged (5, 6 or 7 when the hub could not be reached)
  4  no such model or quantization              5  network or download failure (the partial is kept)
  6  the hub refused: gated model, token needed  7  not enough disk space (the partial is kept)
  8  the model does not fit this machine (use --force)   130  interrupted (the partial is kept)
  9  the file system refused: models folder not writable or a file, name too long`,
    },
    async ({ values, positionals }) => {
        const { action } = positionals;
        const args: ModelsArgs = {
            model: values.model ?? positionals.model,
            quant: values.quant,
            force: values.force,
            json: values.json,
            repair: values.repair,
        };
        if ((action === 'download' || action === 'delete') && !args.model) throw new UsageError(`${action} needs --model.`);
        if (args.repair && action !== 'check') throw new UsageError('--repair goes with check.');
        const services = createCliServices({ modelsDir: values['models-dir'], verbose: values.verbose });
        try {
            return await ACTIONS[action](services, args);
        } catch (error) {
            return reportError(error, args.json);
        } finally {
            await disposeServices(services);
        }
    },
);

const ACTIONS = {
    async list(s: Services, args: ModelsArgs): Promise<number> {
        const result = await s.models.registry.list(true);
        if (args.json) return printJson(result);
        const rows = result.models.flatMap((entry) =>
            entry.files.map((file) => [
                printable(entry.id),
                printable(file.quant),
                file.state === 'partial' ? `partial ${formatBytes(file.partialBytes ?? 0)}${missingParts(file)}` : file.state,
                file.parts ? `${formatBytes(file.sizeBytes)} in ${file.parts.length} parts` : formatBytes(file.sizeBytes),
                file.fit ? file.fit.fit : '',
                printable(file.path ?? ''),
            ]),
        );
        process.stdout.write(table([['MODEL', 'QUANT', 'STATE', 'SIZE', 'FIT', 'PATH'], ...rows]));
        process.stdout.write(`\nModels folder: ${printable(result.modelsPath)}\n`);
        if (result.recommended)
            process.stdout.write(`Recommended here: ${printable(result.recommended.modelId)} ${result.recommended.quant} (${result.recommended.reason})\n`);
        return 0;
    },

    async check(s: Services, args: ModelsArgs): Promise<number> {
        if (args.repair) return repair(s, args);
        const results = await s.models.maintenance.check(args.model);
        if (args.json) printJson({ results });
        else if (results.length === 0) process.stdout.write('No downloaded models to check.\n');
        else {
            for (const r of results) {
                const verdict = !r.ok ? 'DAMAGED' : r.verified ? 'ok' : 'unverified';
                const note =
                    r.problem ?? (r.ok && !r.verified ? 'the size matches; no sha256 is known to compare (offline, or the hub gives none)' : undefined);
                process.stdout.write(
                    `${verdict.padEnd(10)} ${printable(r.modelId)} ${printable(r.quant)}  ${printable(r.path)}${note ? `\n           ${printable(note)}` : ''}\n`,
                );
            }
            if (results.some((r) => !r.ok)) process.stdout.write('local-ai models check --repair fetches damaged files again.\n');
        }
        return results.every((r) => r.ok) ? 0 : 3;
    },

    async download(s: Services, args: ModelsArgs): Promise<number> {
        const controller = new AbortController();
        const interrupt = () => controller.abort();
        // `on`, not `once`: a `once` listener is gone when the signal is delivered, and signal-exit (installed by
        // node-llama-cpp's dependencies once anything imports it) then finds itself alone and kills the process.
        process.on('SIGINT', interrupt);
        process.on('SIGTERM', interrupt);
        const progress = progressPrinter(args.json);
        try {
            const result = await s.models.registry.download({
                model: args.model ?? '',
                quant: args.quant,
                force: args.force,
                signal: controller.signal,
                onProgress: progress.update,
            });
            progress.finish();
            if (args.json) return printJson(result);
            const parts = splitPartFiles(result.path)?.length;
            const where = printable(parts ? `${result.path} and its ${parts - 1} other parts beside it` : result.path);
            const replaced = result.replaced ? `, replacing ${describeRevision(result.replaced)}` : '';
            process.stdout.write(
                result.downloaded ? `Installed ${where} (${formatBytes(result.bytesFetched)} fetched${replaced})\n` : `Already installed: ${where}\n`,
            );
            return 0;
        } finally {
            progress.finish();
            process.off('SIGINT', interrupt);
            process.off('SIGTERM', interrupt);
        }
    },

    async cleanup(s: Services, args: ModelsArgs): Promise<number> {
        const result = await s.models.maintenance.cleanup();
        if (args.json) return printJson(result);
        for (const file of result.removedFiles) process.stdout.write(`removed ${printable(file)}\n`);
        process.stdout.write(`Freed ${formatBytes(result.freedBytes)}.\n`);
        return 0;
    },

    async delete(s: Services, args: ModelsArgs): Promise<number> {
        const deletedFiles = await s.models.maintenance.delete(args.model ?? '', args.quant);
        if (args.json) return printJson({ deletedFiles });
        if (deletedFiles.length === 0) process.stdout.write('Nothing to delete.\n');
        for (const file of deletedFiles) process.stdout.write(`deleted ${printable(file)}\n`);
        return 0;
    },
} satisfies Record<string, (s: Services, args: ModelsArgs) => Promise<number>>;

/** For a split GGUF partly on disk: which parts are still missing. */
function missingParts(file: ModelFile): string {
    const missing = file.missingParts ?? [];
    if (missing.length === 0) return '';
    return missing.length === 1 ? `, missing ${missing[0]}` : `, missing ${missing.length} of ${file.parts?.length} parts`;
}

async function repair(s: Services, args: ModelsArgs): Promise<number> {
    const results = await s.models.maintenance.repair(args.model, args.quant);
    if (args.json) printJson({ results });
    else if (results.length === 0) process.stdout.write('No downloaded models to check.\n');
    for (const r of args.json ? [] : results) {
        const verdict = r.repaired ? 'REPAIRED' : r.ok ? (r.verified ? 'ok' : 'unverified') : 'DAMAGED';
        const note = r.repaired
            ? 'fetched again and verified'
            : r.error
              ? `${r.problem ?? 'damaged'}; the repair failed, the file was left as it was: ${r.error.message}`
              : r.problem;
        process.stdout.write(
            `${verdict.padEnd(10)} ${printable(r.modelId)} ${printable(r.quant)}  ${printable(r.path)}${note ? `\n           ${printable(note)}` : ''}\n`,
        );
    }
    const failed = results.find((r) => !r.ok);
    if (!failed) return 0;
    return failed.error ? exitCodeFor(new LocalAiError(failed.error.code as ErrorCode, failed.error.message)) : 3;
}

function describeRevision(revision: { revision: string; commit?: string }): string {
    return `${revision.revision}${revision.commit ? ` (commit ${revision.commit.slice(0, 7)})` : ''}`;
}

/** A redrawn bar on a terminal; one line per state change (and every 10%) otherwise, for logs. */
function progressPrinter(json: boolean): { update(p: DownloadProgress): void; finish(): void } {
    const tty = process.stderr.isTTY && !json;
    let lastState = '';
    let lastTenth = -1;
    let drawn = false;
    return {
        update(p) {
            const fraction = p.totalBytes > 0 ? p.receivedBytes / p.totalBytes : 0;
            const speed = p.bytesPerSecond > 0 ? `${(p.bytesPerSecond / 1e6).toFixed(1)} MB/s` : '';
            const eta = p.etaSeconds !== undefined ? `ETA ${formatEta(p.etaSeconds)}` : '';
            const facts = `${formatBytes(p.receivedBytes)} / ${formatBytes(p.totalBytes)} ${speed} ${eta}`.trim();
            if (tty) {
                const width = 30;
                const filled = Math.round(fraction * width);
                const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
                process.stderr.write(
                    `\r\x1b[K${printable(p.name)} ${p.quant} ${bar} ${(fraction * 100).toFixed(1)}% ${facts}${p.message ? `  ${printable(p.message)}` : ''}`,
                );
                drawn = true;
                return;
            }
            const tenth = Math.floor(fraction * 10);
            if (p.state !== lastState || (p.state === 'downloading' && tenth !== lastTenth)) {
                process.stderr.write(
                    `${p.state} ${printable(p.name)} ${p.quant} ${(fraction * 100).toFixed(0)}% ${facts}${p.message ? ` (${printable(p.message)})` : ''}\n`,
                );
                lastState = p.state;
                lastTenth = tenth;
            }
        },
        finish() {
            if (drawn) process.stderr.write('\n');
            drawn = false;
        },
    };
}

function reportError(error: unknown, json: boolean): number {
    if (!(error instanceof LocalAiError)) throw error;
    const exit = exitCodeFor(error);
    if (json) process.stdout.write(`${JSON.stringify({ error: { code: error.code, message: error.message, data: error.data } })}\n`);
    process.stderr.write(`local-ai: ${printable(error.message)}\n`);
    if (error.data.hint) process.stderr.write(`  ${printable(error.data.hint)}\n`);
    if (error.data.url) process.stderr.write(`  ${printable(error.data.url)}\n`);
    return exit;
}

function printJson(value: unknown): number {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return 0;
}

function formatEta(seconds: number): string {
    return seconds >= 3600
        ? `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`
        : seconds >= 60
          ? `${Math.floor(seconds / 60)}m${seconds % 60}s`
          : `${seconds}s`;
}

function table(rows: string[][]): string {
    const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
    return `${rows
        .map((row) =>
            row
                .map((cell, column) => cell.padEnd(widths[column]))
                .join('  ')
                .trimEnd(),
        )
        .join('\n')}\n`;
}
