// The fast YAML reader must never disagree with the `yaml` library: for every input it
// either gives up or returns exactly what `yaml` (YAML 1.1, as Kubernetes reads it) returns.
import { parseDocument } from 'yaml';
import { describe, expect, test } from 'vitest';
import { dropTimeTags, readSimpleDocument } from '../../src/kube/yaml-fast.js';

function reference(text: string): unknown {
  const doc = parseDocument(text, { version: '1.1', merge: true, customTags: dropTimeTags });
  try {
    return doc.errors.length > 0 ? 'error' : doc.toJS();
  } catch {
    return 'error'; // e.g. an alias without its anchor
  }
}

function fast(text: string): unknown {
  const lines = text.split('\n');
  return readSimpleDocument(lines, 0, lines.length)?.value ?? 'gave up';
}

/** Fast agrees with `yaml`, or gave up; returns whether the fast path handled it. */
function agree(text: string): boolean {
  const mine = fast(text);
  const theirs = reference(text);
  if (mine === 'gave up') return false;
  expect({ text, value: mine }).toEqual({ text, value: theirs });
  return true;
}

const SCALARS = [
  'web', 'yes', 'Yes', 'no', 'on', 'OFF', 'y', 'n', 'true', 'False', '~', 'null', 'Null',
  '0', '7', '-1', '+1', '0644', '0o644', '0x1F', '0b101', '1_000', '1.0', '.5', '1e3', '-2.5E-3', '.inf', '-.Inf', '.nan',
  '12:30', '1:20:30', '2024-01-01', '2024-01-01T10:00:00Z', '"quoted"', "'single'", "'it''s'", '"a # b"', '"a: b"', '""', "''",
  'a # comment', 'http://x/#frag', 'a:b', 'a b  c', '-foo', '--flag=1', '@at', '`tick`', '%pct', '!tag x', '&anchor x', '*alias',
  '"esc\\n"', '[a, b]', '[]', '{}', '{a: 1}', '[1, "two", {x: y}]', '[a,b]', '{a: [1, 2], b: {c: d}}', '[http://x]', '[a, ]', '{a}',
  '|', '>-', 'a: b', '- x', '"unterminated', "'unterminated", '[unclosed', 'v1.2.3', 'sha256:abc', 'localhost:5000/app:v1', '0.0.0.0/0',
];

describe('scalars and flow values agree with the yaml library in every position', () => {
  test.each(SCALARS)('%s', (token) => {
    for (const text of [`k: ${token}\n`, `k:\n  - ${token}\n`, `k: [${token}]\n`, `k: {x: ${token}}\n`, `${token}: v\n`, `k:\n- ${token}\n`]) agree(text);
  });

  test('plain words, numbers, booleans and flow collections are handled by the fast path', () => {
    const handled = ['web', 'yes', '0644', '1.0', '"quoted"', "'it''s'", '[a, b]', '{a: [1, 2], b: {c: d}}', 'a # comment', 'localhost:5000/app:v1', '12:30'];
    for (const token of handled) expect(agree(`k: ${token}\n`), token).toBe(true);
  });
});

const DOCUMENTS: [string, string, boolean][] = [
  ['a typical Deployment', `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app.kubernetes.io/name: web   # trailing comment
    "quoted/key": v
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels:
        app: web
    spec:
      # a comment line between keys
      containers:
        - name: web
          image: localhost:5000/app@sha256:abc
          args: ["--port", "8080"]
          env:
            - name: A
              value: "1"
            -   name: B
                value: '2'
          ports:
          - containerPort: 8080
            protocol: TCP
      volumes:
        - name: v
          configMap:
            defaultMode: 0644
`, true],
  ['an empty value and a nested empty list item', 'a:\nb:\n  -\n  - x\nc: ~\n', true],
  ['a sequence of sequences', 'a:\n  - - x\n', false],
  ['a block scalar', 'data:\n  f: |\n    line\n', false],
  ['a multi-line plain scalar', 'a: one\n  two\n', false],
  ['a multi-line plain scalar in a list', 'a:\n  - one\n    two\n', false],
  ['anchors and aliases', 'a: &x 1\nb: *x\n', false],
  ['a merge key', 'a: {x: 1}\nb:\n  <<: {x: 2}\n', false],
  ['duplicate keys', 'a: 1\na: 2\n', false],
  ['a tab', 'a:\n\tb: 1\n', false],
  ['bad indentation', 'a:\n    b: 1\n  c: 2\n', false],
  ['a scalar document', 'just text\n', false],
  ['a list document', '- a\n- b\n', false],
  ['an indented document', '  a: 1\n', false],
  ['CRLF line endings', 'a: 1\r\nb:\r\n  - x\r\n', true],
  ['a __proto__ key', '__proto__: {polluted: true}\n', false],
  ['a key that YAML reads as a number', '80: http\n', false],
  ['a mapping value that continues', 'a: b: c\n', false],
];

describe('whole documents', () => {
  test.each(DOCUMENTS)('%s', (_, text, handled) => {
    expect(agree(text)).toBe(handled);
  });

  test('the line of a document is the line of its first key, after comments and blank lines', () => {
    const lines = ['# header', '', 'kind: ConfigMap', 'apiVersion: v1'];
    expect(readSimpleDocument(lines, 0, lines.length)).toEqual({ value: { kind: 'ConfigMap', apiVersion: 'v1' }, line: 3 });
  });
});

describe('random documents', () => {
  test('3,000 generated documents: the fast reader agrees with `yaml` whenever it does not give up', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pick = <T,>(xs: T[]): T => xs[rand(xs.length)]!;
    const keys = ['a', 'name', 'app.kubernetes.io/name', '"q k"', 'yes', '1', 'b c', '-x', 'a'];
    let handled = 0;
    for (let n = 0; n < 3000; n++) {
      const lines: string[] = [];
      const depth = [0];
      for (let l = 0; l < 1 + rand(8); l++) {
        const indent = pick(depth) + pick([0, 0, 2, 2, 4, 1]);
        const pad = ' '.repeat(indent);
        const form = rand(6);
        if (form === 0) lines.push(`${pad}${pick(keys)}:`);
        else if (form === 1) lines.push(`${pad}- ${pick(SCALARS)}`);
        else if (form === 2) lines.push(`${pad}- ${pick(keys)}: ${pick(SCALARS)}`);
        else if (form === 3) lines.push(`${pad}# note`);
        else lines.push(`${pad}${pick(keys)}: ${pick(SCALARS)}`);
        depth.push(indent + 2);
      }
      if (agree(lines.join('\n') + '\n')) handled++;
    }
    // Sanity: the generator produces enough simple documents for the comparison to mean something.
    expect(handled).toBeGreaterThan(300);
  });
});
