// Image substitution: the image the user just built lands in exactly the containers
// that use its repository, in every workload kind, and nowhere else.
import { describe, expect, test } from 'vitest';
import type { KubeObject } from '../../src/kube/client.js';
import { substituteImages } from '../../src/kube/images.js';
import type { Manifest } from '../../src/kube/manifests.js';
import { collectErrors } from '../fixtures/manifests/workspace.js';

const DIGEST = 'sha256:' + 'a'.repeat(64);
const NEW = `localhost:5000/gantry/sample-app@sha256:${'b'.repeat(64)}`;

function podSpec(images: Record<string, string>, list: 'containers' | 'initContainers' | 'ephemeralContainers' = 'containers') {
  return { [list]: Object.entries(images).map(([name, image]) => ({ name, image })) };
}

function manifest(kind: string, spec: Record<string, unknown>, apiVersion = 'apps/v1'): Manifest {
  const object: KubeObject = { apiVersion, kind, metadata: { name: kind.toLowerCase(), namespace: 'prod' }, spec };
  return { object, file: `${kind.toLowerCase()}.yaml`, line: 1 };
}

describe('substituteImages', () => {
  test.each([
    ['a registry with a port, not a prefix of another repository', 'localhost:5000/app', { app: 'localhost:5000/app:v1', other: 'localhost:5000/app-other:v1' }, { app: NEW, other: 'localhost:5000/app-other:v1' }],
    ['an image with tag and digest', 'localhost:5000/app', { app: `localhost:5000/app:v1@${DIGEST}` }, { app: NEW }],
    ['an image with only a digest', 'localhost:5000/app', { app: `localhost:5000/app@${DIGEST}` }, { app: NEW }],
    ['a different port is a different registry', 'localhost:5000/app', { app: 'localhost:5001/app:v1' }, undefined],
    ['a path that only ends the same is a different repository', 'localhost:5000/app', { app: 'localhost:5000/team/app:v1', mine: 'localhost:5000/app' }, { app: 'localhost:5000/team/app:v1', mine: NEW }],
    ['a Docker Hub short name matches its full name', 'docker.io/library/nginx', { web: 'nginx:1.27' }, { web: NEW }],
    ['a full Docker Hub name matches the short name', 'nginx', { web: 'docker.io/library/nginx:1.27' }, { web: NEW }],
    ['a key with a tag only matches that tag', 'localhost:5000/app:v1', { a: 'localhost:5000/app:v1', b: 'localhost:5000/app:v2' }, { a: NEW, b: 'localhost:5000/app:v2' }],
  ])('%s', (_, key, images, expected) => {
    const m = manifest('Deployment', { template: { spec: podSpec(images) } });
    if (expected === undefined) {
      expect(() => substituteImages([m], { [key]: NEW })).toThrow(/matches no container/);
      return;
    }
    substituteImages([m], { [key]: NEW });
    const containers = (m.object.spec as { template: { spec: { containers: { name: string; image: string }[] } } }).template.spec.containers;
    expect(Object.fromEntries(containers.map((c) => [c.name, c.image]))).toEqual(expected);
  });

  const kinds: [string, (s: Record<string, unknown>) => Record<string, unknown>, string?][] = [
    ['Pod', (s) => s, 'v1'],
    ['Deployment', (s) => ({ template: { spec: s } })],
    ['StatefulSet', (s) => ({ template: { spec: s } })],
    ['DaemonSet', (s) => ({ template: { spec: s } })],
    ['ReplicaSet', (s) => ({ template: { spec: s } })],
    ['ReplicationController', (s) => ({ template: { spec: s } }), 'v1'],
    ['Job', (s) => ({ template: { spec: s } }), 'batch/v1'],
    ['CronJob', (s) => ({ schedule: '* * * * *', jobTemplate: { spec: { template: { spec: s } } } }), 'batch/v1'],
  ];
  test.each(kinds)('%s: containers, initContainers and ephemeralContainers are all replaced', (kind, wrap, apiVersion) => {
    const spec = { ...podSpec({ app: 'localhost:5000/app:v1' }), ...podSpec({ migrate: 'localhost:5000/app:v1' }, 'initContainers'), ...podSpec({ debug: 'localhost:5000/app:v1' }, 'ephemeralContainers') };
    const m = manifest(kind, wrap(spec), apiVersion);
    const changes = substituteImages([m], { 'localhost:5000/app': NEW });
    expect(changes.map((c) => `${c.kind}/${c.name} ${c.list}/${c.container}: ${c.from} → ${c.to}`)).toEqual(
      ['containers/app', 'initContainers/migrate', 'ephemeralContainers/debug'].map((c) => `${kind}/${kind.toLowerCase()} ${c}: localhost:5000/app:v1 → ${NEW}`),
    );
    expect(JSON.stringify(m.object)).not.toContain('localhost:5000/app:v1');
  });

  test('a bare repository as the new value renames the repository and keeps tag and digest', () => {
    const m = manifest('Deployment', { template: { spec: podSpec({ a: `app:v1@${DIGEST}`, b: 'app:v2' }) } });
    const changes = substituteImages([m], { app: 'registry.example.com/team/app' });
    expect(changes.map((c) => c.to)).toEqual([`registry.example.com/team/app:v1@${DIGEST}`, 'registry.example.com/team/app:v2']);
  });

  test('an image that already is the new reference is matched but not reported as a change', () => {
    const m = manifest('Deployment', { template: { spec: podSpec({ a: NEW }) } });
    expect(substituteImages([m], { 'localhost:5000/gantry/sample-app': NEW })).toEqual([]);
  });

  test('a change names the object, container, file and line', () => {
    const m = manifest('Deployment', { template: { spec: podSpec({ web: 'localhost:5000/gantry/sample-app:dev' }) } });
    m.line = 12;
    expect(substituteImages([m], { 'localhost:5000/gantry/sample-app': NEW })).toEqual([
      { kind: 'Deployment', name: 'deployment', namespace: 'prod', container: 'web', list: 'containers', from: 'localhost:5000/gantry/sample-app:dev', to: NEW, file: 'deployment.yaml', line: 12 },
    ]);
  });

  test('objects without pod templates and unparsable images are left alone', () => {
    const svc = manifest('Service', { selector: { app: 'x' } }, 'v1');
    const dep = manifest('Deployment', { template: { spec: podSpec({ a: '$(IMAGE)', b: 'localhost:5000/app:v1' }) } });
    const before = JSON.stringify(svc.object);
    substituteImages([svc, dep], { 'localhost:5000/app': NEW });
    expect(JSON.stringify(svc.object)).toBe(before);
    expect(JSON.stringify(dep.object)).toContain('$(IMAGE)');
  });

  test('bad keys, bad values and unmatched keys are all reported, and nothing is changed', async () => {
    const m = manifest('Deployment', { template: { spec: podSpec({ a: 'localhost:5000/app:v1' }) } });
    const errors = await collectErrors(() => substituteImages([m], { 'Not An Image': NEW, 'localhost:5000/app': 'bad ref' }));
    expect(errors.map((e) => e.message)).toEqual(['images: "Not An Image" is not an image repository', 'images: the new reference "bad ref" for "localhost:5000/app" is not an image reference']);

    const unmatched = await collectErrors(() => substituteImages([m], { 'localhost:5000/app': NEW, 'localhost:5000/ap': NEW }));
    expect(unmatched.map((e) => [e.message, e.hint])).toEqual([['images: "localhost:5000/ap" matches no container in the manifests', expect.stringContaining('Repositories used by the manifests: localhost:5000/app')]]);
    expect(JSON.stringify(m.object)).toContain('localhost:5000/app:v1');
  });

  test('two spellings of one repository mapped to different images are refused', () => {
    const m = manifest('Deployment', { template: { spec: podSpec({ a: 'nginx' }) } });
    expect(() => substituteImages([m], { nginx: 'nginx:1', 'docker.io/library/nginx': 'nginx:2' })).toThrow(/name the same repository/);
  });
});
