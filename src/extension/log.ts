/** The one "Local AI" log channel, shared by the extension and (through the language client) the sidecar. */
import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

export function logChannel(): vscode.LogOutputChannel {
    channel ??= vscode.window.createOutputChannel('Local AI', { log: true });
    return channel;
}

/** Replaces every known secret value in `text` with a mask, so no log or trace line carries one. */
export class SecretRedactor {
    private secrets: string[] = [];

    setSecrets(values: (string | undefined)[]): void {
        this.secrets = values.filter((value): value is string => !!value && value.length >= 4);
    }

    redact(text: string): string {
        let result = text;
        for (const secret of this.secrets) result = result.split(secret).join('••••');
        return result;
    }
}

/**
 * A LogOutputChannel that redacts secrets before writing: the language client writes the sidecar's
 * logs and the protocol trace through it, and settings/secrets travel over that protocol.
 */
export function redactingChannel(target: vscode.LogOutputChannel, redactor: SecretRedactor): vscode.LogOutputChannel {
    const scrub = (message: string | Error) => (typeof message === 'string' ? redactor.redact(message) : new Error(redactor.redact(message.message)));
    return new Proxy(target, {
        get(object, property, receiver) {
            switch (property) {
                case 'append':
                case 'appendLine':
                case 'replace':
                    return (value: string) => object[property](redactor.redact(value));
                case 'trace':
                case 'debug':
                case 'info':
                case 'warn':
                    return (message: string, ...args: unknown[]) =>
                        object[property](redactor.redact(message), ...args.map((arg) => (typeof arg === 'string' ? redactor.redact(arg) : arg)));
                case 'error':
                    return (message: string | Error, ...args: unknown[]) => object.error(scrub(message), ...args);
                default:
                    return Reflect.get(object, property, receiver);
            }
        },
    });
}
