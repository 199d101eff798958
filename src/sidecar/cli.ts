#!/usr/bin/env node
/**
 * `local-ai`: the same sidecar services without VS Code, for users' scripts and for benchmarks.
 * cli/commands.ts lists the subcommands; each lives in cli/<command>.ts and returns its exit code.
 */
import { runCli } from './cli/commands';

runCli(process.argv.slice(2)).then(
    (code) => {
        process.exitCode = code;
    },
    (error: unknown) => {
        process.stderr.write(`local-ai: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
    },
);
