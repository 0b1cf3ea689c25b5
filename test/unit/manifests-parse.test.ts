// Parsing manifests: objects come back with file:line, and every problem in every
// file is reported at once with a location a user can click.
import { afterEach, describe, expect, test } from 'vitest';
import { Kubectl } from '../../src/kube/kubectl.js';
import { loadManifests, objectKey, isClusterScoped } from '../../src/kube/manifests.js';
import { FakeRunner, collectErrors, makeWorkspace, type TempWorkspace } from '../fixtures/manifests/workspace.js';
import { formatLocation } from '../../src/errors.js';

const kubectl = new Kubectl({ runner: new FakeRunner(() => ({ exitCode: 1, stderr: 'kubectl must not run for plain files' })) });
let ws: TempWorkspace | undefined;
afterEach(() => ws?.remove());

async function load(files: Record<string, string>, paths = ['.'], namespace?: string) {
  ws = makeWorkspace(files);
  return loadManifests({ workspace: ws.root, paths, kubectl, namespace });
}

async function errorsOf(files: Record<string, string>, paths = ['.'], namespace?: string): Promise<string[]> {
  ws = makeWorkspace(files);
  const root = ws.root;
  const errors = await collectErrors(() => loadManifests({ workspace: root, paths, kubectl, namespace }));
  return errors.map((e) => `${e.location ? formatLocation(e.location) : '-'} ${e.message}`);
}

const deployment = (name: string, ns?: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}${ns ? `\n  namespace: ${ns}` : ''}
spec:
  template:
    spec:
      containers:
        - name: app
          image: app:v1
`;

describe('parsing', () => {
  test('multi-document files give one manifest per object, with the line each starts on', async () => {
    const text = `# leading comment\n---\n${deployment('web')}---\n---\n# only a comment\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n`;
    const manifests = await load({ 'k8s/app.yaml': text });
    expect(manifests.map((m) => [m.file, m.line, m.object.kind, m.object.metadata.name])).toEqual([
      ['k8s/app.yaml', 3, 'Deployment', 'web'],
      ['k8s/app.yaml', 17, 'Service', 'web'],
    ]);
  });

  test('kind: List is flattened and each item keeps its own line', async () => {
    const text = `apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: a}\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: b}\n`;
    const manifests = await load({ 'list.yaml': text });
    expect(manifests.map((m) => [m.object.metadata.name, m.line])).toEqual([
      ['a', 4],
      ['b', 7],
    ]);
  });

  test('documents with block scalars and anchors keep their values and lines', async () => {
    const text = `${deployment('web')}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: files\ndata:\n  app.conf: |\n    listen 8080\n    # not a comment\n  copy: &x same\n  again: *x\n`;
    const manifests = await load({ 'mixed.yaml': text });
    expect(manifests.map((m) => [m.object.kind, m.line])).toEqual([
      ['Deployment', 1],
      ['ConfigMap', 12],
    ]);
    expect(manifests[1]!.object.data).toEqual({ 'app.conf': 'listen 8080\n# not a comment\n', copy: 'same', again: 'same' });
  });

  test('a byte-order mark at the start of a file is ignored', async () => {
    const [m] = await load({ 'bom.yaml': `\uFEFF# saved on Windows\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: bom\r\n` });
    expect([m!.object.apiVersion, m!.object.metadata.name, m!.line]).toEqual(['v1', 'bom', 2]);
  });

  test('JSON files are read too', async () => {
    const manifests = await load({ 'cm.json': JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { a: '1' } }, null, 2) });
    expect(manifests[0]!.object.data).toEqual({ a: '1' });
  });

  test('YAML is read as Kubernetes reads it (1.1): 0400 is octal and yes is a boolean, times and dates stay strings', async () => {
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\nspec:\n  mode: 0400\n  flag: yes\n  at: 12:30\n  day: 2024-01-01\n`;
    const [m] = await load({ 'c.yaml': text });
    expect(m!.object.spec).toEqual({ mode: 0o400, flag: true, at: '12:30', day: '2024-01-01' });
  });
});

describe('every problem is reported at once, with file:line', () => {
  test.each([
    ['a syntax error', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n', /^bad\.yaml:4:\d+ YAML syntax error/],
    ['a duplicate key', 'apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata: {name: x}\n', /^bad\.yaml:3:1 YAML syntax error: Map keys must be unique/],
    ['a missing apiVersion', 'kind: ConfigMap\nmetadata: {name: x}\n', /^bad\.yaml:1:1 object has no apiVersion/],
    ['a missing kind', 'apiVersion: v1\nmetadata: {name: x}\n', /^bad\.yaml:1:1 object has no kind/],
    ['missing metadata', 'apiVersion: v1\nkind: ConfigMap\n', /^bad\.yaml:1:1 ConfigMap has no metadata\.name/],
    ['a missing name', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n', /^bad\.yaml:4:3 ConfigMap has no metadata\.name/],
    ['a name YAML reads as a number', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 0123\n', /^bad\.yaml:4:9 ConfigMap metadata\.name must be a non-empty string, found the number 83/],
    ['generateName', 'apiVersion: v1\nkind: Pod\nmetadata:\n  generateName: job-\n', /^bad\.yaml:4:17 Pod uses metadata\.generateName/],
    ['a label that is a number', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    version: 1.0\n', /^bad\.yaml:6:14 ConfigMap metadata\.labels\.version must be a string/],
    ['a document that is a list', '- a\n- b\n', /^bad\.yaml:1:1 expected a Kubernetes object .* found a list/],
    ['a bad item inside a List', 'apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: ok}\n  - 42\n', /^bad\.yaml:7:5 expected a Kubernetes object .* found the number 42/],
  ])('%s', async (_, text, expected) => {
    const errors = await errorsOf({ 'bad.yaml': text });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(expected);
  });

  test('a broken document does not hide the documents after it: each is read on its own, as kubectl does', async () => {
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "unterminated\n---\napiVersion: v1\nmetadata: {name: x}\n---\n${deployment('web')}`;
    expect(await errorsOf({ 'bad.yaml': text })).toEqual([
      expect.stringMatching(/^bad\.yaml:4:21 YAML syntax error: Missing closing "quote/),
      'bad.yaml:6:1 object has no kind',
    ]);
  });

  test('problems in several files are all reported together, nothing is returned', async () => {
    const errors = await errorsOf({
      'a.yaml': deployment('ok'),
      'b.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "unterminated\n',
      'c.yaml': `${deployment('fine')}---\nkind: Service\nmetadata: {name: s}\n`,
      'd/e.yml': 'apiVersion: v1\nkind: Secret\nmetadata: {}\n',
    });
    expect(errors.map((e) => e.split(' ')[0])).toEqual(['b.yaml:4:21', 'c.yaml:12:1', 'd/e.yml:3:11']);
  });

  test('the same object in two files is named with both locations', async () => {
    const errors = await errorsOf({ 'a.yaml': deployment('web', 'prod'), 'b.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n${deployment('web', 'prod')}` });
    expect(errors).toEqual(['b.yaml:5 Deployment "web" in namespace "prod" is defined twice: at a.yaml:1 and at b.yaml:5']);
  });

  test('the default namespace is applied before duplicates are found', async () => {
    const errors = await errorsOf({ 'a.yaml': deployment('web'), 'b.yaml': deployment('web', 'prod') }, ['.'], 'prod');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('is defined twice');
  });

  test('the same name in two namespaces, or under two kinds, is not a duplicate', async () => {
    const manifests = await load({ 'a.yaml': `${deployment('web', 'a')}---\n${deployment('web', 'b')}---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: a}\n` });
    expect(manifests).toHaveLength(3);
  });
});

describe('default namespace', () => {
  const objects = `${deployment('web')}---
${deployment('other', 'explicit')}---
apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec: {group: example.com, scope: Cluster, names: {kind: Widget, plural: widgets}}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: other.io/v1
kind: Widget
metadata: {name: w}
`;

  test('namespaced objects without one get it; cluster-scoped kinds (also from CRDs in the set) and explicit namespaces are left alone', async () => {
    const manifests = await load({ 'all.yaml': objects }, ['all.yaml'], 'prod');
    expect(manifests.map((m) => objectKey(m.object))).toEqual([
      'Deployment.apps/prod/web',
      'Deployment.apps/explicit/other',
      'Namespace/prod',
      'ClusterRole.rbac.authorization.k8s.io/reader',
      'CustomResourceDefinition.apiextensions.k8s.io/widgets.example.com',
      'Widget.example.com/w',
      'Widget.other.io/prod/w',
    ]);
  });

  test.each([
    ['Namespace', 'v1', true],
    ['PersistentVolume', 'v1', true],
    ['StorageClass', 'storage.k8s.io/v1', true],
    ['ValidatingWebhookConfiguration', 'admissionregistration.k8s.io/v1', true],
    ['APIService', 'apiregistration.k8s.io/v1', true],
    ['PersistentVolumeClaim', 'v1', false],
    ['Role', 'rbac.authorization.k8s.io/v1', false],
  ])('%s is cluster-scoped: %s', (kind, apiVersion, expected) => {
    expect(isClusterScoped({ apiVersion, kind, metadata: { name: 'x' } })).toBe(expected);
  });
});

describe('objectKey', () => {
  test.each([
    [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'prod' } }, 'Deployment.apps/prod/web'],
    [{ apiVersion: 'apps/v1beta2', kind: 'Deployment', metadata: { name: 'web', namespace: 'prod' } }, 'Deployment.apps/prod/web'],
    [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'prod' } }, 'Service/prod/web'],
    [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' } }, 'Namespace/prod'],
  ])('%o → %s', (object, key) => {
    expect(objectKey(object)).toBe(key);
  });
});
