/**
 * `local-ai serve [--port N] [--host 127.0.0.1] [--models-dir DIR]`: the OpenAI-compatible server of
 * src/sidecar/httpServer without VS Code. The token comes from LOCAL_AI_SERVER_TOKEN, or is generated
 * and printed once. Prints the address, logs one line per request on stderr, stops on SIGINT/SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_SERVER_HOST, DEFAULT_SERVER_PORT, isLoopbackHost } from '../../common/serverProtocol';
import { createServerEngines, LocalServer } from '../httpServer/index';
import { disposeServices } from '../services';
import { defineCommand } from './commandLine';
import { createCliServices } from './context';

const spec = {
    name: 'serve',
    summary: 'Serve local models over an OpenAI-compatible API',
    options: {
        port: { type: 'integer', value: 'N', min: 0, max: 65535, description: `the port (default ${DEFAULT_SERVER_PORT}; 0 picks a free one)` },
        host: { type: 'string', value: 'ADDRESS', description: `the address to listen on (default ${DEFAULT_SERVER_HOST}: this machine only)` },
        'allowed-origin': { type: 'string', value: 'ORIGIN', description: 'a browser origin allowed to call it (default: none)' },
        'max-pending': { type: 'integer', value: 'N', min: 1, max: 10_000, description: 'requests running or queued at most; more get 429 (default 64)' },
        threads: { type: 'integer', value: 'N', min: 1, max: 1024, description: 'CPU threads for generation (default: one per physical core)' },
        'models-dir': { type: 'string', value: 'DIR', description: 'where models are kept (default LOCAL_AI_MODELS_PATH or ~/.local-ai/models)' },
        verbose: { type: 'boolean', description: 'engine logs on stderr' },
    },
    optionColumn: 24,
    footer: 'Clients authenticate with Authorization: Bearer <token>; the token comes from LOCAL_AI_SERVER_TOKEN, or a new one is printed at start.',
} as const;

export const serveCommand = defineCommand(spec, async ({ values }) => {
    const host = values.host ?? DEFAULT_SERVER_HOST;
    const services = createCliServices({ modelsDir: values['models-dir'], verbose: values.verbose });
    const { context } = services;
    if (values.threads !== undefined) context.updateSettings({ ...context.settings, threads: values.threads });
    const given = process.env.LOCAL_AI_SERVER_TOKEN;
    const token = given || randomBytes(24).toString('base64url');
    // Requests are logged whatever --verbose says: that log is what a user of a server watches.
    const requestLog = { ...context.log, info: (message: string) => process.stderr.write(`${message}\n`) };
    const outcome = await LocalServer.start({
        engines: createServerEngines(services),
        log: requestLog,
        host,
        port: values.port ?? DEFAULT_SERVER_PORT,
        token: () => token,
        allowedOrigins: () => (values['allowed-origin'] ? [values['allowed-origin']] : []),
        maxPending: values['max-pending'],
    });
    if (outcome.kind !== 'listening') {
        await disposeServices(services);
        process.stderr.write(`local-ai serve: ${outcome.message}\n`);
        return 1;
    }
    const server = outcome.server;
    if (!isLoopbackHost(host)) process.stderr.write(`Warning: listening on ${host}: other machines on the network can reach this server (with the token).\n`);
    process.stdout.write(`Local AI serves at ${server.address}\n`);
    if (!given) process.stdout.write(`Token (shown once; set LOCAL_AI_SERVER_TOKEN to choose it): ${token}\n`);
    // `on`, not `once`: a `once` listener is gone when the signal is delivered, and signal-exit (which
    // node-llama-cpp's dependencies install) then finds itself alone and kills the process with the signal.
    let stop: (signal: NodeJS.Signals) => void = () => undefined;
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
        stop = resolve;
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
    });
    process.stderr.write(`${signal}: stopping.\n`);
    try {
        await server.close();
        await disposeServices(services);
    } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
    }
    return 0;
});
