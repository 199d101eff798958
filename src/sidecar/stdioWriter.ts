/**
 * The sidecar's side of stdio, for the JSON-RPC connection (server.ts).
 *
 * An answer streams as one notification per token on a slow model (chat/textBatcher.ts), so a message's cost
 * is paid on every token. vscode-jsonrpc's stream writer takes a lock, encodes through a chain of promises and
 * writes the header and the body as two writes, the body only once the header's write has called back: about
 * 0.2 ms of the main thread per message here (a `--cpu-prof` of 1,024 streamed tokens: 184 ms in its write
 * path, of 1.5 s busy). This writer frames the message and writes it once. The stream keeps the order, since
 * nothing waits between two writes.
 *
 * Handing the connection a writer of our own turns off vscode-languageserver's `--stdio` console patch, which
 * keeps a stray `console.log` (ours or a dependency's) off the protocol's stdout: `consoleToStderr` does the
 * same, to stderr, which the editor's client shows in the sidecar's log.
 */
import { Console } from 'node:console';
import { AbstractMessageWriter, type Message, type MessageWriter } from 'vscode-languageserver/node';

export class StdioMessageWriter extends AbstractMessageWriter implements MessageWriter {
    private errorCount = 0;

    constructor(private readonly stream: NodeJS.WritableStream) {
        super();
        stream.on('error', (error: Error) => this.fireError(error));
        stream.on('close', () => this.fireClose());
    }

    write(message: Message): Promise<void> {
        const json = JSON.stringify(message);
        const frame = `Content-Length: ${Buffer.byteLength(json, 'utf8')}\r\n\r\n${json}`;
        return new Promise((resolve, reject) => {
            this.stream.write(frame, 'utf8', (error) => {
                if (!error) return resolve();
                this.fireError(error, message, ++this.errorCount);
                reject(error);
            });
        });
    }

    end(): void {
        this.stream.end();
    }
}

/** Sends every console method (log, info, warn, error, debug, trace, dir, table…) to stderr instead of stdout. */
export function consoleToStderr(): void {
    const toStderr = new Console({ stdout: process.stderr, stderr: process.stderr });
    const target = console as unknown as Record<string, unknown>;
    for (const [name, method] of Object.entries(toStderr)) {
        if (typeof method === 'function') target[name] = method.bind(toStderr);
    }
}
