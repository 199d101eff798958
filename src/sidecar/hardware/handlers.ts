/**
 * The hardware requests: the report, and how each file of a model fits (HardwareRequest, FitRequest).
 */
import * as path from 'node:path';
import type { Connection } from 'vscode-languageserver/node';
import { ErrorCode, LocalAiError } from '../../common/errors';
import type { FitEstimate } from '../../common/hardware';
import type { ModelEntry, ModelFile } from '../../common/models';
import { FitRequest, HardwareRequest, type FitParams, type FitResult } from '../../common/protocol';
import type { SidecarContext } from '../context';
import { quantFromFileName } from '../models/hubUri';
import { onRequest } from '../rpc';
import type { HardwareService } from './index';

/** What FitRequest needs from the model registry, when it is wired. */
export interface FitModelResolver {
    resolve(model: string, quant?: string): Promise<{ entry: ModelEntry; file: ModelFile }>;
}

/** Where a hub file's bytes are, for estimating it over range requests (the models' HubClient). */
interface HubFiles {
    resolveUrl(repo: string, file: string, revision?: string): string;
    authHeaders(): Record<string, string>;
    /** The proxy-aware fetch every hub read goes through. */
    fetch: typeof fetch;
}

export interface HardwareHandlerServices {
    context: SidecarContext;
    hardware: HardwareService;
    /** The model list and the hub its files come from; without them only paths to GGUF files can be estimated. */
    models?: { registry: FitModelResolver; hub: HubFiles };
}

/** The quantization in a GGUF file name (`…-Q4_K_M.gguf`, as the hub names them), else the name itself. */
function quantOf(file: string): string {
    return quantFromFileName(file) ?? path.basename(file).replace(/\.gguf$/i, '');
}

/** Estimates a model's files: installed ones from their header, catalog ones from the catalog, hub ones over range requests. */
export async function estimateModel(s: HardwareHandlerServices, params: FitParams, signal?: AbortSignal): Promise<FitResult> {
    const { hardware } = s;
    await hardware.report();
    if (path.isAbsolute(params.model)) {
        const estimate = await hardware.estimateFile({ path: params.model }, params.contextSize, signal);
        return { estimates: [{ quant: quantOf(params.model), file: params.model, estimate }] };
    }
    if (!s.models) {
        throw new LocalAiError(ErrorCode.ModelNotFound, `${params.model} is not a path to a .gguf file, and the model list is not available.`, {
            hint: 'Give the absolute path of a GGUF file.',
        });
    }
    const { entry, file } = await s.models.registry.resolve(params.model, params.quant);
    const files = params.quant ? [file] : entry.files;
    const estimates: FitResult['estimates'] = [];
    for (const each of files) {
        let estimate: FitEstimate;
        if (each.path) estimate = await hardware.estimateFile({ path: each.path }, params.contextSize, signal);
        else if (entry.architecture) estimate = hardware.estimateCatalogFile(entry, each, params.contextSize);
        else if (entry.repo)
            estimate = await hardware.estimateFile(
                { url: s.models.hub.resolveUrl(entry.repo, each.file, entry.revision), headers: s.models.hub.authHeaders(), fetch: s.models.hub.fetch },
                params.contextSize,
                signal,
            );
        else continue;
        estimates.push({ quant: each.quant, file: each.file, estimate });
    }
    return { estimates };
}

export function registerHardwareHandlers(connection: Connection, s: HardwareHandlerServices): void {
    const log = s.context.log;
    onRequest(connection, log, HardwareRequest.type, (params) => s.hardware.report(params?.refresh === true));
    onRequest(connection, log, FitRequest.type, (params, signal) => {
        if (!params || typeof params.model !== 'string' || params.model.length === 0) {
            throw new LocalAiError(ErrorCode.InvalidParams, 'Name a model: a catalog id, a hf: URI or the path of a .gguf file.');
        }
        return estimateModel(s, params, signal);
    });
}
