// The one way the set-up scripts run a command: its output on this terminal, a rejection that
// names the command, the folder and how it ended.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * @param {string} command
 * @param {string[]} args
 * @param {object} [options]
 * @param {string} [options.cwd] default: the repository
 * @param {Record<string, string | undefined>} [options.env] added to this process's environment
 * @returns {Promise<void>}
 */
export function run(command, args, { cwd = repoRoot, env = {} } = {}) {
    return new Promise((resolvePromise, reject) => {
        const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
        child.on('error', reject);
        child.on('exit', (code, signal) =>
            code === 0 ? resolvePromise() : reject(new Error(`${command} ${args.join(' ')} (in ${cwd}) failed: ${signal ?? `exit ${code}`}`)),
        );
    });
}
