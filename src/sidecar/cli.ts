#!/usr/bin/env node
/**
 * `local-ai`: the same sidecar services without VS Code, for users' scripts and for benchmarks.
 * cli/commands.ts lists the subcommands; each lives in cli/<command>.ts and returns its exit code.
 */
import { runCli } from './cli/commands';

// `local-ai models list | head -1` closes the pipe once the reader has what it wanted: that is a
// normal end, not a crash with a stack. Nothing can be written any more, so the process just ends.
for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE') throw error;
        process.exit(0);
    });
}

runCli(process.argv.slice(2)).then(
    (code) => {
        process.exitCode = code;
    },
    (error: unknown) => {
        process.stderr.write(`local-ai: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
    },
);
