#!/usr/bin/env node
/**
 * `local-ai`: the same sidecar services without VS Code, for users' scripts and for benchmarks.
 * Each command lives in cli/<command>.ts and returns its exit code.
 */
import { commands, usage } from './cli/commands';

async function main(argv: string[]): Promise<number> {
    const [name, ...args] = argv;
    if (!name || name === '--help' || name === '-h' || name === 'help') {
        process.stdout.write(usage());
        return name ? 0 : 2;
    }
    const command = commands[name];
    if (!command) {
        process.stderr.write(`local-ai: unknown command '${name}'.\n\n${usage()}`);
        return 2;
    }
    return command.run(args);
}

main(process.argv.slice(2)).then(
    (code) => {
        process.exitCode = code;
    },
    (error: unknown) => {
        process.stderr.write(`local-ai: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
    },
);
