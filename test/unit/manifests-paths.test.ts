// Manifest paths: files, directories and globs are found inside the workspace,
// and anything that points outside it is refused by name.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { Kubectl } from '../../src/kube/kubectl.js';
import { globToRegExp, loadManifests } from '../../src/kube/manifests.js';
import { FakeRunner, collectErrors, makeWorkspace, type TempWorkspace } from '../fixtures/manifests/workspace.js';

const kubectl = new Kubectl({ runner: new FakeRunner(() => ({ exitCode: 1, stderr: 'kubectl must not run for plain files' })) });
const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;

const tree = {
  'k8s/b.yaml': cm('b'),
  'k8s/a.yml': cm('a'),
  'k8s/nested/deep/c.json': JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }),
  'k8s/README.md': '# not a manifest',
  'k8s/.hidden/h.yaml': cm('hidden'),
  'k8s/node_modules/n.yaml': cm('node-module'),
  'other/x1.yaml': cm('x1'),
  'other/x22.yaml': cm('x22'),
  'custom.manifest': cm('custom'),
};

let ws: TempWorkspace | undefined;
let outside: string | undefined;
afterEach(() => {
  ws?.remove();
  ws = undefined;
  if (outside) rmSync(outside, { recursive: true, force: true });
});

async function names(paths: string[]): Promise<string[]> {
  ws ??= makeWorkspace(tree);
  const manifests = await loadManifests({ workspace: ws.root, paths, kubectl });
  return manifests.map((m) => `${m.file}:${m.object.metadata.name}`);
}

async function messages(paths: string[], files: Record<string, string> = tree): Promise<string[]> {
  ws ??= makeWorkspace(files);
  const root = ws.root;
  return (await collectErrors(() => loadManifests({ workspace: root, paths, kubectl }))).map((e) => e.message);
}

describe('finding manifests', () => {
  test.each([
    ['a file, whatever its extension', ['custom.manifest'], ['custom.manifest:custom']],
    ['a directory, recursively and sorted, skipping other files, dot directories and node_modules', ['k8s'], ['k8s/a.yml:a', 'k8s/b.yaml:b', 'k8s/nested/deep/c.json:c']],
    ['a glob with *', ['k8s/*.yaml'], ['k8s/b.yaml:b']],
    ['a glob with **', ['**/c.json'], ['k8s/nested/deep/c.json:c']],
    ['a glob with ?', ['other/x?.yaml'], ['other/x1.yaml:x1']],
    ['paths in the order given', ['other', 'k8s/a.yml'], ['other/x1.yaml:x1', 'other/x22.yaml:x22', 'k8s/a.yml:a']],
    ['a file reached twice, once', ['k8s', 'k8s/*.yaml', './k8s/b.yaml'], ['k8s/a.yml:a', 'k8s/b.yaml:b', 'k8s/nested/deep/c.json:c']],
  ])('%s', async (_, paths, expected) => {
    expect(await names(paths)).toEqual(expected);
  });

  test('an absolute path inside the workspace is accepted and reported relative to it', async () => {
    ws = makeWorkspace(tree);
    expect(await names([join(ws.root, 'other/x1.yaml')])).toEqual(['other/x1.yaml:x1']);
  });

  test('a symlink that stays inside the workspace is followed', async () => {
    ws = makeWorkspace(tree);
    symlinkSync(join(ws.root, 'other'), join(ws.root, 'k8s/linked'));
    expect(await names(['k8s/linked/x1.yaml'])).toEqual(['other/x1.yaml:x1']);
  });
});

describe('refusing paths', () => {
  test.each([
    ['a parent path', '../etc', /^paths: "\.\.\/etc" is outside the workspace/],
    ['an absolute path elsewhere', '/etc/hosts', /^paths: "\/etc\/hosts" is outside the workspace/],
    ['a glob rooted elsewhere', '/etc/*.conf', /^paths: "\/etc\/\*\.conf" is outside the workspace/],
    ['".." after a wildcard', 'k8s/*/../../..', /uses "\.\." after a wildcard/],
    ['a missing path', 'k8s/missing.yaml', /^paths: "k8s\/missing\.yaml" does not exist/],
    ['a glob that matches nothing', 'k8s/*.yamll', /matches no \.yaml, \.yml or \.json files/],
  ])('%s', async (_, path, expected) => {
    const errors = await messages([path]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(expected);
  });

  test('symlinks that escape the workspace are refused, directly and inside a directory', async () => {
    outside = mkdtempSync(join(tmpdir(), 'gantry-outside-'));
    writeFileSync(join(outside, 'secret.yaml'), cm('secret'));
    ws = makeWorkspace(tree);
    symlinkSync(join(outside, 'secret.yaml'), join(ws.root, 'link.yaml'));
    mkdirSync(join(ws.root, 'dir'));
    symlinkSync(outside, join(ws.root, 'dir/escape'));
    const errors = await messages(['link.yaml', 'dir']);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^paths: "link\.yaml" leads through a symlink to .*, outside the workspace/);
    expect(errors[1]).toMatch(/^paths: "dir" leads through a symlink/);
  });

  test('every bad path is reported in one go, with the problems of the good ones', async () => {
    const errors = await messages(['../up', 'nope', 'bad.yaml'], { 'bad.yaml': 'apiVersion: v1\nkind: ConfigMap\n' });
    expect(errors).toEqual([expect.stringMatching(/outside the workspace/), expect.stringMatching(/does not exist/), 'ConfigMap has no metadata.name']);
  });

  test('a directory holding a nested kustomize overlay or chart asks for it to be listed on its own', async () => {
    const errors = await messages(['deploy'], { 'deploy/app.yaml': cm('a'), 'deploy/overlays/prod/kustomization.yaml': 'resources: []\n', 'deploy/chart/Chart.yaml': 'name: c\n' });
    expect(errors).toEqual(['paths: "deploy" contains the Helm chart deploy/chart', 'paths: "deploy" contains the kustomize directory deploy/overlays/prod']);
  });

  test.each([
    ['no paths', [], 'no manifest paths were given'],
    ['paths with no objects', ['empty'], 'the manifest paths (empty) contain no Kubernetes objects'],
  ])('%s is an error', async (_, paths, expected) => {
    expect(await messages(paths, { 'empty/a.yaml': '# nothing yet\n' })).toEqual([expected]);
  });
});

describe('glob patterns', () => {
  test.each([
    ['*.yaml', 'a.yaml', true],
    ['*.yaml', 'dir/a.yaml', false],
    ['*.yaml', '.hidden.yaml', false],
    ['**/*.yaml', 'a.yaml', true],
    ['**/*.yaml', 'x/y/z.yaml', true],
    ['**/*.yaml', '.git/z.yaml', false],
    ['app-?.yaml', 'app-1.yaml', true],
    ['app-?.yaml', 'app-12.yaml', false],
    ['a.b/*', 'a.b/c', true],
    ['a.b/*', 'aXb/c', false],
    ['k8s/**', 'k8s/x/y.yaml', true],
  ])('%s matches %s: %s', (glob, file, expected) => {
    expect(globToRegExp(glob).test(file)).toBe(expected);
  });
});
