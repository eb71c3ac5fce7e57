import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// A static scan of the relative imports among src/ modules: no import cycles (type-only imports
// count too: a cycle is a layering mistake whether or not it survives erasure) and no module under
// model/ importing from bench/, the layer above it.

const SRC = resolve(import.meta.dirname, '../src');

/** Static `import`/`export ... from`, side-effect imports and `import('...')` with a relative path. */
const SPECIFIER =
  /(?:^|[\n;])\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** Relative specifiers in one source text, in order of appearance. */
function relativeImports(source: string): string[] {
  return [...source.matchAll(SPECIFIER)].map((m) => m[1] ?? m[2] ?? '');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

type Graph = Map<string, string[]>;

/** Module graph keyed by path relative to `root`; `.js` specifiers resolve to their `.ts` file. */
function importGraph(root: string): { graph: Graph; unresolved: string[] } {
  const files = sourceFiles(root);
  const known = new Set(files.map((f) => relative(root, f)));
  const graph: Graph = new Map();
  const unresolved: string[] = [];
  for (const file of files) {
    const from = relative(root, file);
    const deps: string[] = [];
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      const target = relative(root, resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      if (known.has(target)) deps.push(target);
      else if (!target.startsWith('..')) unresolved.push(`${from} imports ${spec}`);
    }
    graph.set(from, deps);
  }
  return { graph, unresolved };
}

/** Every cycle met by a depth-first walk, each as the modules along it; empty when acyclic. */
function findCycles(graph: Graph): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const dep of graph.get(node) ?? []) {
      const seen = state.get(dep);
      if (seen === 'open') cycles.push([...stack.slice(stack.indexOf(dep)), dep]);
      else if (seen === undefined) visit(dep);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

describe('the scan itself', () => {
  it('reads static, type-only, multi-line, re-export and dynamic relative imports', () => {
    const source = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      'import {\n  c,\n  d,\n} from "./c.js";',
      "export { e } from './e.js';",
      "import './side.js';",
      "const f = await import('./f.js');",
      "import { z } from 'zod';",
      "import { readFile } from 'node:fs/promises';",
    ].join('\n');
    expect(relativeImports(source)).toEqual([
      './a.js',
      '../b.js',
      './c.js',
      './e.js',
      './side.js',
      './f.js',
    ]);
  });

  it('finds a cycle and reports its path, and none in a tree', () => {
    const cyclic: Graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(findCycles(cyclic)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
    const tree: Graph = new Map([
      ['a.ts', ['b.ts', 'c.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', []],
    ]);
    expect(findCycles(tree)).toEqual([]);
  });
});

describe('src/ module structure', () => {
  const { graph, unresolved } = importGraph(SRC);

  it('scans the whole source tree and resolves every relative import', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(unresolved).toEqual([]);
  });

  it('has no import cycles', () => {
    const cycles = findCycles(graph).map((c) => c.join(' -> '));
    expect(cycles).toEqual([]);
  });

  it('keeps model/ below bench/: nothing under model/ imports from bench/', () => {
    const upward = [...graph]
      .filter(([from]) => from.startsWith('model/'))
      .flatMap(([from, deps]) =>
        deps.filter((d) => d.startsWith('bench/')).map((d) => `${from} -> ${d}`),
      );
    expect(upward).toEqual([]);
  });
});
