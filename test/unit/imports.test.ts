// The shape of src/ as its imports draw it: no module depends on itself through others,
// reading inputs (config/) touches no cluster code (kube/), and kube/ reports through the
// interfaces it is given rather than through @actions/*.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/bundle.js';

const SRC = join(REPO_ROOT, 'src');

type Graph = Map<string, string[]>;

// Import and export clauses hold only names, braces, commas, `*`, `as` and `type`, so the
// clause pattern cannot run on into the code or the strings that follow an import.
const STATIC = /^\s*(?:import|export)\s+(?:type\s+)?[\w\s{},*$]*?\bfrom\s*['"]([^'"]+)['"]/gm;
const SIDE_EFFECT = /^\s*import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every module specifier a file names, relative or not, type-only imports included. */
function specifiers(text: string): string[] {
  return [STATIC, SIDE_EFFECT, DYNAMIC].flatMap((re) => [...text.matchAll(re)].map((m) => m[1]!));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** src-relative file → src-relative files it imports, and every bare package it imports. */
function readSources(): { graph: Graph; packages: Map<string, string[]> } {
  const graph: Graph = new Map();
  const packages = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file);
    const specs = specifiers(readFileSync(file, 'utf8'));
    // ESM imports name the emitted .js; the source next to it is the .ts.
    graph.set(from, specs.filter((s) => s.startsWith('.')).map((s) => relative(SRC, resolve(dirname(file), s)).replace(/\.js$/, '.ts')));
    packages.set(from, specs.filter((s) => !s.startsWith('.')));
  }
  return { graph, packages };
}

/**
 * One cycle per strongly connected group of modules, as `a.ts → b.ts → a.ts`, followed by
 * the group's other modules when the circle shown does not pass through all of them.
 */
function findCycles(graph: Graph): string[] {
  // Tarjan's algorithm: a group of more than one module, or a module importing itself, is a cycle.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length === 1 && !(graph.get(v) ?? []).includes(v)) return;
    const cycle = pathThrough(graph, new Set(group), v);
    const others = group.filter((m) => !cycle.split(' → ').includes(m)).sort();
    cycles.push(others.length > 0 ? `${cycle} (in one circle with ${others.join(', ')})` : cycle);
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

/** The shortest way from `start` back to itself inside its group, for the message. */
function pathThrough(graph: Graph, group: Set<string>, start: string): string {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!group.has(w) || previous.has(w)) continue;
      previous.set(w, v);
      if (w === start) {
        const chain: string[] = [];
        for (let p = v; p !== start; p = previous.get(p)!) chain.unshift(p);
        return [start, ...chain, start].join(' → ');
      }
      queue.push(w);
    }
  }
  return start;
}

describe('imports in src/', () => {
  const { graph, packages } = readSources();

  it('form no cycles', () => {
    expect(findCycles(graph)).toEqual([]);
  });

  it('config/ imports nothing from kube/: parsing inputs touches no cluster', () => {
    const offending = [...graph].flatMap(([from, tos]) => (from.startsWith('config/') ? tos.filter((t) => t.startsWith('kube/')).map((t) => `${from} → ${t}`) : []));
    expect(offending).toEqual([]);
  });

  it('kube/ imports nothing from @actions/*', () => {
    const offending = [...packages].flatMap(([from, pkgs]) => (from.startsWith('kube/') ? pkgs.filter((p) => p.startsWith('@actions/')).map((p) => `${from} → ${p}`) : []));
    expect(offending).toEqual([]);
  });

  it('are all found: every relative import names a file that exists', () => {
    const missing = [...graph].flatMap(([from, tos]) => tos.filter((t) => !graph.has(t)).map((t) => `${from} → ${t}`));
    expect(missing).toEqual([]);
    expect(graph.size).toBeGreaterThan(40);
  });
});

describe('the checks themselves', () => {
  it('read every form of import: named, type-only, multi-line, re-export, side effect, dynamic', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      'import {\n  c,\n  type D,\n} from "./c.js";',
      "export { e } from './e.js';",
      "export * from './f.js';",
      "import './g.js';",
      "const h = await import('./h.js');",
      "import * as exec from '@actions/exec';",
      "const s = 'copied from ./not-an-import.js';",
    ].join('\n');
    expect(specifiers(text).sort()).toEqual(['../b.js', './a.js', './c.js', './e.js', './f.js', './g.js', './h.js', '@actions/exec']);
  });

  it('name each cycle by the modules it runs through', () => {
    const graph: Graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts', 'd.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['b.ts']],
      ['e.ts', ['e.ts']],
      ['f.ts', ['a.ts']],
    ]);
    expect(findCycles(graph)).toEqual(['a.ts → b.ts → c.ts → a.ts (in one circle with d.ts)', 'e.ts → e.ts']);
  });
});
