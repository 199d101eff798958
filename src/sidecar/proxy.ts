/**
 * The HTTP proxy for every network call (the hub, its CDN, the providers): VS Code's `http.proxy` (the `proxy` setting) when set, else
 * HTTPS_PROXY / HTTP_PROXY; NO_PROXY is honoured in both cases (NO_PROXY=localhost,127.0.0.1 keeps a
 * local Ollama off a corporate proxy).
 */
import { EnvHttpProxyAgent, type Dispatcher } from 'undici';

let current: { proxy: string; dispatcher: Dispatcher } | undefined;

/** One dispatcher per process for the current setting; a changed setting closes the old one once its requests end. */
export function proxyDispatcher(proxy: string): Dispatcher {
    if (current?.proxy !== proxy) {
        void current?.dispatcher.close().catch(() => undefined);
        const dispatcher = proxy ? new EnvHttpProxyAgent({ httpProxy: proxy, httpsProxy: proxy }) : new EnvHttpProxyAgent();
        current = { proxy, dispatcher };
    }
    return current.dispatcher;
}
