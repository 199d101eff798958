/**
 * What the chat tests in this folder share: the extension's test API, the tiny generated model set up
 * as the default (and taken back afterwards), a surface that records what a webview would receive,
 * sample files opened in editors, and the protocol trace of the sidecar read back from the Local AI
 * log, which shows what the sidecar was sent and what it answered, with no mock in between.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChatMessage, ChatResult } from '../../src/common/chat';
import { UnloadModelRequest } from '../../src/common/protocol';
import type { ChatSurface } from '../../src/extension/chat/chatController';
import type { ChatViewState, ExtensionToWebview } from '../../src/common/webviewProtocol';
import type { LocalAiTestApi } from '../../src/extension/extension';
import { defaultFixtureDir, ensureFixtureModel, tinyModel } from '../fixtures/gguf/model';

const EXTENSION_ID = 'local-ai.local-ai';
/** The settings useTinyModel writes, cleared again by releaseTinyModel. */
const MODEL_SETTINGS = ['models', 'defaultModel', 'threads', 'contextSize'];
/** The context the tests load the model with: small, for a two-core machine. */
export const CONTEXT_SIZE = 1024;
export const MODEL_NAME = 'Tiny fixture';

export async function api(): Promise<LocalAiTestApi> {
    const extension = vscode.extensions.getExtension<LocalAiTestApi>(EXTENSION_ID);
    assert.ok(extension, 'Local AI is not installed in this extension host');
    return extension.activate();
}

/** Polls a condition that has no event to await; fails with `what` after `timeoutMs`. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
}

/**
 * Makes the tiny generated model the default, and resolves once the sidecar has it as the active model.
 * Its answers run until the context is full, so a smaller `contextSize` (default CONTEXT_SIZE) makes them shorter.
 */
export async function useTinyModel(local: LocalAiTestApi, contextSize = CONTEXT_SIZE): Promise<string> {
    const modelPath = ensureFixtureModel(defaultFixtureDir(), tinyModel);
    const config = vscode.workspace.getConfiguration('localAi');
    await config.update('models', [{ source: modelPath, name: MODEL_NAME }], vscode.ConfigurationTarget.Global);
    await config.update('defaultModel', modelPath, vscode.ConfigurationTarget.Global);
    // One thread: this machine has two cores.
    await config.update('threads', 1, vscode.ConfigurationTarget.Global);
    await config.update('contextSize', contextSize, vscode.ConfigurationTarget.Global);
    // Settings reach the sidecar asynchronously: each refresh asks it, and a change of its list wakes us early.
    const { models } = local.services;
    await until('the sidecar has the fixture as its active model', async () => {
        const changed = new Promise<void>((resolve) => {
            const subscription = models.onDidChange(() => {
                subscription.dispose();
                resolve();
            });
            setTimeout(() => {
                subscription.dispose();
                resolve();
            }, 1_000);
        });
        await models.refresh();
        if (models.list?.activeModelId === modelPath) return true;
        await changed;
        return false;
    });
    // A loaded model keeps the context it was loaded with until its next load: unload it, so the next
    // answer loads it with these settings whatever an earlier suite loaded it with.
    await local.services.sidecar.request(UnloadModelRequest.type, {});
    return modelPath;
}

/** Gives the other suites in this extension host the settings they started with, and no model loaded with ours. */
export async function releaseTinyModel(local: LocalAiTestApi): Promise<void> {
    const config = vscode.workspace.getConfiguration('localAi');
    for (const key of MODEL_SETTINGS) await config.update(key, undefined, vscode.ConfigurationTarget.Global);
    await local.services.sidecar.request(UnloadModelRequest.type, {});
}

export interface Recorder extends ChatSurface {
    messages: ExtensionToWebview[];
    /** The last whole state posted. */
    lastState(): ChatViewState;
    /** Resolves with the first state posted (from now on, or already) that satisfies `predicate`. */
    stateWhere(what: string, predicate: (state: ChatViewState) => boolean, timeoutMs?: number): Promise<ChatViewState>;
}

/** A surface that records what a webview would receive. */
export function recorder(): Recorder {
    const messages: ExtensionToWebview[] = [];
    const waiters = new Set<(state: ChatViewState) => void>();
    const states = () => messages.filter((m): m is Extract<ExtensionToWebview, { type: 'state' }> => m.type === 'state').map((m) => m.state);
    return {
        messages,
        post(message) {
            const copy = structuredClone(message);
            messages.push(copy);
            if (copy.type === 'state') for (const waiter of [...waiters]) waiter(copy.state);
        },
        lastState() {
            const all = states();
            assert.ok(all.length > 0, 'no state was posted');
            return all[all.length - 1];
        },
        stateWhere(what, predicate, timeoutMs = 120_000) {
            const found = states().find(predicate);
            if (found) return Promise.resolve(found);
            return new Promise((resolve, reject) => {
                const timer = setTimeout(() => {
                    waiters.delete(waiter);
                    reject(new Error(`no state showed ${what} within ${timeoutMs} ms`));
                }, timeoutMs);
                const waiter = (state: ChatViewState) => {
                    if (!predicate(state)) return;
                    clearTimeout(timer);
                    waiters.delete(waiter);
                    resolve(state);
                };
                waiters.add(waiter);
            });
        },
    };
}

/**
 * Sample files, each opened in an editor. Each has a name of its own: VS Code gives an untitled
 * document the name of one just closed, and the extension host can still hold the old one.
 */
export class Samples {
    private readonly folder = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-chat-samples-'));
    private count = 0;

    async open(text: string, options: vscode.TextDocumentShowOptions = {}): Promise<vscode.TextEditor> {
        const file = path.join(this.folder, `sample-${++this.count}.ts`);
        fs.writeFileSync(file, text);
        const document = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
        const editor = await vscode.window.showTextDocument(document, options);
        assert.equal(vscode.window.activeTextEditor?.document, document, 'the sample is not the active editor');
        assert.equal(document.getText(), text);
        return editor;
    }

    /** Reverts and closes every editor (an edited sample would otherwise ask to be saved). */
    async closeEditors(): Promise<void> {
        for (let i = 0; i < 10 && vscode.window.tabGroups.all.some((group) => group.tabs.length > 0); i++) {
            await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
        }
    }

    dispose(): void {
        fs.rmSync(this.folder, { recursive: true, force: true });
    }
}

/** One chat request as the protocol trace shows it: what was sent to the sidecar and what it answered. */
export interface TracedChat {
    id: number;
    messages: ChatMessage[];
    result: ChatResult;
}

/**
 * Turns on the verbose protocol trace (`localAi.trace.server`), which the language client writes to
 * the Local AI log; returns a function that turns it off again.
 */
export async function traceSidecar(): Promise<() => Promise<void>> {
    const config = () => vscode.workspace.getConfiguration('localAi');
    await config().update('trace.server', 'verbose', vscode.ConfigurationTarget.Global);
    return () => Promise.resolve(config().update('trace.server', undefined, vscode.ConfigurationTarget.Global));
}

/** One log entry per `appendLine`: a timestamp and a level open each. */
const ENTRY_START = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[\w+\] /m;

export function logEntries(local: LocalAiTestApi): string[] {
    const folder = path.dirname(local.services.context.logUri.fsPath);
    const logs = fs
        .readdirSync(folder, { recursive: true, encoding: 'utf8' })
        .filter((file) => /Local AI\.log$/.test(path.basename(file)))
        .map((file) => path.join(folder, file));
    assert.ok(logs.length > 0, `no Local AI log under ${folder}`);
    const entries: string[] = [];
    for (const log of logs) {
        const text = fs.readFileSync(log, 'utf8');
        const starts = [...text.matchAll(new RegExp(ENTRY_START.source, 'gm'))];
        for (const [i, match] of starts.entries()) entries.push(text.slice(match.index! + match[0].length, starts[i + 1]?.index ?? text.length).trimEnd());
    }
    return entries;
}

/** The chat requests the trace holds whose answer is logged too (the client writes the Params or Result entry right after its header). */
function tracedChats(local: LocalAiTestApi): TracedChat[] {
    const entries = logEntries(local);
    const sent = new Map<number, ChatMessage[]>();
    const chats: TracedChat[] = [];
    entries.forEach((entry, i) => {
        const request = /Sending request 'localAi\/chat\/complete - \((\d+)\)'/.exec(entry);
        if (request && entries[i + 1]?.startsWith('Params: ')) {
            sent.set(Number(request[1]), (JSON.parse(entries[i + 1].slice('Params: '.length)) as { messages: ChatMessage[] }).messages);
        }
        const response = /Received response 'localAi\/chat\/complete - \((\d+)\)'/.exec(entry);
        const id = Number(response?.[1]);
        if (response && sent.has(id) && entries[i + 1]?.startsWith('Result: ')) {
            chats.push({ id, messages: sent.get(id)!, result: JSON.parse(entries[i + 1].slice('Result: '.length)) as ChatResult });
        }
    });
    return chats;
}

/**
 * The answered chat request whose last message is the user's `question`. The log is written a moment
 * after the fact, so it is read again until the exchange is there.
 */
export async function tracedChat(local: LocalAiTestApi, question: (content: string) => boolean, what: string): Promise<TracedChat> {
    let found: TracedChat | undefined;
    await until(`the trace shows the sidecar answering ${what}`, () => {
        found = tracedChats(local).find((chat) => chat.messages.at(-1)?.role === 'user' && question(chat.messages.at(-1)!.content));
        return found !== undefined;
    });
    return found!;
}

/** The local model `name` in VS Code's language-model list, once the provider lists it. */
export async function localChatModel(name: string): Promise<vscode.LanguageModelChat> {
    const deadline = Date.now() + 60_000;
    for (;;) {
        const changed = new Promise<void>((resolve) => {
            const subscription = vscode.lm.onDidChangeChatModels(() => {
                subscription.dispose();
                resolve();
            });
            setTimeout(() => {
                subscription.dispose();
                resolve();
            }, 5_000);
        });
        const model = (await vscode.lm.selectChatModels({ vendor: 'local-ai' })).find((m) => m.name === name);
        if (model) return model;
        assert.ok(Date.now() < deadline, `${name} never appeared among VS Code's language models`);
        await changed;
    }
}
