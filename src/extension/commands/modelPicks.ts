/**
 * Finds the model a command is about: the tree row it was run on, a model id passed by another
 * command, or — from the Command Palette — a quick pick that shows each model's fit badge.
 */
import * as vscode from 'vscode';
import type { ModelEntry, ModelFile } from '../../common/models';
import { describeFile, fitBadge, fitSentence, preferredFile } from '../views/modelFormat';
import type { ModelChoice, ModelsModel } from '../views/modelsModel';
import type { ModelNode } from '../views/modelsTree';

/** What a model command may receive: a tree row, a model id (`id` or `id@QUANT`), or nothing. */
export function choiceFromArgument(model: ModelsModel, argument: unknown): ModelChoice | undefined {
    if (isModelNode(argument)) {
        // The row may be stale (the list changed since it was drawn): prefer the current entry.
        const entry = model.find(argument.entry.id) ?? argument.entry;
        const file = entry.files.find((candidate) => candidate.quant === argument.file.quant) ?? argument.file;
        return { entry, file };
    }
    if (typeof argument === 'string' && argument) {
        const at = argument.lastIndexOf('@');
        const [id, quant] = at > 0 ? [argument.slice(0, at), argument.slice(at + 1)] : [argument, undefined];
        const entry = model.find(id);
        const file = entry && preferredFile(entry, quant);
        return entry && file ? { entry, file } : undefined;
    }
    return undefined;
}

function isModelNode(value: unknown): value is ModelNode {
    return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'model' && 'entry' in value && 'file' in value;
}

export interface ModelPickItem extends vscode.QuickPickItem {
    choice?: ModelChoice;
    /** A `hf:` URI the user typed. */
    uri?: string;
    /** Runs instead of returning a choice (e.g. "Download a model…"). */
    command?: string;
}

export function modelPickItem(model: ModelsModel, entry: ModelEntry, file: ModelFile): ModelPickItem {
    const badge = fitBadge(file.fit);
    const marks: string[] = [];
    if (model.isActive(entry, file)) marks.push('active');
    if (entry.id === model.recommendation?.modelId) marks.push('recommended');
    if (file.state === 'partial') marks.push('partly downloaded');
    return {
        label: `$(${badge.icon}) ${entry.name}`,
        description: [...marks, describeFile(entry, file)].join(' · '),
        detail: fitSentence(file.fit),
        choice: { entry, file },
    };
}

export interface PickOptions {
    title: string;
    placeholder: string;
    /** The models offered; each shown with its preferred file. */
    choices: ModelChoice[];
    /** Accept a `hf:` URI typed into the box. Default: false. */
    acceptHubUri?: boolean;
    /** Extra rows after the models (e.g. "Download a model…"). Default: none. */
    extra?: ModelPickItem[];
    /** Said instead of an empty pick, e.g. "No model is installed yet". Default: "No model to pick". */
    emptyMessage?: string;
}

/** A quick pick of models; resolves to the picked row, or undefined when dismissed. */
export function pickModel(model: ModelsModel, options: PickOptions): Promise<ModelPickItem | undefined> {
    const quickPick = vscode.window.createQuickPick<ModelPickItem>();
    quickPick.title = options.title;
    quickPick.placeholder = options.placeholder;
    quickPick.matchOnDescription = true;
    const base = [...options.choices.map(({ entry, file }) => modelPickItem(model, entry, file)), ...(options.extra ?? [])];
    quickPick.items = base;
    return new Promise((resolve) => {
        const disposables: vscode.Disposable[] = [
            quickPick.onDidChangeValue((value) => {
                if (!options.acceptHubUri) return;
                const uri = value.trim();
                const typed: ModelPickItem[] = /^hf:[^\s/]+\/[^\s/:]+/.test(uri)
                    ? [{ label: `$(cloud-download) ${uri}`, description: 'Download from Hugging Face', alwaysShow: true, uri }]
                    : [];
                quickPick.items = [...typed, ...base];
            }),
            quickPick.onDidAccept(() => {
                resolve(quickPick.selectedItems[0]);
                quickPick.hide();
            }),
            quickPick.onDidHide(() => {
                resolve(undefined);
                for (const disposable of disposables) disposable.dispose();
                quickPick.dispose();
            }),
        ];
        quickPick.show();
    });
}

/** The argument's model, or the user's pick among `choices`; undefined when the user dismissed the pick. */
export async function resolveChoice(
    model: ModelsModel,
    argument: unknown,
    options: Omit<PickOptions, 'acceptHubUri' | 'choices'> & { choices: () => ModelChoice[] },
): Promise<ModelChoice | undefined> {
    const fromArgument = choiceFromArgument(model, argument);
    if (fromArgument) return fromArgument;
    if (typeof argument === 'string' && argument) throw new Error(`No model "${argument}" is known. Run "Local AI: Refresh Models" or check the id.`);
    if (!model.loaded) await model.refresh();
    if (model.error) throw new Error(`Could not list models: ${model.error}`);
    const choices = options.choices();
    if (choices.length === 0) {
        void vscode.window.showInformationMessage(`Local AI: ${options.emptyMessage ?? 'No model to pick'}.`);
        return undefined;
    }
    return (await pickModel(model, { ...options, choices }))?.choice;
}

/** A quick pick of one model's quantizations, each with its size, state and fit. */
export async function pickQuantization(model: ModelsModel, entry: ModelEntry): Promise<ModelFile | undefined> {
    const items = entry.files.map((file) => {
        const badge = fitBadge(file.fit);
        const states: string[] = [];
        if (file.state !== 'available') states.push(file.state);
        if (file.quant === entry.defaultQuant) states.push('default for this machine');
        if (model.downloadOf(entry.id, file.quant)) states.push('downloading');
        return {
            label: `$(${badge.icon}) ${file.quant}`,
            description: [describeFile({ ...entry, quality: undefined, speed: undefined, parametersB: undefined }, file), ...states].join(' · '),
            detail: fitSentence(file.fit),
            file,
        };
    });
    const picked = await vscode.window.showQuickPick(items, {
        title: `${entry.name}: choose a quantization`,
        placeHolder: 'Smaller files load faster and need less memory; larger ones answer better',
    });
    return picked?.file;
}
