/**
 * The curated catalog (models/catalog.json, bundled into the sidecar so it works offline) as
 * ModelEntry values with every file 'available'; the registry fills in what is on disk.
 */
import catalogJson from '../../../models/catalog.json';
import type { ModelArchitecture, ModelEntry, ModelPresets } from '../../common/models';

/** One model as catalog.json stores it (validated against models/catalog.schema.json in the tests). */
export interface CatalogModel {
    id: string;
    name: string;
    family: string;
    repo: string;
    revision?: string;
    parametersB: number;
    architecture: ModelArchitecture;
    contextLength: number;
    license: string;
    gated: boolean;
    quality: number;
    speed: number;
    tags: string[];
    /** Fill-in-the-middle tokens in its GGUF: it can serve code completion. */
    fim?: boolean;
    description: string;
    presets: ModelPresets;
    defaultQuant: string;
    files: { quant: string; file: string; sizeBytes: number; sha256?: string }[];
}

export interface CatalogFile {
    version: number;
    models: CatalogModel[];
}

export function catalogModels(): CatalogModel[] {
    return (catalogJson as CatalogFile).models;
}

/** Fresh entries on every call: the registry decorates them with state. */
export function catalogEntries(models: CatalogModel[] = catalogModels()): ModelEntry[] {
    return models.map((model) => ({
        ...model,
        revision: model.revision ?? 'main',
        source: 'catalog',
        tags: [...model.tags],
        files: model.files.map((file) => ({ ...file, state: 'available' })),
    }));
}
