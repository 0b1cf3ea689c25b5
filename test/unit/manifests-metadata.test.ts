// Traceability metadata: every object, and the pods workloads create, carry the
// commit and run; values that cannot be label values are kept whole in annotations.
import { describe, expect, test } from 'vitest';
import type { KubeObject } from '../../src/kube/client.js';
import { addMetadata, sanitizeLabelValue, type Manifest } from '../../src/kube/manifests.js';
import { collectErrors } from '../fixtures/manifests/workspace.js';

const RUN_URL = 'https://github.com/acme/shop/actions/runs/123456789/attempts/2';
const COMMIT = '3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39';

function m(object: Partial<KubeObject> & { kind: string }): Manifest {
  return { object: { apiVersion: 'v1', metadata: { name: 'x' }, ...object } as KubeObject, file: 'x.yaml', line: 1 };
}

type Meta = { labels?: Record<string, string>; annotations?: Record<string, string> };
const templateMeta = (o: KubeObject, ...path: string[]): Meta | undefined => {
  let node: unknown = o;
  for (const k of path) node = (node as Record<string, unknown> | undefined)?.[k];
  return node as Meta | undefined;
};

describe('addMetadata', () => {
  const meta = { labels: { 'gantry.dev/commit': COMMIT }, annotations: { 'gantry.dev/run-url': RUN_URL } };

  test.each([
    ['Deployment', { template: { metadata: { labels: { app: 'web' } }, spec: {} } }, ['spec', 'template', 'metadata']],
    ['StatefulSet', { template: { spec: {} } }, ['spec', 'template', 'metadata']],
    ['DaemonSet', { template: { spec: {} } }, ['spec', 'template', 'metadata']],
    ['ReplicaSet', { template: { spec: {} } }, ['spec', 'template', 'metadata']],
    ['ReplicationController', { template: { spec: {} } }, ['spec', 'template', 'metadata']],
    ['CronJob', { jobTemplate: { spec: { template: { spec: {} } } } }, ['spec', 'jobTemplate', 'spec', 'template', 'metadata']],
    ['CronJob', { jobTemplate: { spec: { template: { spec: {} } } } }, ['spec', 'jobTemplate', 'metadata']],
  ])('%s: the object and its pod template carry the labels and annotations', (kind, spec, path) => {
    const manifest = m({ kind, spec });
    addMetadata([manifest], meta);
    for (const target of [manifest.object.metadata, templateMeta(manifest.object, ...path)]) {
      expect(target?.labels).toMatchObject({ 'gantry.dev/commit': COMMIT });
      expect(target?.annotations).toMatchObject({ 'gantry.dev/run-url': RUN_URL });
    }
  });

  test('with podTemplates: false only the objects are stamped, so per-run metadata does not restart pods', () => {
    const manifest = m({ kind: 'Deployment', spec: { template: { metadata: { labels: { app: 'web' } }, spec: {} } } });
    addMetadata([manifest], meta, { podTemplates: false });
    expect(manifest.object.metadata.annotations).toMatchObject({ 'gantry.dev/run-url': RUN_URL });
    expect(templateMeta(manifest.object, 'spec', 'template', 'metadata')).toEqual({ labels: { app: 'web' } });
  });

  test('existing labels stay, so selectors keep matching; the pod template keeps its own labels', () => {
    const manifest = m({ kind: 'Deployment', metadata: { name: 'web', labels: { app: 'web' } }, spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: {} } } });
    addMetadata([manifest], meta);
    expect(manifest.object.metadata.labels).toEqual({ app: 'web', 'gantry.dev/commit': COMMIT });
    expect(templateMeta(manifest.object, 'spec', 'template', 'metadata')?.labels).toEqual({ app: 'web', 'gantry.dev/commit': COMMIT });
    expect(templateMeta(manifest.object, 'spec', 'selector')).toEqual({ matchLabels: { app: 'web' } });
  });

  test('a Job gets the metadata on itself but not on its immutable pod template, so an unchanged Job can be re-applied', () => {
    const manifest = m({ kind: 'Job', apiVersion: 'batch/v1', spec: { template: { metadata: { labels: { a: 'b' } }, spec: {} } } });
    addMetadata([manifest], meta);
    expect(manifest.object.metadata.labels).toEqual({ 'gantry.dev/commit': COMMIT });
    expect(templateMeta(manifest.object, 'spec', 'template', 'metadata')).toEqual({ labels: { a: 'b' } });
  });

  test('objects without templates (Services, ConfigMaps, Pods) get it on their metadata only', () => {
    const svc = m({ kind: 'Service', spec: { selector: { app: 'web' } } });
    const pod = m({ kind: 'Pod', spec: { containers: [] } });
    addMetadata([svc, pod], meta);
    expect(svc.object.spec).toEqual({ selector: { app: 'web' } });
    expect(pod.object.metadata.labels).toEqual({ 'gantry.dev/commit': COMMIT });
    expect(pod.object.spec).toEqual({ containers: [] });
  });

  test('a value that is not a valid label value is sanitized, and the whole value goes into an annotation of the same key', () => {
    const manifest = m({ kind: 'ConfigMap' });
    addMetadata([manifest], { labels: { 'gantry.dev/run': RUN_URL, 'gantry.dev/commit': COMMIT } });
    const label = manifest.object.metadata.labels!['gantry.dev/run']!;
    expect(label.length).toBeLessThanOrEqual(63);
    expect(label).toMatch(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/);
    expect(manifest.object.metadata.annotations).toEqual({ 'gantry.dev/run': RUN_URL });
    expect(manifest.object.metadata.labels!['gantry.dev/commit']).toBe(COMMIT);
  });

  test('invalid keys are refused, all at once, before any object is touched', async () => {
    const manifest = m({ kind: 'ConfigMap' });
    const errors = await collectErrors(() => addMetadata([manifest], { labels: { 'has space': 'x', ['a'.repeat(64)]: 'y' }, annotations: { 'Bad_Prefix.io/x': 'z' } }));
    expect(errors.map((e) => e.message)).toEqual(['"has space" is not a valid label key', `"${'a'.repeat(64)}" is not a valid label key`, '"Bad_Prefix.io/x" is not a valid annotation key']);
    expect(manifest.object.metadata.labels).toBeUndefined();
  });
});

describe('sanitizeLabelValue', () => {
  test.each([
    ['v1.2.3', 'v1.2.3'],
    ['feature/login', 'feature-login'],
    ['-leading and trailing-', 'leading-and-trailing'],
    ['a'.repeat(70), 'a'.repeat(63)],
    [`${'a'.repeat(62)}.b`, 'a'.repeat(62)],
    ['', ''],
    ['ünïcode', 'n-code'],
  ])('%j → %j', (input, expected) => {
    expect(sanitizeLabelValue(input)).toBe(expected);
  });
});
