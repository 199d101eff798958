/**
 * `@local` in VS Code's own Chat view: the same local model, answering inside the editor's chat, with
 * the files and selections the user references attached to the question.
 */
import * as vscode from 'vscode';
import type { ChatMessage, EngineInfo } from '../../common/chat';
import type { ExtensionServices } from '../services';
import { describeChatError } from './chatErrors';
import { ImageLinksOnly } from './imageLinks';
import { streamChat } from './streamChat';

export const PARTICIPANT_ID = 'localAi.local';

export function registerParticipant(services: ExtensionServices): vscode.Disposable {
    const participant = vscode.chat.createChatParticipant(PARTICIPANT_ID, (request, context, stream, token) =>
        answer({ services, request, context, stream, token }),
    );
    participant.iconPath = vscode.Uri.joinPath(services.context.extensionUri, 'media', 'icons', 'local-ai.svg');
    return participant;
}

interface AnswerOptions {
    services: ExtensionServices;
    request: vscode.ChatRequest;
    context: vscode.ChatContext;
    stream: vscode.ChatResponseStream;
    token: vscode.CancellationToken;
}

async function answer({ services, request, context, stream, token }: AnswerOptions): Promise<vscode.ChatResult> {
    const messages: ChatMessage[] = [
        ...historyMessages(context),
        { role: 'user', content: [...(await referenceTexts(request.references)), request.prompt].join('\n\n') },
    ];
    let engine: EngineInfo | undefined;
    const images = new ImageLinksOnly();
    try {
        const result = await streamChat(
            services.sidecar,
            { messages },
            {
                onStart: (start) => {
                    engine = start.engine;
                    stream.progress(`Answering with ${start.engine.modelName} (${start.engine.device})…`);
                },
                onText: (text) => stream.markdown(images.push(text)),
            },
            token,
        );
        engine = result.engine;
        stream.markdown(images.flush());
        if (result.fallback) stream.markdown(`\n\n_${result.fallback.message}_`);
        return { metadata: { engine } };
    } catch (error) {
        if (token.isCancellationRequested) return {};
        const problem = describeChatError(error);
        return { errorDetails: { message: problem.message } };
    }
}

function historyMessages(context: vscode.ChatContext): ChatMessage[] {
    const messages: ChatMessage[] = [];
    for (const turn of context.history) {
        if (turn instanceof vscode.ChatRequestTurn) {
            messages.push({ role: 'user', content: turn.prompt });
        } else if (turn instanceof vscode.ChatResponseTurn) {
            const text = turn.response.map((part) => (part instanceof vscode.ChatResponseMarkdownPart ? part.value.value : '')).join('');
            if (text) messages.push({ role: 'assistant', content: text });
        }
    }
    return messages;
}

/** The text of each `#file` or selection the user referenced, fenced, before the question. */
async function referenceTexts(references: readonly vscode.ChatPromptReference[]): Promise<string[]> {
    const texts: string[] = [];
    for (const reference of references) {
        const value = reference.value;
        if (typeof value === 'string') {
            texts.push(value);
        } else if (value instanceof vscode.Uri || value instanceof vscode.Location) {
            const uri = value instanceof vscode.Uri ? value : value.uri;
            const document = await vscode.workspace.openTextDocument(uri);
            const text = value instanceof vscode.Location ? document.getText(value.range) : document.getText();
            texts.push(`${vscode.workspace.asRelativePath(uri)}:\n\`\`\`${document.languageId}\n${text}\n\`\`\``);
        }
    }
    return texts;
}
