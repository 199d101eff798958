/**
 * The local server as the sidecar runs it: follows `settings.server` and `secrets.serverToken` (starts,
 * stops, or restarts on a new host or port; a new token or origin list applies to the next request),
 * and reports its ServerState: at once when it starts, stops or fails, at most once a second for the
 * request count.
 */
import type { SidecarSettings } from '../../common/settings';
import type { SidecarContext } from '../context';
import { LocalServer, type LocalServerOptions } from './localServer';
import type { ServerEngines } from './openAiRoutes';
import { isLoopbackHost, type ServerState } from '../../common/serverProtocol';

export interface ServerHostOptions {
    context: SidecarContext;
    engines: ServerEngines;
    /** Receives each new state (ServerStateNotification). */
    publish: (state: ServerState) => void;
    /** Passed to the server. */
    limits?: Pick<LocalServerOptions, 'maxBodyBytes' | 'maxPending'>;
}

/** What, when it changes, needs a new listener. */
type Binding = { host: string; port: number } | undefined;

export class ServerHost {
    private server: LocalServer | undefined;
    private binding: Binding;
    private current: ServerState = { running: false, requests: 0 };
    private requests = 0;
    private countTimer: NodeJS.Timeout | undefined;
    private lastCountSent = 0;
    private applying: Promise<void> = Promise.resolve();
    private disposed = false;
    private readonly onChange = () => void this.follow();

    constructor(private readonly options: ServerHostOptions) {
        options.context.on('settings', this.onChange);
        options.context.on('secrets', this.onChange);
    }

    state(): ServerState {
        return { ...this.current, requests: this.requests };
    }

    /** Brings the server in line with the settings; resolves once it listens, stopped, or failed. */
    follow(): Promise<void> {
        this.applying = this.applying.then(() => this.apply());
        return this.applying;
    }

    private wanted(settings: SidecarSettings): Binding {
        return settings.server.enabled && !this.disposed ? { host: settings.server.host, port: settings.server.port } : undefined;
    }

    private async apply(): Promise<void> {
        const { context } = this.options;
        const wanted = this.wanted(context.settings);
        const token = context.secrets.serverToken;
        const same = wanted && this.binding && wanted.host === this.binding.host && wanted.port === this.binding.port;
        if (same && token) return;
        if (!wanted && !this.binding && !this.current.problem) return;
        await this.stop();
        if (!wanted) return this.setState({ running: false, requests: this.requests });
        if (!token) {
            return this.setState({ running: false, requests: this.requests, problem: { kind: 'noToken', message: 'The local server has no token yet.' } });
        }
        if (!isLoopbackHost(wanted.host))
            context.log.warn(`The local server listens on ${wanted.host}: other machines on the network can reach it (with the token).`);
        const outcome = await LocalServer.start({
            engines: this.options.engines,
            log: context.log,
            host: wanted.host,
            port: wanted.port,
            token: () => context.secrets.serverToken ?? '',
            allowedOrigins: () => context.settings.server.allowedOrigins,
            onAnswered: () => this.counted(),
            ...this.options.limits,
        });
        if (outcome.kind !== 'listening') {
            context.log.warn(`The local server did not start: ${outcome.message}`);
            const address = outcome.kind === 'error' ? undefined : outcome.address;
            return this.setState({ running: false, address, requests: this.requests, problem: { kind: outcome.kind, message: outcome.message } });
        }
        this.server = outcome.server;
        this.binding = wanted;
        context.log.info(`The local server listens at ${outcome.server.address}.`);
        this.setState({ running: true, address: outcome.server.address, requests: this.requests });
    }

    private async stop(): Promise<void> {
        const server = this.server;
        this.server = undefined;
        this.binding = undefined;
        if (server) {
            await server.close();
            this.options.context.log.info('The local server stopped.');
        }
    }

    private setState(state: ServerState): void {
        this.current = state;
        this.send();
    }

    private send(): void {
        if (this.countTimer) clearTimeout(this.countTimer);
        this.countTimer = undefined;
        this.lastCountSent = Date.now();
        this.options.publish(this.state());
    }

    /** Answers arrive many times a second under load: the count goes out at most once a second. */
    private counted(): void {
        this.requests++;
        if (this.countTimer) return;
        const wait = Math.max(0, this.lastCountSent + 1000 - Date.now());
        this.countTimer = setTimeout(() => this.send(), wait);
        this.countTimer.unref();
    }

    /** Idempotent: stops listening. */
    async dispose(): Promise<void> {
        if (this.disposed) return;
        this.disposed = true;
        this.options.context.off('settings', this.onChange);
        this.options.context.off('secrets', this.onChange);
        if (this.countTimer) clearTimeout(this.countTimer);
        await this.follow();
    }
}
