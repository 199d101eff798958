/**
 * No module in src/ imports, through other modules, a module that imports it back. The TypeScript
 * compiler reads every import (type-only ones too: they tie the files together for a reader as much
 * as the others) and resolves it as tsconfig.json says. Folders are held to the same rule, so data
 * flows one way between them.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';

/** Every .ts file under `root`/src mapped to the files under src it imports, paths relative to `root`. */
function importGraph(root: string): Map<string, string[]> {
    const config = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile);
    const { options } = ts.parseJsonConfigFileContent(config.config ?? {}, ts.sys, root);
    const files = fs
        .readdirSync(path.join(root, 'src'), { recursive: true, encoding: 'utf8' })
        .filter((file) => /\.tsx?$/.test(file) && !file.endsWith('.d.ts'))
        .map((file) => path.join(root, 'src', file));
    const relative = (file: string) => path.relative(root, file).split(path.sep).join('/');
    const graph = new Map<string, string[]>();
    for (const file of files) {
        const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
        const imports = importedFiles
            .map(({ fileName }) => ts.resolveModuleName(fileName, file, options, ts.sys).resolvedModule?.resolvedFileName)
            .filter((resolved): resolved is string => resolved !== undefined && files.includes(path.resolve(resolved)))
            .map((resolved) => relative(path.resolve(resolved)));
        graph.set(relative(file), [...new Set(imports)]);
    }
    return graph;
}

/** The strongly connected sets of more than one file (or of a file that imports itself), each sorted (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
    const index = new Map<string, number>();
    const lowLink = new Map<string, number>();
    const stack: string[] = [];
    const found: string[][] = [];
    const visit = (file: string) => {
        index.set(file, index.size);
        lowLink.set(file, index.get(file)!);
        stack.push(file);
        for (const next of graph.get(file) ?? []) {
            if (!index.has(next)) {
                visit(next);
                lowLink.set(file, Math.min(lowLink.get(file)!, lowLink.get(next)!));
            } else if (stack.includes(next)) {
                lowLink.set(file, Math.min(lowLink.get(file)!, index.get(next)!));
            }
        }
        if (lowLink.get(file) !== index.get(file)) return;
        const members = stack.splice(stack.lastIndexOf(file));
        if (members.length > 1 || graph.get(file)?.includes(file)) found.push(members.sort());
    };
    for (const file of graph.keys()) if (!index.has(file)) visit(file);
    return found;
}

/** One loop through `members`, `a → b → a`, for a message a reader can follow. */
function loopThrough(graph: Map<string, string[]>, members: string[]): string {
    const start = members[0];
    const previous = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
        const file = queue.shift()!;
        for (const next of graph.get(file) ?? []) {
            if (!members.includes(next) || previous.has(next)) continue;
            previous.set(next, file);
            if (next === start) queue.length = 0;
            else queue.push(next);
        }
    }
    const between: string[] = [];
    for (let file = previous.get(start)!; file !== start; file = previous.get(file)!) between.unshift(file);
    return [start, ...between, start].join(' → ');
}

describe('import cycles', () => {
    const graph = importGraph(process.cwd());
    const found = cycles(graph);

    it('reads the imports of src/, type-only ones included', () => {
        assert.ok(graph.size > 50, `only ${graph.size} files under src/`);
        assert.deepEqual(graph.get('src/sidecar/cli.ts'), ['src/sidecar/cli/commands.ts']);
        const root = fs.mkdtempSync(path.join(os.tmpdir(), 'local-ai-cycles-'));
        try {
            fs.mkdirSync(path.join(root, 'src', 'b'), { recursive: true });
            fs.writeFileSync(path.join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { moduleResolution: 'Bundler', module: 'ESNext' } }));
            fs.writeFileSync(path.join(root, 'src', 'a.ts'), "import { b } from './b/index';\nexport const a = b;\n");
            fs.writeFileSync(path.join(root, 'src', 'b', 'index.ts'), "import type { C } from './c';\nexport const b: C = 1;\n");
            fs.writeFileSync(path.join(root, 'src', 'b', 'c.ts'), "export type C = typeof import('../a').a;\n");
            const tiny = importGraph(root);
            assert.deepEqual(cycles(tiny), [['src/a.ts', 'src/b/c.ts', 'src/b/index.ts']]);
            assert.equal(loopThrough(tiny, ['src/a.ts', 'src/b/c.ts', 'src/b/index.ts']), 'src/a.ts → src/b/index.ts → src/b/c.ts → src/a.ts');
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });

    // A folder's own top-level files wire its subfolders together and hold what they share (context.ts,
    // services.ts), so only folders side by side are compared: src/sidecar/llama must not reach back into
    // src/sidecar/local, but src/sidecar/local may use src/sidecar/context.ts.
    it('no folder of src/ imports a folder beside it that imports it back', () => {
        const within = (folder: string, other: string) => folder === other || folder.startsWith(`${other}/`) || other.startsWith(`${folder}/`);
        const folders = new Map<string, string[]>();
        for (const [file, imports] of graph) {
            const from = path.posix.dirname(file);
            const to = new Set([
                ...(folders.get(from) ?? []),
                ...imports.map((target) => path.posix.dirname(target)).filter((folder) => !within(from, folder)),
            ]);
            folders.set(from, [...to].sort());
        }
        const loops = cycles(folders);
        assert.deepEqual(loops, [], `folder cycles:\n${loops.map((members) => loopThrough(folders, members)).join('\n')}`);
    });

    it('src/ has no import cycle', () => {
        const report = found.map((members) => `${loopThrough(graph, members)}\n  in the set ${JSON.stringify(members)}`);
        assert.deepEqual(found, [], `import cycles:\n${report.join('\n')}`);
    });
});
