import * as assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import DOMPurify from 'dompurify';
import type * as Jsdom from 'jsdom';
import { createMarkdownRenderer, type MarkdownRenderer } from '../../src/webview/markdown';

// jsdom reads its own files through __dirname, so it must run from node_modules, not from this bundle:
// a computed name keeps esbuild from bundling it.
const jsdomPackage = 'jsdom';
const { JSDOM } = createRequire(import.meta.url)(jsdomPackage) as typeof Jsdom;

/** Parses rendered HTML the way the webview would, to inspect what elements it would create. */
function dom(html: string): Document {
    return new JSDOM(`<body>${html}</body>`).window.document;
}

describe('chat Markdown renderer', () => {
    let renderer: MarkdownRenderer;

    before(() => {
        const { window } = new JSDOM('');
        renderer = createMarkdownRenderer(DOMPurify(window as unknown as Parameters<typeof DOMPurify>[0]));
    });

    it('never creates an image, so a markdown image cannot leak the chat to a server', () => {
        const html = renderer.render('Here: ![x](http://127.0.0.1:9/leak?secret=1) and <img src="http://127.0.0.1:9/raw">');
        const doc = dom(html);
        assert.equal(doc.querySelectorAll('img, picture, source, video, audio, iframe, object, embed').length, 0, html);
        assert.equal(doc.querySelectorAll('[src], [srcset]').length, 0, html);
        const blocked = doc.querySelector('.blocked-image');
        assert.ok(blocked, html);
        assert.match(blocked.textContent ?? '', /\[image: x\] http:\/\/127\.0\.0\.1:9\/leak\?secret=1/);
    });

    it('shows raw HTML from the model as text', () => {
        const html = renderer.render('<script>alert(1)</script>\n\n<b onclick="x()">bold</b> <style>body{}</style>');
        const doc = dom(html);
        assert.equal(doc.querySelectorAll('script, b, style, [onclick]').length, 0, html);
        assert.match(doc.body.textContent ?? '', /<script>alert\(1\)<\/script>/);
    });

    it('keeps http links and makes command:, javascript: and file: links inert', () => {
        const html = renderer.render(
            '[docs](https://example.com/a) [run](command:workbench.action.terminal.new) [js](javascript:alert(1)) [f](file:///etc/passwd) <command:localAi.restartSidecar>',
        );
        const links = [...dom(html).querySelectorAll('a')];
        assert.deepEqual(
            links.map((a) => a.getAttribute('href')),
            ['https://example.com/a'],
        );
        assert.equal(links[0].getAttribute('rel'), 'noreferrer noopener');
        assert.doesNotMatch(html, /href="(?:command|javascript|file):/i);
        assert.match(dom(html).body.textContent ?? '', /run js f/);
    });

    it('renders code blocks highlighted, with Copy, Insert at Cursor and Apply to Selection', () => {
        const html = renderer.render('```ts\nconst answer: number = 42;\n```');
        const doc = dom(html);
        const block = doc.querySelector('.code-block');
        assert.ok(block, html);
        assert.deepEqual(
            [...block.querySelectorAll('button')].map((b) => b.dataset.action),
            ['copy', 'insert', 'apply'],
        );
        assert.equal(block.querySelector('code')?.textContent, 'const answer: number = 42;');
        assert.ok(block.querySelector('.hljs-keyword'), 'TypeScript keywords are highlighted');
    });

    it('renders an unterminated fence while an answer is still streaming', () => {
        const doc = dom(renderer.render('Try this:\n```python\ndef f():\n    return 1'));
        assert.equal(doc.querySelector('code')?.textContent, 'def f():\n    return 1');
    });

    it('escapes HTML inside code so it shows as written', () => {
        const doc = dom(renderer.render('```html\n<img src=x onerror=alert(1)>\n```'));
        assert.equal(doc.querySelectorAll('img').length, 0);
        assert.equal(doc.querySelector('code')?.textContent, '<img src=x onerror=alert(1)>');
    });
});
