/**
 * The hub's refusals in the user's words, read from `X-Error-Code` / `X-Error-Message` as huggingface_hub's
 * hf_raise_for_status does (utils/_http.py), not from the status alone: the Hub answers 401 for a missing
 * repository, a private one, a gated one and a bad token alike, and says which in those headers.
 */
import { ErrorCode, LocalAiError } from '../../common/errors';
import type { HubRefusal } from './hubHttp';

/** What a refused request was about. */
export interface RefusalSubject {
    repo: string;
    file?: string;
    /** Default main. */
    revision?: string;
}

const TOKEN_HINT = 'Command "Local AI: Set Hugging Face Token…", or HF_TOKEN for the CLI.';

/** A 401 that says the token itself is bad (hf_raise_for_status: "Invalid credentials in Authorization header"). */
export function isInvalidCredentials(refusal: HubRefusal): boolean {
    return refusal.status === 401 && /invalid (credentials|username or password|token)|expired/i.test(refusal.errorMessage ?? '');
}

/** The token was refused for what it is (invalid, expired), not for what it may read. */
export function tokenRefused(): LocalAiError {
    return new LocalAiError(ErrorCode.Unauthorized, 'Your Hugging Face token was refused by the hub (invalid or expired): set a new one.', {
        hint: TOKEN_HINT,
    });
}

export function describeRefusal(refusal: HubRefusal, subject: RefusalSubject, options: { repoUrl: string; hasToken: boolean }): LocalAiError {
    const { repo, file } = subject;
    const revision = subject.revision ?? 'main';
    if (isInvalidCredentials(refusal)) return tokenRefused();
    switch (refusal.errorCode) {
        case 'GatedRepo':
            return gated(options.repoUrl, repo, refusal.status, options.hasToken);
        case 'RepoNotFound':
            return new LocalAiError(
                ErrorCode.ModelNotFound,
                `The hub has no repository ${repo} (or it is private: ${options.hasToken ? 'your token cannot read it' : 'set a Hugging Face token that can read it'}).`,
                { hint: options.hasToken ? undefined : TOKEN_HINT },
            );
        case 'RevisionNotFound':
            return new LocalAiError(ErrorCode.ModelNotFound, `The hub has no revision "${revision}" in ${repo}.`, { file });
        case 'EntryNotFound':
            return notFound(repo, file, revision);
    }
    // Mirrors and proxies answer without the hub's headers: the status is all there is.
    if (refusal.status === 401 || refusal.status === 403) return gated(options.repoUrl, repo, refusal.status, options.hasToken);
    if (refusal.status === 404) return notFound(repo, file, revision);
    return new LocalAiError(
        ErrorCode.NetworkError,
        `The hub answered HTTP ${refusal.status} for ${repo}${file ? `/${file}` : ''}${refusal.errorMessage ? `: ${refusal.errorMessage.slice(0, 200).replace(/\.$/, '')}` : ''}.`,
        { file },
    );
}

function gated(url: string, repo: string, status: number, hasToken: boolean): LocalAiError {
    const hint = hasToken
        ? `Your token was refused (HTTP ${status}). Accept the licence at ${url} with the same account, or set a token with read access.`
        : `Accept the licence at ${url}, then set a Hugging Face token (command "Local AI: Set Hugging Face Token…", or HF_TOKEN for the CLI).`;
    return new LocalAiError(ErrorCode.Unauthorized, `${repo} is gated: the hub needs you to accept its licence and sign in.`, { url, hint });
}

export function notFound(repo: string, file?: string, revision = 'main'): LocalAiError {
    const at = revision === 'main' ? '' : ` at ${revision}`;
    return new LocalAiError(ErrorCode.ModelNotFound, `The hub has no ${file ? `file ${file} in ` : 'repository '}${repo}${at}.`, { file });
}
