/**
 * Typed events that only their owner fires: a service extends `Emitter<{ name: [args] }>` and calls
 * the protected `emit`; everyone else can only listen. Others that need the owner to say something
 * call one of the owner's methods, which decides.
 */
import { EventEmitter } from 'node:events';

export class Emitter<Events extends Record<keyof Events, unknown[]>> {
    private readonly emitter = new EventEmitter();

    on<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this {
        this.emitter.on(event, listener as (...args: unknown[]) => void);
        return this;
    }

    off<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this {
        this.emitter.off(event, listener as (...args: unknown[]) => void);
        return this;
    }

    /** Drops every listener: for the owner's dispose(). */
    protected removeAllListeners(): void {
        this.emitter.removeAllListeners();
    }

    protected emit<K extends keyof Events & string>(event: K, ...args: Events[K]): void {
        this.emitter.emit(event, ...args);
    }
}
