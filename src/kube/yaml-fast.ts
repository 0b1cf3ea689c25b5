// A fast reader for the plain block YAML nearly every manifest is written in. The `yaml`
// library needs ~0.5 ms per Deployment, too slow for 1,000 objects in 0.5 s. This reader
// handles only the common subset and gives up (returns undefined) on anything else:
// block scalars, anchors, tags, multi-line or escaped strings, odd indentation, errors.
// The caller then uses the `yaml` library, which also writes every error message, so this
// path only ever sees input it understands. Scalars are resolved with the `yaml` library's
// own YAML 1.1 tags, so both paths give identical values (checked in yaml-fast tests).
import { Schema, isScalar, type ParseOptions, type Tags } from 'yaml';

/** Kubernetes reads YAML 1.1 but keeps times and dates as strings; see yaml-documents.ts. */
export const dropTimeTags = (tags: Tags): Tags =>
  tags.filter((t) => (typeof t === 'string' ? !['intTime', 'floatTime', 'timestamp'].includes(t) : t.format !== 'TIME' && t.tag !== 'tag:yaml.org,2002:timestamp'));

const SCHEMA = new Schema({ schema: 'yaml-1.1', merge: true, customTags: dropTimeTags });
const SCALAR_TAGS = SCHEMA.tags.filter((t) => t.default === true && t.test !== undefined && 'resolve' in t);
const RESOLVE_OPTIONS = { intAsBigInt: false } as ParseOptions;

// Thrown to abandon the fast path; a constant, so no stack trace is captured each time.
const UNSUPPORTED = Symbol('unsupported');
function giveUp(): never {
  throw UNSUPPORTED;
}

interface Line {
  /** 1-based line number in the whole text. */
  no: number;
  indent: number;
  /** The line without its indentation (and without a trailing \r). */
  text: string;
}

/**
 * Reads one document (lines[start..end) of the text), or returns undefined when the
 * document uses anything beyond the simple subset. `value` is undefined for an empty
 * document; `line` is the 1-based line of its first key.
 */
export function readSimpleDocument(lines: string[], start: number, end: number): { value: unknown; line: number } | undefined {
  const ls: Line[] = [];
  for (let n = start; n < end; n++) {
    let raw = lines[n]!;
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    if (raw.includes('\t')) return undefined;
    const text = raw.trimStart();
    if (text === '' || text.startsWith('#')) continue;
    ls.push({ no: n + 1, indent: raw.length - text.length, text: text.trimEnd() });
  }
  if (ls.length === 0) return { value: undefined, line: start + 1 };
  try {
    const reader = new BlockReader(ls);
    const value = reader.document();
    return { value, line: ls[0]!.no };
  } catch (err) {
    if (err === UNSUPPORTED) return undefined;
    throw err;
  }
}

class BlockReader {
  private i = 0;
  constructor(private readonly ls: Line[]) {}

  document(): Record<string, unknown> {
    const first = this.ls[0]!;
    if (first.indent !== 0 || isSeqItem(first.text)) giveUp();
    const value = this.map(0);
    if (this.i !== this.ls.length) giveUp();
    return value;
  }

  private block(indent: number): unknown {
    return isSeqItem(this.ls[this.i]!.text) ? this.seq(indent) : this.map(indent);
  }

  private map(indent: number): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    while (this.i < this.ls.length) {
      const l = this.ls[this.i]!;
      if (l.indent < indent || (l.indent === indent && isSeqItem(l.text))) break;
      if (l.indent > indent) giveUp();
      const entry = splitKey(l.text);
      if (!entry || Object.hasOwn(map, entry.key)) giveUp(); // duplicate keys: let `yaml` report them
      this.i++;
      map[entry.key] = this.valueAfter(entry.rest, indent, true);
    }
    return map;
  }

  private seq(indent: number): unknown[] {
    const items: unknown[] = [];
    while (this.i < this.ls.length) {
      const l = this.ls[this.i]!;
      if (l.indent !== indent || !isSeqItem(l.text)) {
        if (l.indent > indent) giveUp();
        break;
      }
      const content = l.text.slice(1).trimStart();
      if (isSeqItem(content)) giveUp();
      if (content !== '' && !content.startsWith('#') && splitKey(content)) {
        // `- key: value` starts a mapping whose keys line up with `key`.
        l.indent += l.text.length - content.length;
        l.text = content;
        items.push(this.map(l.indent));
        continue;
      }
      this.i++;
      items.push(this.valueAfter(content, indent, false));
    }
    return items;
  }

  /** The value after `key:` or `-`: inline on the same line, or a nested block below. */
  private valueAfter(rest: string, indent: number, inMap: boolean): unknown {
    const next = this.ls[this.i];
    if (rest !== '' && !rest.startsWith('#')) {
      if (next && next.indent > indent) giveUp(); // a multi-line scalar
      return inline(rest);
    }
    if (next && next.indent > indent) return this.block(next.indent);
    // YAML lets a sequence under a key start at the key's own indentation.
    if (inMap && next && next.indent === indent && isSeqItem(next.text)) return this.seq(indent);
    return null;
  }
}

function isSeqItem(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

/** Splits `key: rest` (rest may be empty), or returns undefined when the text is not a map entry. */
function splitKey(text: string): { key: string; rest: string } | undefined {
  let key: string;
  let after: number;
  if (text[0] === '"' || text[0] === "'") {
    const q = quoted(text, 0);
    if (!q) return undefined;
    let p = q.end;
    while (text[p] === ' ') p++;
    if (text[p] !== ':' || (p + 1 < text.length && text[p + 1] !== ' ')) return undefined;
    key = q.value;
    after = p + 1;
  } else {
    if (/^[-?:,[\]{}#&*!|>%@`]/.test(text)) return undefined;
    const colon = text.indexOf(': ');
    const end = colon >= 0 ? colon : text.endsWith(':') ? text.length - 1 : -1;
    if (end <= 0) return undefined;
    key = text.slice(0, end).trimEnd();
    if (key.includes(' #')) return undefined;
    // A key YAML would read as something else (`yes`, `1`, `null`, `<<`) is left to `yaml`.
    if (key === '<<' || resolvePlain(key) !== key) giveUp();
    after = end + 1;
  }
  if (key === '__proto__') giveUp();
  return { key, rest: text.slice(after).trim() };
}

/** An inline value in block context: quoted, flow collection or plain scalar, plus an optional comment. */
function inline(s: string): unknown {
  const c = s[0]!;
  if (c === '"' || c === "'") {
    const q = quoted(s, 0);
    if (!q) giveUp();
    endOfLine(s, q.end);
    return q.value;
  }
  if (c === '[' || c === '{') {
    const { value, end } = flow(s, 0);
    endOfLine(s, end);
    return value;
  }
  if (/^[&*!|>%@`,\]}?:#]/.test(s) || s.startsWith('- ')) giveUp();
  const hash = s.indexOf(' #');
  const plain = (hash >= 0 ? s.slice(0, hash) : s).trimEnd();
  if (plain.includes(': ') || plain.endsWith(':')) giveUp();
  return resolvePlain(plain);
}

function endOfLine(s: string, p: number): void {
  const rest = s.slice(p);
  if (rest !== '' && !/^\s+#/.test(rest)) giveUp();
}

/** A single-line quoted scalar starting at `p`; escapes in double quotes are left to `yaml`. */
function quoted(s: string, p: number): { value: string; end: number } | undefined {
  const q = s[p];
  if (q === '"') {
    const close = s.indexOf('"', p + 1);
    if (close < 0) return undefined;
    const value = s.slice(p + 1, close);
    if (value.includes('\\')) giveUp();
    return { value, end: close + 1 };
  }
  let value = '';
  let i = p + 1;
  for (;;) {
    const close = s.indexOf("'", i);
    if (close < 0) return undefined;
    value += s.slice(i, close);
    if (s[close + 1] !== "'") return { value, end: close + 1 };
    value += "'";
    i = close + 2;
  }
}

/** A single-line flow collection (`[a, "b"]`, `{app: web}`) starting at `p`. */
function flow(s: string, p: number): { value: unknown; end: number } {
  const open = s[p];
  const close = open === '[' ? ']' : '}';
  const items: unknown[] = [];
  const map: Record<string, unknown> = {};
  p = skipSpaces(s, p + 1);
  while (s[p] !== close) {
    if (p >= s.length) giveUp();
    if (open === '[') {
      const item = flowValue(s, p);
      items.push(item.value);
      p = item.end;
    } else {
      const key = flowKey(s, p);
      if (Object.hasOwn(map, key.key) || key.key === '__proto__') giveUp();
      const item = flowValue(s, skipSpaces(s, key.end));
      map[key.key] = item.value;
      p = item.end;
    }
    p = skipSpaces(s, p);
    if (s[p] === ',') p = skipSpaces(s, p + 1);
    else if (s[p] !== close) giveUp();
  }
  return { value: open === '[' ? items : map, end: p + 1 };
}

function skipSpaces(s: string, p: number): number {
  while (s[p] === ' ') p++;
  return p;
}

function flowKey(s: string, p: number): { key: string; end: number } {
  let key: string;
  let end: number;
  if (s[p] === '"' || s[p] === "'") {
    const q = quoted(s, p);
    if (!q) giveUp();
    key = q.value;
    end = skipSpaces(s, q.end);
    if (s[end] !== ':') giveUp();
  } else {
    const m = /^[^,[\]{}#:'"&*!|>%@`?-][^,[\]{}#:]*/.exec(s.slice(p));
    if (!m) giveUp();
    key = m[0].trimEnd();
    end = p + m[0].length;
    if (s[end] !== ':' || s[end + 1] !== ' ' || resolvePlain(key) !== key) giveUp();
  }
  return { key, end: end + 1 };
}

function flowValue(s: string, p: number): { value: unknown; end: number } {
  const c = s[p];
  if (c === '"' || c === "'") {
    const q = quoted(s, p);
    if (!q) giveUp();
    return q;
  }
  if (c === '[' || c === '{') return flow(s, p);
  if (c === '-' && (s[p + 1] === ' ' || s[p + 1] === ',' || s[p + 1] === undefined)) giveUp();
  const m = /^[^,[\]{}#:'"&*!|>%@`?][^,[\]{}#:]*/.exec(s.slice(p));
  if (!m) giveUp();
  return { value: resolvePlain(m[0].trimEnd()), end: p + m[0].length };
}

/** Resolves a plain scalar exactly as the `yaml` library does with our schema. */
function resolvePlain(text: string): unknown {
  for (const tag of SCALAR_TAGS) {
    if (!tag.test!.test(text)) continue;
    const value = (tag as { resolve: (v: string, onError: (msg: string) => void, o: ParseOptions) => unknown }).resolve(text, giveUp, RESOLVE_OPTIONS);
    return isScalar(value) ? value.value : value;
  }
  return text;
}
