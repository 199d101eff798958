/**
 * The one node-llama-cpp `Llama` per process, created lazily with the GPU mode from the
 * settings, its logs (llama.cpp's, and node-llama-cpp's own console lines) forwarded to the sidecar's logger.
 *
 * node-llama-cpp (native code, external to the bundle) is imported on first use, so the
 * sidecar answers its first requests without waiting for the binaries to load.
 */
import * as os from 'node:os';
import { stripVTControlCharacters } from 'node:util';
import type { Llama, LlamaLogLevel } from 'node-llama-cpp';
import type { ComputeBackend, FetchableGpuBackend, GpuMode } from '../../common/hardware';
import type { Logger } from '../context';
import { registerGpuResolver } from './backendResolver';
import { threadsForCores } from './threads';

export type NodeLlamaCpp = typeof import('node-llama-cpp');

let nodeLlamaCpp: Promise<NodeLlamaCpp> | undefined;

/** The node-llama-cpp module, imported once, after the GPU backends' resolve hook (backendResolver.ts) is in place. */
export function importNodeLlamaCpp(): Promise<NodeLlamaCpp> {
    registerGpuResolver();
    nodeLlamaCpp ??= import('node-llama-cpp');
    return nodeLlamaCpp;
}

function forwardLog(log: Logger, level: LlamaLogLevel, message: string): void {
    const text = message.trimEnd();
    if (text.length === 0) return;
    switch (level) {
        case 'fatal':
        case 'error':
            log.error(`llama.cpp: ${text}`);
            break;
        case 'warn':
            log.warn(`llama.cpp: ${text}`);
            break;
        case 'info':
            log.info(`llama.cpp: ${text}`);
            break;
        default:
            log.debug(`llama.cpp: ${text}`);
    }
}

const CONSOLE_PREFIX = '[node-llama-cpp]';
let consoleLog: Logger | undefined;
/** While a backend is being tried: node-llama-cpp's console lines, its only account of why a binary did not load. */
let consoleCapture: string[] | undefined;

/** One plain line from console arguments: colours stripped, an Error as its message (never its stack). */
function consoleLine(args: unknown[]): string {
    const text = args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(' ');
    return stripVTControlCharacters(text).slice(CONSOLE_PREFIX.length).replace(/\s+/g, ' ').trim();
}

/**
 * node-llama-cpp writes some messages with console.* rather than through the logger getLlama takes (a
 * prebuilt binary that will not load, a chat wrapper it falls back from, an Error with its stack). Its lines
 * start with its prefix; those go to `log` as one plain line each, and everything else reaches the console
 * untouched. Installed once per process; the latest logger wins.
 */
export function forwardNodeLlamaCppConsole(log: Logger): void {
    const installed = consoleLog !== undefined;
    consoleLog = log;
    if (installed) return;
    const levels = { error: 'warn', warn: 'warn', info: 'info', log: 'info', debug: 'debug' } as const;
    for (const [method, level] of Object.entries(levels) as [keyof typeof levels, 'warn' | 'info' | 'debug'][]) {
        const original = console[method].bind(console);
        console[method] = (...args: unknown[]) => {
            const first = typeof args[0] === 'string' ? stripVTControlCharacters(args[0]) : '';
            // node-llama-cpp falls back after each of these; none stops the product, so none is an error here.
            if (first.startsWith(CONSOLE_PREFIX)) consoleCapture?.push(consoleLine(args));
            if (consoleLog && first.startsWith(CONSOLE_PREFIX)) consoleLog[level](`node-llama-cpp: ${consoleLine(args)}`);
            else original(...args);
        };
    }
}

export interface LlamaRuntimeOptions {
    log: Logger;
    /** Which backend to ask node-llama-cpp for. Default: 'auto'. */
    gpu?: GpuMode;
    /**
     * GPU backends fetched on demand (gpu/), best first. In 'auto' mode each is asked for by name before anything
     * else, so a failure is node-llama-cpp's error rather than a silent CPU fallback. Default: none.
     */
    fetchedBackends?: () => Promise<FetchableGpuBackend[]>;
}

/** A fetched backend node-llama-cpp was asked for and could not load. */
export interface BackendLoadFailure {
    backend: FetchableGpuBackend;
    /** In plain words, with node-llama-cpp's own reason. */
    reason: string;
}

/**
 * Owns the process's `Llama`: create one per process and share it (node-llama-cpp's native
 * binding is process-wide; disposing a second instance tears it down under the first).
 * A changed GPU mode takes effect after `dispose()`, which comes after the models are disposed.
 */
export class LlamaRuntime {
    private llama: Promise<Llama> | undefined;
    private gpu: GpuMode;
    private readonly log: Logger;
    private readonly fetchedBackends: () => Promise<FetchableGpuBackend[]>;
    private failure: BackendLoadFailure | undefined;
    private active: ComputeBackend | undefined;

    constructor(options: LlamaRuntimeOptions) {
        this.log = options.log;
        this.gpu = options.gpu ?? 'auto';
        this.fetchedBackends = options.fetchedBackends ?? (async () => []);
        forwardNodeLlamaCppConsole(options.log);
    }

    get gpuMode(): GpuMode {
        return this.gpu;
    }

    /** What llama.cpp runs on; undefined until the instance was created. */
    get activeBackend(): ComputeBackend | undefined {
        return this.active;
    }

    /** The fetched backend that did not load in this process, if any. */
    get loadFailure(): BackendLoadFailure | undefined {
        return this.failure;
    }

    /** The shared instance; never builds llama.cpp from source (prebuilt binaries only). */
    get(): Promise<Llama> {
        this.llama ??= this.create().catch((error: unknown) => {
            this.llama = undefined;
            throw error;
        });
        return this.llama;
    }

    /** Records a new GPU mode; returns true when it differs and a restart of the runtime is needed. */
    setGpuMode(gpu: GpuMode): boolean {
        if (gpu === this.gpu) return false;
        this.gpu = gpu;
        return this.llama !== undefined;
    }

    private async create(): Promise<Llama> {
        const { getLlama, LlamaLogLevel } = await importNodeLlamaCpp();
        const log = this.log;
        const options = {
            build: 'never' as const,
            logLevel: LlamaLogLevel.warn,
            logger: (level: LlamaLogLevel, message: string) => forwardLog(log, level, message),
        };
        const gpu = this.gpu === 'off' ? false : this.gpu;
        this.failure = undefined;
        const fetched = gpu === false ? [] : (await this.fetchedBackends()).filter((backend) => gpu === 'auto' || gpu === backend);
        for (const backend of fetched) {
            const said: string[] = [];
            consoleCapture = said;
            try {
                return this.started(await getLlama({ ...options, gpu: backend }));
            } catch (error) {
                this.failure = { backend, reason: loadFailureReason(backend, said, error) };
                this.log.warn(`${this.failure.reason} Running on the CPU.`);
            } finally {
                consoleCapture = undefined;
            }
        }
        if (this.failure) return this.started(await getLlama({ ...options, gpu: false }));
        try {
            return this.started(await getLlama({ ...options, gpu }));
        } catch (error) {
            if (gpu === false) throw error;
            const reason = error instanceof Error ? error.message : String(error);
            this.log.warn(`The ${gpu} backend could not start (${reason}); running on the CPU.`);
            return this.started(await getLlama({ ...options, gpu: false }));
        }
    }

    private started(llama: Llama): Llama {
        this.active = llama.gpu === false ? 'cpu' : llama.gpu;
        return llama;
    }

    /** Idempotent; models created from the instance must be disposed first. */
    async dispose(): Promise<void> {
        const llama = this.llama;
        this.llama = undefined;
        if (llama) await (await llama.catch(() => undefined))?.dispose();
    }
}

/**
 * Why a fetched backend did not load, in plain words: node-llama-cpp tests a prebuilt binary in a child process
 * and, when the test fails (no driver, a driver too old for the binary's CUDA, missing libraries), prints one
 * line and throws NoBinaryFoundError; both are quoted.
 */
export function loadFailureReason(backend: FetchableGpuBackend, said: string[], error: unknown): string {
    const name = backend === 'cuda' ? 'CUDA' : 'Vulkan';
    const thrown = error instanceof Error ? error.message : String(error);
    const lines = said.filter((line) => line.length > 0);
    const words = lines.length > 0 ? `node-llama-cpp says: "${lines.join(' ')}" (${thrown})` : `node-llama-cpp says: ${thrown}`;
    // The binary test fails, in practice, for want of the driver the build needs.
    const meaning =
        backend === 'cuda' ? 'Usually this means no NVIDIA driver, or one too old for this CUDA build.' : 'Usually this means no working Vulkan driver.';
    return `The ${name} build of llama.cpp was found but did not load: ${words}. ${meaning}`;
}

/**
 * Threads when no hardware report is at hand: the same rule as the automatic configuration, from
 * llama.cpp's math cores. node-llama-cpp's own default oversubscribes small machines badly (on 2 cores,
 * 4 threads made 100 tokens take ~23 s instead of 0.05 s), so the engine always passes an explicit count.
 */
export function safeThreadCount(llama: Llama): number {
    return threadsForCores({ physicalCores: llama.cpuMathCores, mathCores: llama.cpuMathCores, logicalCores: os.availableParallelism() });
}
