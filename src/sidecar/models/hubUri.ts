/**
 * Hub model references as users write them in settings and on the command line:
 *   hf:owner/repo/path/file.gguf      one file
 *   hf:owner/repo:Q4_K_M              the repository's file for that quantization (looked up on the hub)
 *   hf:owner/repo@revision/file.gguf  a branch or commit
 *   https://huggingface.co/owner/repo/resolve/main/file.gguf (or /blob/), as copied from the browser, also
 *   on hf.co and on the configured endpoint's host (a mirror)
 */

export interface HubReference {
    repo: string;
    /** Default: main. */
    revision: string;
    /** Set for a file reference. */
    file?: string;
    /** Set for a quantization reference (upper case). */
    quant?: string;
}

const REPO_PART = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/**
 * llama.cpp's file types as the hub's files name them (node-llama-cpp's ggufFileQuantNames, llama-quantize's list):
 * Q4_K_M, Q8_0, IQ4_XS, IQ2_XXS, TQ1_0, TQ2_0, MXFP4 (MXFP4_MOE), BF16, F16, F32.
 */
const QUANT = /(?:^|[-_.])((?:I?Q[1-8](?:_[0-9A-Z]+)*)|TQ[12]_0|MXFP4(?:_MOE)?|BF16|F16|F32)(?=[-_.]|$)/i;

/** Hosts whose pasted links are hub links: huggingface.co, hf.co (and their subdomains), and the configured endpoint's. */
function isHubHost(url: URL, endpoint: string | undefined): boolean {
    if (/^(?:[^.]+\.)*(?:huggingface\.co|hf\.co)$/i.test(url.hostname)) return true;
    return endpoint !== undefined && URL.canParse(endpoint) && new URL(endpoint).host === url.host;
}

/** The repository path of a pasted link (`owner/repo/resolve|blob/rev/file`), without a mirror's path prefix. */
function linkPath(url: URL, endpoint: string | undefined): string {
    const prefix = endpoint !== undefined && URL.canParse(endpoint) ? new URL(endpoint).pathname.replace(/\/+$/, '') : '';
    return prefix && url.pathname.startsWith(`${prefix}/`) ? url.pathname.slice(prefix.length) : url.pathname;
}

export function isHubUri(value: string, endpoint?: string): boolean {
    return value.startsWith('hf:') || (/^https?:\/\//.test(value) && URL.canParse(value) && isHubHost(new URL(value), endpoint));
}

/**
 * Parses a hub reference; undefined when `value` is not one (or is malformed, or names a file the store refuses).
 * `endpoint`: the configured hub (a mirror's links count too).
 */
export function parseHubUri(value: string, endpoint?: string): HubReference | undefined {
    const ref = splitHubUri(value, endpoint);
    return ref && checked(ref);
}

/** Why a reference that looks like a hub file reference cannot be used, when its file name is the reason. */
export function hubUriProblem(value: string, endpoint?: string): string | undefined {
    const file = splitHubUri(value, endpoint)?.file;
    return file === undefined ? undefined : hubFileNameProblem(file);
}

/** The parts of a hub reference, unchecked; a file name may hold any character here (checked() refuses the bad ones). */
function splitHubUri(value: string, endpoint: string | undefined): HubReference | undefined {
    if (/^https?:\/\//.test(value)) {
        if (!URL.canParse(value) || !isHubHost(new URL(value), endpoint)) return undefined;
        const web = /^\/([^/]+)\/([^/]+)\/(?:resolve|blob)\/([^/]+)\/(.+)$/.exec(linkPath(new URL(value), endpoint));
        if (!web) return undefined;
        try {
            return { repo: `${web[1]}/${web[2]}`, revision: decodeURIComponent(web[3]), file: web[4].split('/').map(decodeURIComponent).join('/') };
        } catch {
            return undefined; // a malformed %-escape
        }
    }
    if (!value.startsWith('hf:')) return undefined;
    const rest = value.slice(3).replace(/^\/\//, '');
    const quantMatch = /^([^/]+)\/([^/:@]+)(?:@([^/:]+))?:([^/:]+)$/.exec(rest);
    if (quantMatch) return { repo: `${quantMatch[1]}/${quantMatch[2]}`, revision: quantMatch[3] ?? 'main', quant: quantMatch[4].toUpperCase() };
    const fileMatch = /^([^/]+)\/([^/@]+)(?:@([^/]+))?\/([\s\S]+)$/.exec(rest);
    if (!fileMatch) return undefined;
    return { repo: `${fileMatch[1]}/${fileMatch[2]}`, revision: fileMatch[3] ?? 'main', file: fileMatch[4] };
}

/** `owner/name`, each part a plain hub name. */
export function isHubRepo(repo: string): boolean {
    const parts = repo.split('/');
    return parts.length === 2 && parts.every((part) => REPO_PART.test(part));
}

function checked(ref: HubReference): HubReference | undefined {
    if (!isHubRepo(ref.repo)) return undefined;
    if (ref.file !== undefined && hubFileNameProblem(ref.file)) return undefined;
    return ref;
}

/** The stable id of one hub file: `hf:owner/repo/file.gguf` (with `@revision` when not main). */
export function hubFileId(repo: string, file: string, revision = 'main'): string {
    return `hf:${repo}${revision === 'main' ? '' : `@${revision}`}/${file}`;
}

/** The quantization named in a GGUF file name (`Llama-3.2-3B-Instruct-Q4_K_M.gguf` → Q4_K_M), upper case. */
export function quantFromFileName(file: string): string | undefined {
    const base = file.split('/').pop() ?? file;
    return QUANT.exec(base.replace(/\.gguf$/i, ''))?.[1].toUpperCase();
}

/** True for split GGUF parts (`…-00001-of-00003.gguf`), which llama.cpp loads as a set. */
export function isSplitPart(file: string): boolean {
    return /-\d{5}-of-\d{5}\.gguf$/i.test(file);
}

/** Endings the store gives its own files next to a model; a hub file with one of them would be taken for store bookkeeping. */
export const STORE_SUFFIXES = ['.partial', '.partial.json', '.partial.lock', '.manifest.json'] as const;

/**
 * Why a file name listed by the hub (or named in a reference) cannot be stored, undefined when it can: it
 * must be a safe relative path, print as itself, and not end like the store's own files.
 */
export function hubFileNameProblem(file: string): string | undefined {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(file)) return 'it contains control characters';
    if (file.includes('\\')) return 'it contains a backslash';
    if (!isSafeRelativePath(file)) return 'it is not a plain relative path (empty, absolute, or with "." or ".." parts)';
    const suffix = STORE_SUFFIXES.find((ending) => file.toLowerCase().endsWith(ending));
    if (suffix) return `it ends in ${suffix}, which the models folder uses for its own files`;
    return undefined;
}

/**
 * Every part of the split GGUF that `file` belongs to, first to last, named as llama.cpp's `llama_split_path`
 * names them (`<prefix>-%05d-of-%05d.gguf`); undefined when `file` is not a part (or numbers one past the count).
 */
export function splitPartFiles(file: string): string[] | undefined {
    const match = /-(\d{5})-of-(\d{5})(\.gguf)$/i.exec(file);
    if (!match) return undefined;
    const [part, count] = [Number(match[1]), Number(match[2])];
    if (part < 1 || count < 1 || part > count) return undefined;
    const prefix = file.slice(0, match.index);
    return Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(5, '0')}-of-${match[2]}${match[3]}`);
}

/** Rejects absolute paths and `..` so a hub file name can never write outside the store. */
export function isSafeRelativePath(file: string): boolean {
    if (!file || file.startsWith('/') || file.includes('\\') || file.includes('\0')) return false;
    return file.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}
