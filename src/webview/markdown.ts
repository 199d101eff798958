/**
 * Model output → safe HTML. Model text is untrusted (a poisoned file or web page in the context can
 * make it write anything), so: raw HTML is shown as text, images are never loaded (their alt text and
 * address are shown instead: a markdown image is the classic way to leak a chat to a server), only
 * http(s) and mailto links stay links (`command:`, `javascript:`, `file:` become plain text), and
 * DOMPurify checks the result. marked parses, highlight.js colours code.
 */
import type { Config, DOMPurify } from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import csharp from 'highlight.js/lib/languages/csharp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import shell from 'highlight.js/lib/languages/shell';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import { Marked, type Tokens } from 'marked';

for (const [name, language] of Object.entries({
    bash,
    c,
    cpp,
    csharp,
    css,
    diff,
    go,
    java,
    javascript,
    json,
    markdown,
    python,
    rust,
    shell,
    sql,
    typescript,
    xml,
    yaml,
})) {
    hljs.registerLanguage(name, language);
}

/** Link targets that may stay clickable; everything else is rendered as text. */
const SAFE_LINK = /^(?:https?:|mailto:)/i;

export function escapeHtml(text: string): string {
    return text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

function highlight(code: string, lang: string | undefined): string {
    const name = lang?.trim().split(/\s+/)[0]?.toLowerCase();
    if (name && hljs.getLanguage(name)) return hljs.highlight(code, { language: name, ignoreIllegals: true }).value;
    return escapeHtml(code);
}

/** The buttons of a code block; `data-action` is read by main.ts, which takes the code from the block. */
function codeBlock(code: string, lang: string | undefined): string {
    const label = escapeHtml(lang?.trim().split(/\s+/)[0] ?? '');
    const button = (action: string, icon: string, title: string) =>
        `<button class="code-action" data-action="${action}" title="${title}" aria-label="${title}"><span class="codicon codicon-${icon}"></span><span class="label">${title}</span></button>`;
    return (
        `<div class="code-block"><div class="code-toolbar"><span class="code-lang">${label}</span>` +
        button('copy', 'copy', 'Copy') +
        button('insert', 'insert', 'Insert at Cursor') +
        button('apply', 'diff', 'Apply to Selection') +
        `</div><pre><code class="hljs">${highlight(code, lang)}</code></pre></div>`
    );
}

/** Applied to everything marked produced: the second line of defence. */
const PURIFY_CONFIG: Config = {
    FORBID_TAGS: ['img', 'picture', 'source', 'video', 'audio', 'iframe', 'object', 'embed', 'style', 'link', 'form', 'input', 'svg', 'math', 'base', 'meta'],
    FORBID_ATTR: ['style', 'src', 'srcset', 'background', 'poster', 'action', 'formaction'],
    ALLOWED_URI_REGEXP: SAFE_LINK,
};

export interface MarkdownRenderer {
    /** Renders a (possibly still streaming, unterminated) Markdown answer to safe HTML. */
    render(markdownText: string): string;
}

/** `purify` is DOMPurify bound to a window: the webview's, or jsdom's in unit tests. */
export function createMarkdownRenderer(purify: DOMPurify): MarkdownRenderer {
    const marked = new Marked({ gfm: true, breaks: false, async: false });
    marked.use({
        renderer: {
            html: ({ text }: Tokens.HTML | Tokens.Tag) => escapeHtml(text),
            image: ({ href, text }: Tokens.Image) =>
                `<span class="blocked-image" title="Images from answers are not loaded">[image: ${escapeHtml(text || 'untitled')}] <span class="blocked-url">${escapeHtml(href)}</span></span>`,
            link(token: Tokens.Link) {
                const inner = this.parser.parseInline(token.tokens);
                if (!SAFE_LINK.test(token.href.trim())) return `<span class="inert-link" title="Link disabled: ${escapeHtml(token.href)}">${inner}</span>`;
                const title = token.title ? ` title="${escapeHtml(token.title)}"` : '';
                return `<a href="${escapeHtml(token.href)}"${title}>${inner}</a>`;
            },
            code: ({ text, lang }: Tokens.Code) => codeBlock(text, lang),
        },
    });
    purify.addHook('afterSanitizeAttributes', (node) => {
        if (node.tagName === 'A') {
            const href = node.getAttribute('href') ?? '';
            if (!SAFE_LINK.test(href)) node.removeAttribute('href');
            node.setAttribute('rel', 'noreferrer noopener');
        }
    });
    return {
        render: (markdownText) => purify.sanitize(marked.parse(markdownText) as string, PURIFY_CONFIG),
    };
}
