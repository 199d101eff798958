/**
 * The sidecar process: a vscode-languageserver connection over stdio that answers the Local AI
 * protocol. Thin on purpose: it builds the services and registers each domain's handlers.
 * stdout carries only the protocol; logs go through the connection.
 */
import { createConnection, ProposedFeatures, TextDocumentSyncKind } from 'vscode-languageserver/node';
import type { SidecarInitOptions } from '../common/protocol';
import { SecretsChangedNotification, SettingsChangedNotification, SidecarInfoRequest, StatusNotification } from '../common/protocol';
import { onRequest0 } from './rpc';
import { defaultSettings } from '../common/settings';
import { SidecarContext, type Logger } from './context';
import { createServices, disposeServices, type Services } from './services';
import { registerHardwareHandlers } from './hardware/handlers';
import { registerModelHandlers } from './models/handlers';
import { registerEngineHandlers } from './chat/handlers';
import { registerFallbackHandlers } from './chat/fallbackHandlers';
import { registerGpuHandlers } from './gpu/handlers';
import { registerCompletionHandlers } from './completion/handlers';
import { registerServerHandlers } from './httpServer/handlers';
import type { ServerHost } from './httpServer/serverHost';
import { consoleToStderr, StdioMessageWriter } from './stdioWriter';

const SIDECAR_VERSION = '0.1.0';
consoleToStderr();
// stdin as a stream, so that vscode-languageserver still exits when the editor closes it; stdout through a
// writer that frames each message in one write (stdioWriter.ts). At run time the library wraps each side only
// where it is a stream (vscode-jsonrpc's createMessageConnection); its types name only matching pairs.
const connection = createConnection(ProposedFeatures.all, process.stdin, new StdioMessageWriter(process.stdout) as unknown as NodeJS.WritableStream);

const log: Logger = {
    error: (message) => connection.console.error(message),
    warn: (message) => connection.console.warn(message),
    info: (message) => connection.console.info(message),
    debug: (message) => connection.console.log(message),
};

let services: Services | undefined;
let localServer: ServerHost | undefined;

connection.onInitialize((params) => {
    const init = params.initializationOptions as SidecarInitOptions | undefined;
    const context = new SidecarContext({
        log,
        settings: init?.settings ?? defaultSettings(),
        secrets: init?.secrets ?? { providerKeys: {} },
        defaultModelsPath: init?.defaultModelsPath ?? '',
        statePath: init?.statePath ?? '',
        gpuBackendsPath: init?.gpuBackendsPath,
        publishStatus: (status) => void connection.sendNotification(StatusNotification.type, status),
    });
    services = createServices(context);
    registerHandlers(services);
    return { capabilities: { textDocumentSync: TextDocumentSyncKind.None }, serverInfo: { name: 'local-ai-sidecar' } };
});

connection.onInitialized(() => {
    services?.context.status.setHealth('ready', 'Ready');
    log.info(`Sidecar ready (pid ${process.pid}, node ${process.version}).`);
});

function registerHandlers(s: Services): void {
    connection.onNotification(SettingsChangedNotification.type, (settings) => s.context.updateSettings(settings));
    connection.onNotification(SecretsChangedNotification.type, (secrets) => s.context.updateSecrets(secrets));
    onRequest0(connection, log, SidecarInfoRequest.type, async () => ({
        pid: process.pid,
        version: SIDECAR_VERSION,
        node: process.version,
        modelsPath: s.context.modelsPath,
    }));
    registerHardwareHandlers(connection, s);
    registerModelHandlers(connection, s);
    registerEngineHandlers(connection, { context: s.context, local: s.local, router: s.chat });
    registerFallbackHandlers(connection, s);
    registerGpuHandlers(connection, s);
    registerCompletionHandlers(connection, s);
    localServer = registerServerHandlers(connection, s);
}

connection.onShutdown(async () => {
    await localServer?.dispose();
    if (services) await disposeServices(services);
});

connection.listen();
