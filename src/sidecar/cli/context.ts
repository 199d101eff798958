/** The sidecar context for a CLI run: logs to stderr (debug only with --verbose), settings from the environment. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode, LocalAiError } from '../../common/errors';
import { defaultSettings } from '../../common/settings';
import { SidecarContext, type Logger } from '../context';
import { FILE_SYSTEM_HINT, fileSystemError } from '../models/fileSystemError';
import { createServices, type Services } from '../services';

/** Where the CLI keeps models when neither --models-dir nor LOCAL_AI_MODELS_PATH says otherwise. */
export function defaultCliModelsPath(): string {
    return path.join(os.homedir(), '.local-ai', 'models');
}

export interface CliContextOptions {
    /** --models-dir; default LOCAL_AI_MODELS_PATH, then ~/.local-ai/models. */
    modelsDir?: string;
    /** --verbose: debug logs on stderr. Default false. */
    verbose?: boolean;
    /** --backends-dir: where GPU backends are fetched to; default LOCAL_AI_GPU_DIR, then ~/.local-ai/gpu-backends. */
    backendsDir?: string;
}

export function createCliServices(options: CliContextOptions = {}): Services {
    const write = (level: string) => (message: string) => process.stderr.write(`[${level}] ${message}\n`);
    const log: Logger = {
        error: write('error'),
        warn: write('warn'),
        info: options.verbose ? write('info') : () => undefined,
        debug: options.verbose ? write('debug') : () => undefined,
    };
    const settings = defaultSettings();
    settings.modelsPath = options.modelsDir ?? '';
    settings.hubEndpoint = process.env.HF_ENDPOINT ?? '';
    settings.proxy = process.env.HTTPS_PROXY ?? process.env.https_proxy ?? '';
    settings.offline = process.env.LOCAL_AI_OFFLINE === '1' || process.env.HF_HUB_OFFLINE === '1';
    const context = new SidecarContext({
        log,
        settings,
        secrets: { huggingFaceToken: process.env.HF_TOKEN, providerKeys: {} },
        defaultModelsPath: defaultCliModelsPath(),
        statePath: path.join(os.homedir(), '.local-ai', 'state'),
        gpuBackendsPath: options.backendsDir,
    });
    checkModelsFolder(context.modelsPath);
    return createServices(context);
}

/**
 * A models folder that is a file, or that the file system refuses, fails every command up front with
 * its own exit code: `list` would otherwise show nothing installed, and `download` fail as a network error.
 * A folder that does not exist yet is fine: the first download creates it.
 */
function checkModelsFolder(folder: string): void {
    let stats: fs.Stats;
    try {
        stats = fs.statSync(folder);
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw fileSystemError(error, folder) ?? error;
    }
    if (!stats.isDirectory())
        throw new LocalAiError(ErrorCode.FileSystemError, `The models folder ${folder} is a file, not a folder.`, { file: folder, hint: FILE_SYSTEM_HINT });
}
