/**
 * Commands on models: pick the active one, load and unload, delete, quantization, where it lives,
 * custom models, the Hugging Face token, and the Models view's title actions. Downloads are in
 * downloads.ts. Each works from a tree row, with a model id, or from the palette by asking.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { DeleteModelRequest, LoadModelRequest, UnloadModelRequest, type LoadedModel } from '../../common/protocol';
import { hubEndpoint, type UserModelSetting } from '../../common/settings';
import { readSidecarSettings, SECTION } from '../config';
import type { ExtensionServices } from '../services';
import { formatBytes } from '../../common/format';
import { preferredFile } from '../views/modelFormat';
import type { ModelChoice } from '../views/modelsModel';
import { downloadCommands, downloadModel } from './downloads';
import type { CommandRow } from './commandRow';
import { choiceFromArgument, pickModel, pickQuantization, resolveChoice } from './modelPicks';

/** Makes a model the one chat uses (setting `localAi.defaultModel`, user level). */
async function useForChat(services: ExtensionServices, argument: unknown): Promise<ModelChoice | undefined> {
    const choice = await resolveChoice(services.models, argument, {
        title: 'Use for chat',
        placeholder: 'Pick the model chat answers with',
        choices: () => services.models.installed(),
        emptyMessage: 'no model is installed yet; download one first',
    });
    if (!choice) return undefined;
    // The file the user picked, not only the model: `id@QUANT` keeps a Q8_0 from turning back into the default Q4_K_M.
    const value = `${choice.entry.id}@${choice.file.quant}`;
    await vscode.workspace.getConfiguration(SECTION).update('defaultModel', value, vscode.ConfigurationTarget.Global);
    services.log.info(`Chat now uses ${choice.entry.name} ${choice.file.quant} (${value}).`);
    void services.models.refresh();
    return choice;
}

async function loadChoice(services: ExtensionServices, choice: ModelChoice): Promise<LoadedModel> {
    const { entry, file } = choice;
    const loaded = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Loading ${entry.name} ${file.quant}`, cancellable: true },
        (_progress, token) => services.sidecar.request(LoadModelRequest.type, { model: entry.id, quant: file.quant }, token),
    );
    services.log.info(
        `Loaded ${loaded.name} on the ${loaded.device} in ${Math.round(loaded.loadMs)} ms (context ${loaded.config.contextSize}, ${loaded.config.gpuLayers} GPU layers).`,
    );
    if (loaded.cpuFallbackReason) void vscode.window.showWarningMessage(`Local AI: ${loaded.name} runs on the CPU: ${loaded.cpuFallbackReason}`);
    return loaded;
}

/** The status bar's pick: switch the active model (and load it), with the fit badge of each. */
async function selectModel(services: ExtensionServices, argument: unknown): Promise<void> {
    const { models } = services;
    let choice = choiceFromArgument(models, argument);
    if (!choice) {
        if (!models.loaded) await models.refresh();
        if (models.error) throw new Error(`Could not list models: ${models.error}`);
        const picked = await pickModel(models, {
            title: 'Select the model chat uses',
            placeholder: models.installed().length > 0 ? 'Pick an installed model' : 'No model is installed yet',
            choices: models.installed(),
            extra: [
                { label: '', kind: vscode.QuickPickItemKind.Separator },
                { label: '$(cloud-download) Download a model…', command: 'localAi.downloadModel' },
                { label: '$(cloud) Use a cloud provider…', command: 'localAi.useCloudProvider' },
            ],
        });
        if (picked?.command) {
            await vscode.commands.executeCommand(picked.command);
            return;
        }
        choice = picked?.choice;
    }
    if (!choice) return;
    if (choice.file.state !== 'installed') {
        await downloadModel(services, { model: choice.entry.id, quant: choice.file.quant, name: choice.entry.name });
        return;
    }
    await useForChat(services, `${choice.entry.id}@${choice.file.quant}`);
    await loadChoice(services, choice);
}

async function loadModel(services: ExtensionServices, argument: unknown): Promise<void> {
    const choice = await resolveChoice(services.models, argument, {
        title: 'Load a model',
        placeholder: 'Pick the model to load into memory',
        choices: () => services.models.installed(),
        emptyMessage: 'no model is installed yet; download one first',
    });
    if (choice) await loadChoice(services, choice);
}

async function unloadModel(services: ExtensionServices, argument: unknown): Promise<void> {
    const choice = choiceFromArgument(services.models, argument);
    const { unloaded } = await services.sidecar.request(UnloadModelRequest.type, { model: choice?.entry.id });
    void vscode.window.showInformationMessage(
        unloaded.length > 0 ? `Local AI: unloaded ${unloaded.join(', ')}; its memory is free.` : 'Local AI: no model was loaded.',
    );
}

async function deleteModel(services: ExtensionServices, argument: unknown): Promise<void> {
    const choice = await resolveChoice(services.models, argument, {
        title: 'Delete a model',
        placeholder: 'Pick the model file to delete from disk',
        choices: () => services.models.installed(),
        emptyMessage: 'no model is installed',
    });
    if (!choice) return;
    const { entry, file } = choice;
    const size = file.state === 'partial' ? formatBytes(file.partialBytes ?? 0) : formatBytes(file.sizeBytes);
    const loaded = services.sidecar.status.activeModel;
    const inUse = loaded?.modelId === entry.id && (!loaded.quant || loaded.quant === file.quant);
    const answer = await vscode.window.showWarningMessage(
        `Delete ${entry.name} ${file.quant}?`,
        {
            modal: true,
            detail: `${size} will be removed from disk${file.path ? ` (${file.path})` : ''}.${inUse ? ' It is loaded now, so it is unloaded first.' : ''} You can download it again later.`,
        },
        'Delete',
    );
    if (answer !== 'Delete') return;
    // A loaded model keeps its file mapped: deleted under it, the file would hold its disk space and chat would
    // go on answering from a model that is gone. Unloaded first, both are freed.
    if (inUse) await services.sidecar.request(UnloadModelRequest.type, { model: entry.id });
    const { deletedFiles } = await services.sidecar.request(DeleteModelRequest.type, { model: entry.id, quant: file.quant });
    services.log.info(`Deleted ${deletedFiles.join(', ')}`);
    void services.models.refresh();
}

async function chooseQuantization(services: ExtensionServices, argument: unknown): Promise<void> {
    const { models } = services;
    const choice = await resolveChoice(models, argument, {
        title: 'Choose a quantization',
        placeholder: 'Pick a model',
        choices: () => models.models.flatMap((entry) => (entry.files.length > 0 ? [{ entry, file: preferredFile(entry)! }] : [])),
        emptyMessage: 'no model is known yet',
    });
    if (!choice) return;
    const file = await pickQuantization(models, choice.entry);
    if (!file) return;
    if (file.state === 'installed') {
        await useForChat(services, `${choice.entry.id}@${file.quant}`);
        await loadChoice(services, { entry: choice.entry, file });
    } else {
        await downloadModel(services, { model: choice.entry.id, quant: file.quant, name: choice.entry.name });
    }
}

async function openOnHub(services: ExtensionServices, argument: unknown): Promise<void> {
    const choice = await resolveChoice(services.models, argument, {
        title: 'Open on Hugging Face',
        placeholder: 'Pick a model',
        choices: () =>
            services.models.models
                .filter((entry) => entry.repo)
                .map((entry) => ({ entry, file: preferredFile(entry)! }))
                .filter((c) => c.file),
        emptyMessage: 'no model comes from Hugging Face',
    });
    if (!choice) return;
    if (!choice.entry.repo)
        throw new Error(
            `${choice.entry.name} does not come from Hugging Face (it was ${choice.entry.source === 'discovered' ? 'found on disk' : 'added from a file'}).`,
        );
    const hub = hubEndpoint(readSidecarSettings().hubEndpoint, process.env);
    await vscode.env.openExternal(vscode.Uri.parse(`${hub}/${choice.entry.repo}`));
}

async function revealModel(services: ExtensionServices, argument: unknown): Promise<void> {
    const choice = await resolveChoice(services.models, argument, {
        title: 'Reveal in File Explorer',
        placeholder: 'Pick a model file',
        choices: () => services.models.installed(),
        emptyMessage: 'no model is on disk yet',
    });
    if (!choice) return;
    const file = choice.file.path;
    if (!file) throw new Error(`${choice.entry.name} ${choice.file.quant} is not on disk yet.`);
    if (vscode.env.uiKind === vscode.UIKind.Desktop && vscode.env.remoteName === undefined) {
        await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(file));
        return;
    }
    // A browser or remote window cannot open a file manager where the file is ("revealFileInOS" exists only in
    // desktop windows, and the file is on the server): say where it is, and offer its path.
    const where = vscode.env.remoteName ? ` on ${vscode.env.remoteName}` : '';
    const picked = await vscode.window.showInformationMessage(`Local AI: ${choice.entry.name} ${choice.file.quant} is at ${file}${where}.`, 'Copy Path');
    if (picked === 'Copy Path') await vscode.env.clipboard.writeText(file);
}

async function addCustomModel(services: ExtensionServices, argument: unknown): Promise<void> {
    let source = typeof argument === 'string' ? argument : undefined;
    if (!source) {
        const kind = await vscode.window.showQuickPick(
            [
                { label: '$(file) A GGUF file on this computer…', id: 'file' },
                { label: '$(cloud) A model on Hugging Face…', description: 'hf:owner/repo/file.gguf or hf:owner/repo:Q4_K_M', id: 'hub' },
            ],
            { title: 'Add a custom model' },
        );
        if (kind?.id === 'file') {
            const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'GGUF models': ['gguf'] }, openLabel: 'Add Model' });
            source = picked?.[0]?.fsPath;
        } else if (kind?.id === 'hub') {
            source = await vscode.window.showInputBox({
                title: 'Add a model from Hugging Face',
                prompt: 'A GGUF file or a quantization of a repository',
                placeHolder: 'hf:owner/repo/file.gguf or hf:owner/repo:Q4_K_M',
                validateInput: (value) =>
                    /^hf:[^\s/]+\/[^\s/:]+([/:]\S+)?$/.test(value.trim()) ? undefined : 'Write it as hf:owner/repo/file.gguf or hf:owner/repo:Q4_K_M',
            });
        }
    }
    source = source?.trim();
    if (!source) return;
    if (!source.startsWith('hf:')) {
        if (!source.toLowerCase().endsWith('.gguf')) throw new Error(`${source} is not a .gguf file; Local AI runs GGUF models (llama.cpp).`);
        if (!fs.existsSync(source)) throw new Error(`${source} does not exist.`);
    }
    const config = vscode.workspace.getConfiguration(SECTION);
    const current = config.get<UserModelSetting[]>('models') ?? [];
    if (current.some((model) => model.source === source)) {
        void vscode.window.showInformationMessage(`Local AI: ${source} is already in your models.`);
        return;
    }
    await config.update('models', [...current, { source }], vscode.ConfigurationTarget.Global);
    services.log.info(`Added custom model ${source}`);
    void services.models.refresh();
    void vscode.window.showInformationMessage(`Local AI: added ${source} to localAi.models.`);
}

async function setHuggingFaceToken(services: ExtensionServices): Promise<void> {
    const token = await vscode.window.showInputBox({
        title: 'Hugging Face token',
        prompt: 'Needed only for gated models (accept the license on the model page first). Kept in the OS keychain, never in settings or logs.',
        placeHolder: 'hf_…',
        password: true,
        ignoreFocusOut: true,
        validateInput: (value) => (/^\S{8,}$/.test(value.trim()) ? undefined : 'Paste the whole token (no spaces)'),
    });
    if (!token) return;
    await services.secrets.setHuggingFaceToken(token.trim());
    void vscode.window.showInformationMessage('Local AI: Hugging Face token saved.');
}

async function clearHuggingFaceToken(services: ExtensionServices): Promise<void> {
    await services.secrets.setHuggingFaceToken(undefined);
    void vscode.window.showInformationMessage('Local AI: Hugging Face token removed.');
}

async function filterCatalog(services: ExtensionServices, argument: unknown): Promise<void> {
    const text =
        typeof argument === 'string'
            ? argument
            : await vscode.window.showInputBox({
                  title: 'Filter the catalog',
                  prompt: 'Shows catalog models whose name, family or tags contain this; empty shows all',
                  value: services.models.catalogFilter,
                  placeHolder: 'e.g. coder, qwen, small',
              });
    if (text !== undefined) services.models.setCatalogFilter(text);
}

export function modelCommands(services: ExtensionServices): CommandRow[] {
    return [
        ...downloadCommands(services),
        { id: 'localAi.selectModel', run: (argument?: unknown) => selectModel(services, argument) },
        { id: 'localAi.useForChat', run: (argument?: unknown) => useForChat(services, argument) },
        { id: 'localAi.loadModel', run: (argument?: unknown) => loadModel(services, argument) },
        { id: 'localAi.unloadModel', run: (argument?: unknown) => unloadModel(services, argument) },
        { id: 'localAi.deleteModel', run: (argument?: unknown) => deleteModel(services, argument) },
        { id: 'localAi.chooseQuantization', run: (argument?: unknown) => chooseQuantization(services, argument) },
        { id: 'localAi.openOnHub', run: (argument?: unknown) => openOnHub(services, argument) },
        { id: 'localAi.revealModel', run: (argument?: unknown) => revealModel(services, argument) },
        { id: 'localAi.addCustomModel', run: (argument?: unknown) => addCustomModel(services, argument) },
        { id: 'localAi.setHuggingFaceToken', run: () => setHuggingFaceToken(services) },
        { id: 'localAi.clearHuggingFaceToken', run: () => clearHuggingFaceToken(services) },
        { id: 'localAi.refreshModels', run: () => services.models.refresh(true) },
        { id: 'localAi.filterCatalog', run: (argument?: unknown) => filterCatalog(services, argument) },
    ];
}
