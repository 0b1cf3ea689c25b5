// Turns the text of one manifest source into Kubernetes objects with their file:line,
// or into errors that point at file:line:column. Knows YAML and object shape, not paths.
import { Document, LineCounter, parseAllDocuments, type Tags } from 'yaml';
import { GantryError, type ErrorLocation } from '../errors.js';
import type { KubeObject } from './client.js';

/** One Kubernetes object and where it came from. */
export interface Manifest {
  object: KubeObject;
  /**
   * Workspace-relative, `/`-separated. For kustomize output it is the kustomization file
   * (and `line` is the line in the rendered output); for Helm it is the template named
   * by helm's `# Source:` comment (and `line` counts from the start of that template's output).
   */
  file: string;
  /** 1-based line where the object starts (its first key). */
  line: number;
}

/** Maps a line of the parsed text to where the user should look (identity for plain files). */
export type Locate = (line: number, column?: number) => ErrorLocation & { line: number };

export interface ParseResult {
  manifests: Manifest[];
  errors: GantryError[];
}

// Kubernetes reads YAML 1.1 (go-yaml v2 via sigs.k8s.io/yaml): `0644` is octal and
// `yes` is a boolean. Parsing as 1.2 would silently turn `defaultMode: 0400` into 400.
// go-yaml does not resolve sexagesimal numbers (`1:30`) or timestamps into other
// types, so those tags are dropped and such scalars stay strings.
const dropTimeTags = (tags: Tags): Tags =>
  tags.filter((t) => (typeof t === 'string' ? !['intTime', 'floatTime', 'timestamp'].includes(t) : t.format !== 'TIME' && t.tag !== 'tag:yaml.org,2002:timestamp'));
const PARSE_OPTIONS = { version: '1.1', merge: true, prettyErrors: false, customTags: dropTimeTags } as const;

type Path = (string | number)[];

export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeType(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (isMapping(v)) return 'a mapping';
  return `${typeof v === 'string' ? 'the string' : `the ${typeof v}`} ${JSON.stringify(v)}`;
}

/**
 * Parses every document of `text`. Empty documents are skipped and `kind: List`
 * (or any `…List` with `items`) is flattened. Each problem becomes its own error.
 */
export function parseManifests(text: string, file: string, locate: Locate = (line, column) => ({ file, line, column })): ParseResult {
  const result: ParseResult = { manifests: [], errors: [] };
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // editors on Windows add a byte-order mark
  for (const doc of documentsOf(text)) {
    parseDocuments(doc.text, (line, column) => locate(line + doc.linesBefore, column), result);
  }
  return result;
}

/**
 * Cuts the text at its `---` lines, as kubectl does before it reads any YAML: a broken
 * document (an unterminated quote) then cannot swallow the documents after it, and its
 * error points into the document itself rather than at the end of the file.
 */
function documentsOf(text: string): { text: string; linesBefore: number }[] {
  const docs: { text: string; linesBefore: number }[] = [];
  let start = 0;
  let linesBefore = 0;
  for (const m of text.matchAll(/^(?:---|\.\.\.|%).*$/gm)) {
    // Directives, `...` and `--- content` are rare: the whole text goes to `yaml` then.
    if (!/^---\s*$/.test(m[0])) return [{ text, linesBefore: 0 }];
    docs.push({ text: text.slice(start, m.index), linesBefore });
    linesBefore += newlines(text, start, m.index) + 1; // the document's lines and the separator
    start = m.index + m[0].length + 1;
  }
  docs.push({ text: text.slice(start), linesBefore });
  return docs;
}

function newlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function parseDocuments(text: string, locate: Locate, result: ParseResult): void {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { ...PARSE_OPTIONS, lineCounter });
  // Unterminated quotes and brackets are reported at the end of the text; pointing at the
  // last real character keeps the annotation on a line that exists.
  const lastChar = Math.max(0, text.trimEnd().length - 1);
  const at = (offset: number): ErrorLocation & { line: number } => {
    const pos = lineCounter.linePos(Math.min(offset, lastChar));
    return locate(pos.line, pos.col);
  };

  for (const doc of docs) {
    if (doc.errors.length > 0) {
      // One error per document: the first is the cause, the rest usually follow from it.
      const err = doc.errors[0]!;
      result.errors.push(new GantryError(`YAML syntax error: ${err.message}`, { location: at(err.pos[0]), title: 'Invalid YAML', hint: 'Fix the YAML at this position; nothing is applied until every manifest parses.' }));
      continue;
    }
    if (doc.contents === null) continue;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      result.errors.push(new GantryError(`YAML could not be read: ${(err as Error).message}`, { location: at(doc.contents.range[0]), title: 'Invalid YAML' }));
      continue;
    }
    if (value === null || value === undefined) continue; // a document holding only `~` or comments
    collect(value, [], doc, at, result);
  }
}

function isList(value: unknown): boolean {
  return isMapping(value) && typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items);
}

function collect(value: unknown, path: Path, doc: Document.Parsed, at: (offset: number) => ErrorLocation & { line: number }, result: ParseResult): void {
  const locationOf = (sub: Path): ErrorLocation & { line: number } => {
    // Walk back to the closest node that exists, so a missing field points at its parent.
    for (let p = [...path, ...sub]; ; p = p.slice(0, -1)) {
      const node = p.length === 0 ? doc.contents : doc.getIn(p, true);
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      if (range) return at(range[0]);
      if (p.length === 0) return at(0);
    }
  };
  const fail = (message: string, sub: Path = [], hint?: string): void => {
    result.errors.push(new GantryError(message, { location: locationOf(sub), title: 'Invalid manifest', hint }));
  };

  if (isList(value)) {
    (value as { items: unknown[] }).items.forEach((item, i) => collect(item, [...path, 'items', i], doc, at, result));
    return;
  }
  const problems = shapeProblems(value);
  for (const p of problems) fail(p.message, p.path, p.hint);
  if (problems.length > 0) return;
  const loc = locationOf([]);
  result.manifests.push({ object: toObject(value as Record<string, unknown>), file: loc.file, line: loc.line });
}

interface Problem {
  message: string;
  /** Where inside the object, for the location. */
  path: Path;
  hint?: string;
}

/** What keeps a value from being a Kubernetes object we can deploy; empty when it is one. */
function shapeProblems(value: unknown): Problem[] {
  const problems: Problem[] = [];
  const fail = (message: string, path: Path = [], hint?: string): void => {
    problems.push({ message, path, hint });
  };
  if (!isMapping(value)) {
    fail(`expected a Kubernetes object (a mapping with apiVersion, kind and metadata), found ${describeType(value)}`);
    return problems;
  }
  const kind = value.kind;
  const need = 'Every Kubernetes object needs apiVersion, kind and metadata.name.';
  if (typeof value.apiVersion !== 'string' || value.apiVersion === '') fail(value.apiVersion === undefined ? 'object has no apiVersion' : `apiVersion must be a string, found ${describeType(value.apiVersion)}`, value.apiVersion === undefined ? [] : ['apiVersion'], need);
  if (typeof kind !== 'string' || kind === '') fail(kind === undefined ? 'object has no kind' : `kind must be a string, found ${describeType(kind)}`, kind === undefined ? [] : ['kind'], need);
  const what = typeof kind === 'string' && kind !== '' ? kind : 'object';
  const meta = value.metadata;
  if (!isMapping(meta)) {
    fail(meta === undefined ? `${what} has no metadata.name` : `${what} metadata must be a mapping, found ${describeType(meta)}`, meta === undefined ? [] : ['metadata'], need);
  } else {
    if (meta.name === undefined) {
      if (meta.generateName !== undefined) fail(`${what} uses metadata.generateName, which apply cannot track`, ['metadata', 'generateName'], 'Give the object a fixed metadata.name.');
      else fail(`${what} has no metadata.name`, ['metadata'], need);
    } else if (typeof meta.name !== 'string' || meta.name === '') {
      fail(`${what} metadata.name must be a non-empty string, found ${describeType(meta.name)}`, ['metadata', 'name'], 'Quote the name so YAML reads it as a string.');
    }
    if (meta.namespace !== undefined && meta.namespace !== null && typeof meta.namespace !== 'string') {
      fail(`${what} metadata.namespace must be a string, found ${describeType(meta.namespace)}`, ['metadata', 'namespace'], 'Quote the namespace.');
    }
    for (const field of ['labels', 'annotations'] as const) {
      const map = meta[field];
      if (map === undefined || map === null) continue;
      if (!isMapping(map)) {
        fail(`${what} metadata.${field} must be a mapping, found ${describeType(map)}`, ['metadata', field]);
        continue;
      }
      for (const [k, v] of Object.entries(map)) {
        if (typeof v !== 'string') fail(`${what} metadata.${field}.${k} must be a string, found ${describeType(v)}`, ['metadata', field, k], `Quote the value ("${String(v)}") so YAML reads it as a string.`);
      }
    }
  }
  return problems;
}

/** null metadata fields are valid YAML for "absent"; normalise so later code sees absent. */
function toObject(value: Record<string, unknown>): KubeObject {
  const object = value as KubeObject;
  if (object.metadata.namespace === null || object.metadata.namespace === '') delete object.metadata.namespace;
  if (object.metadata.labels === null) delete object.metadata.labels;
  if (object.metadata.annotations === null) delete object.metadata.annotations;
  return object;
}
