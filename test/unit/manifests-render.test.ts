// Kustomize directories and Helm charts are rendered by their tools (faked here) and
// their objects point back at the kustomization or template they came from.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { Kubectl } from '../../src/kube/kubectl.js';
import { loadManifests, type LoadOptions } from '../../src/kube/manifests.js';
import { FakeRunner, collectErrors, makeWorkspace, type TempWorkspace } from '../fixtures/manifests/workspace.js';
import { formatLocation } from '../../src/errors.js';

const RENDERED = `apiVersion: v1
kind: Service
metadata:
  name: web
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
`;

const HELM_OUTPUT = `---
# Source: web-chart/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: rel
---
# Source: web-chart/templates/deployment.yaml
# a comment the template starts with
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rel
`;

let ws: TempWorkspace | undefined;
afterEach(() => {
  ws?.remove();
  ws = undefined;
});

/** A workspace with a kustomize dir, a chart, a values file and an executable stand-in for helm. */
function workspace(): TempWorkspace {
  ws = makeWorkspace({
    'deploy/overlay/kustomization.yaml': 'resources: []\n',
    'charts/web/Chart.yaml': 'apiVersion: v2\nname: web-chart\nversion: 0.1.0\n',
    'charts/web/templates/service.yaml': 'kind: Service\n',
    'charts/prod.yaml': 'replicas: 3\n',
    'bin/helm': '#!/bin/sh\nexit 99\n',
  });
  chmodSync(join(ws.root, 'bin/helm'), 0o755);
  return ws;
}

describe('kustomize', () => {
  test('a kustomize directory is built with one `kubectl kustomize` call and its objects name the kustomization', async () => {
    const { root } = workspace();
    const runner = new FakeRunner(() => ({ stdout: RENDERED }));
    const kubectl = new Kubectl({ runner });
    const manifests = await loadManifests({ workspace: root, paths: ['deploy/overlay'], kubectl, namespace: 'shop' });
    expect(runner.calls.map((c) => [c.command, ...c.args])).toEqual([['kubectl', 'kustomize', join(root, 'deploy/overlay')]]);
    expect(kubectl.calls).toBe(1);
    expect(manifests.map((m) => `${m.file}:${m.line} ${m.object.kind}/${m.object.metadata.namespace}/${m.object.metadata.name}`)).toEqual([
      'deploy/overlay/kustomization.yaml:1 Service/shop/web',
      'deploy/overlay/kustomization.yaml:6 Deployment/shop/web',
    ]);
  });

  test('a failing build names the directory and shows kustomize’s reason, without the absolute path', async () => {
    const { root } = workspace();
    const kubectl = new Kubectl({ runner: new FakeRunner(() => ({ exitCode: 1, stderr: `error: accumulating resources: ${join(root, 'deploy/overlay')}/missing.yaml: no such file` })) });
    const [error] = await collectErrors(() => loadManifests({ workspace: root, paths: ['deploy/overlay'], kubectl }));
    expect(error!.message).toBe('kustomize could not build deploy/overlay: error: accumulating resources: deploy/overlay/missing.yaml: no such file');
    expect(error!.location).toEqual({ file: 'deploy/overlay/kustomization.yaml' });
  });
});

describe('helm', () => {
  const kubectl = new Kubectl({ runner: new FakeRunner(() => ({ exitCode: 1, stderr: 'kubectl must not run for charts' })) });
  const helmOptions = (root: string, runner: FakeRunner): LoadOptions['helm'] => ({
    binary: join(root, 'bin/helm'),
    runner,
    releaseName: 'rel',
    valuesFiles: ['charts/prod.yaml'],
    set: { mode: 'prod', 'image.tag': 'v2' },
  });

  test('a chart is rendered with `helm template` and its objects point at the template they came from', async () => {
    const { root } = workspace();
    const runner = new FakeRunner(() => ({ stdout: HELM_OUTPUT }));
    const manifests = await loadManifests({ workspace: root, paths: ['charts/web'], kubectl, namespace: 'shop', helm: helmOptions(root, runner) });
    expect(runner.calls).toHaveLength(1);
    expect([runner.calls[0]!.command, ...runner.calls[0]!.args]).toEqual([
      join(root, 'bin/helm'),
      'template',
      'rel',
      join(root, 'charts/web'),
      '--include-crds',
      '--skip-tests',
      '--namespace',
      'shop',
      '--values',
      join(root, 'charts/prod.yaml'),
      '--set',
      'mode=prod',
      '--set',
      'image.tag=v2',
    ]);
    expect(manifests.map((m) => `${m.file}:${m.line} ${m.object.kind}/${m.object.metadata.namespace}/${m.object.metadata.name}`)).toEqual([
      'charts/web/templates/service.yaml:1 Service/shop/rel',
      'charts/web/templates/deployment.yaml:2 Deployment/shop/rel',
    ]);
  });

  test.each([
    ['a template error', 'Error: template: web-chart/templates/deployment.yaml:12:20: executing "x" at <.Values.nope>: nil pointer', 'charts/web/templates/deployment.yaml:12:20'],
    ['a YAML error in rendered output', 'Error: YAML parse error on web-chart/templates/service.yaml: error converting YAML to JSON: yaml: line 7: did not find expected key', 'charts/web/templates/service.yaml:7'],
    ['any other failure', 'Error: chart requires kubeVersion >=1.40', 'charts/web/Chart.yaml'],
  ])('helm failing with %s points at the template', async (_, stderr, where) => {
    const { root } = workspace();
    const runner = new FakeRunner(() => ({ exitCode: 1, stderr }));
    const [error] = await collectErrors(() => loadManifests({ workspace: root, paths: ['charts/web'], kubectl, helm: helmOptions(root, runner) }));
    expect(error!.message).toBe(`helm template failed for charts/web: ${stderr}`);
    expect(formatLocation(error!.location!)).toBe(where);
  });

  test('without helm, a chart gives an error saying helm is required', async () => {
    const { root } = workspace();
    const runner = new FakeRunner(() => ({ stdout: HELM_OUTPUT }));
    const errors = await collectErrors(() => loadManifests({ workspace: root, paths: ['charts/web'], kubectl, helm: { binary: join(root, 'bin/no-helm'), runner, releaseName: 'rel' } }));
    expect(errors.map((e) => e.message)).toEqual([`paths: "charts/web" is a Helm chart, and rendering it requires helm, which was not found (no executable at "${join(root, 'bin/no-helm')}")`]);
    expect(errors[0]!.location).toEqual({ file: 'charts/web/Chart.yaml' });
    expect(runner.calls).toHaveLength(0);
  });

  test('helm is looked up on PATH when no binary is given', async () => {
    const { root } = workspace();
    const runner = new FakeRunner(() => ({ stdout: HELM_OUTPUT }));
    const path = process.env.PATH;
    process.env.PATH = `${join(root, 'nothing-here')}:${join(root, 'bin')}`;
    try {
      await loadManifests({ workspace: root, paths: ['charts/web'], kubectl, helm: { runner, releaseName: 'rel' } });
    } finally {
      process.env.PATH = path;
    }
    expect(runner.calls[0]!.command).toBe(join(root, 'bin/helm'));
  });

  test('a chart without a release name, and a values file outside the workspace, are refused', async () => {
    const { root } = workspace();
    writeFileSync(join(root, 'plain.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n');
    const runner = new FakeRunner(() => ({ stdout: HELM_OUTPUT }));
    expect((await collectErrors(() => loadManifests({ workspace: root, paths: ['charts/web', 'plain.yaml'], kubectl }))).map((e) => e.message)).toEqual([
      'paths: "charts/web" is a Helm chart, but no Helm release name is configured',
    ]);
    const errors = await collectErrors(() => loadManifests({ workspace: root, paths: ['charts/web'], kubectl, helm: { ...helmOptions(root, runner)!, valuesFiles: ['../values.yaml'] } }));
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/^helm values file: "\.\.\/values\.yaml" is outside the workspace/)]);
    expect(runner.calls).toHaveLength(0);
  });
});
