/** The table of CLI commands; each command's module owns its arguments and help text. */
import { chatCommand } from './chat';
import { fitCommand, hardwareCommand } from './hardware';
import { modelsCommand } from './models';

export interface CliCommand {
    /** One line for `local-ai --help`. */
    summary: string;
    run(args: string[]): Promise<number>;
}

export const commands: Record<string, CliCommand> = {
    hardware: hardwareCommand,
    fit: fitCommand,
    chat: chatCommand,
    models: modelsCommand,
};

export function usage(): string {
    const lines = Object.entries(commands).map(([name, command]) => `  ${name.padEnd(10)} ${command.summary}`);
    return `Usage: local-ai <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'local-ai <command> --help' for a command's options.\n`;
}
