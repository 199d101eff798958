/**
 * The table of `local-ai` subcommands and the dispatch to them. Each subcommand's module declares its own
 * arguments with `defineCommand` and never imports this file, so the table can import them all.
 */
import { isLocalAiError } from '../../common/errors';
import { chatCommand } from './chat';
import { commandFor, parseCommandLine, UsageError, type CliCommand } from './commandLine';
import { completeCommand } from './complete';
import { exitCodeFor } from './exitCodes';
import { gpuCommand } from './gpu';
import { fitCommand, hardwareCommand } from './hardware';
import { formatColumns, formatHelp } from './help';
import { modelsCommand } from './models';

/** In the order `local-ai --help` lists them. */
export const COMMANDS: readonly CliCommand[] = [hardwareCommand, fitCommand, chatCommand, completeCommand, modelsCommand, gpuCommand];

export function usage(): string {
    const rows = COMMANDS.map(({ spec }): [string, string] => [spec.name, spec.summary]);
    return `Usage: local-ai <command> [options]\n\nCommands:\n${formatColumns(rows, 11)}\n\nRun 'local-ai <command> --help' for a command's options.\n`;
}

/**
 * Runs one command line and returns the exit code: 0 for help that was asked for, 2 for bad usage
 * (the message and the help on stderr), the error's exit code for a typed error the subcommand did
 * not handle, otherwise what the subcommand returns.
 */
export async function runCli(argv: string[]): Promise<number> {
    const [name, ...args] = argv;
    if (!name || name === '--help' || name === '-h' || name === 'help') {
        process.stdout.write(usage());
        return name ? 0 : 2;
    }
    const named = COMMANDS.find((command) => command.spec.name === name);
    if (!named) {
        process.stderr.write(`local-ai: unknown command '${name}'.\n\n${usage()}`);
        return 2;
    }
    const command = commandFor(named, args);
    const help = formatHelp(command.spec);
    // Like `local-ai` alone, a command of actions run bare shows them, as bad usage.
    if (args.length === 0 && command.spec.positionals?.[0]?.choices) {
        process.stdout.write(help);
        return 2;
    }
    try {
        const commandLine = parseCommandLine(command.spec, args);
        if (commandLine === 'help') {
            process.stdout.write(help);
            return 0;
        }
        return await command.run(commandLine);
    } catch (error) {
        // A fault found before the command could start (a models folder that is a file) exits as it would inside it.
        if (isLocalAiError(error)) {
            process.stderr.write(`local-ai ${command.spec.name}: ${error.message}\n${error.data.hint ? `  ${error.data.hint}\n` : ''}`);
            return exitCodeFor(error);
        }
        if (!(error instanceof UsageError)) throw error;
        process.stderr.write(`local-ai ${command.spec.name}: ${error.message}\n\n${help}`);
        return 2;
    }
}
