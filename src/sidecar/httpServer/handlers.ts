/**
 * The local server in the sidecar process: a ServerHost over the services, its state on request
 * (ServerStateRequest) and pushed as it changes (ServerStateNotification).
 */
import type { Connection } from 'vscode-languageserver/node';
import { ServerStateNotification, ServerStateRequest } from '../../common/serverProtocol';
import { onRequest0 } from '../rpc';
import type { Services } from '../services';
import { createServerEngines } from './index';
import { ServerHost } from './serverHost';

/** Returns the host, for the server to dispose at shutdown; it starts listening when the settings say so. */
export function registerServerHandlers(connection: Connection, s: Services): ServerHost {
    const host = new ServerHost({
        context: s.context,
        engines: createServerEngines(s),
        publish: (state) => void connection.sendNotification(ServerStateNotification.type, state),
    });
    onRequest0(connection, s.context.log, ServerStateRequest.type, async () => host.state());
    void host.follow();
    return host;
}
