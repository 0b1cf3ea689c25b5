import { describe, expect, it } from 'vitest';
import { changedObjects, decodeObjects, encodeObjects, restorable, restoreSnapshot, takeSnapshot } from '../../src/kube/snapshot.js';
import { FakeCluster, configMap, deployment } from '../fixtures/deploy/fake-cluster.js';

describe('snapshot', () => {
  it('strips what the server owns so the object can be replaced back', () => {
    const live = { ...configMap('c', { a: '1' }), status: { x: 1 } };
    live.metadata = { ...live.metadata, uid: 'u', resourceVersion: '7', generation: 2, creationTimestamp: 't', managedFields: [{}], labels: { keep: 'me' } };
    expect(restorable(live)).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default', labels: { keep: 'me' } }, data: { a: '1' } });
  });

  it('records existing objects and the ones about to be created, in one call', async () => {
    const cluster = new FakeCluster();
    cluster.put(configMap('old', { a: '1' }));
    const snap = await takeSnapshot(cluster, [configMap('old', { a: '2' }), configMap('new', { b: '1' })], 'default');
    expect(cluster.calls).toHaveLength(1);
    expect(snap.existing.map((o) => [o.metadata.name, (o as { data?: unknown }).data])).toEqual([['old', { a: '1' }]]);
    expect(snap.created.map((o) => o.metadata.name)).toEqual(['new']);
  });

  it('counts as changed only what differs, ignoring Gantry trace annotations', () => {
    const before = { existing: [configMap('same', { a: '1' }), configMap('diff', { a: '1' })], created: [] };
    const same = configMap('same', { a: '1' });
    same.metadata.annotations = { 'gantry.dev/revision': '9' };
    const changed = changedObjects(before, [same, configMap('diff', { a: '2' }), configMap('new', {})], 'default');
    expect(changed.map((o) => o.metadata.name)).toEqual(['diff', 'new']);
  });

  it('restores replaced objects exactly, re-creates deleted ones and removes created ones', async () => {
    const cluster = new FakeCluster();
    const original = [restorable(cluster.put(deployment('web', 'app:v1'))), restorable(cluster.put(configMap('gone', { a: '1' })))];
    cluster.put(deployment('web', 'app:v2', { env: [{ name: 'NEW', value: 'x' }] }));
    cluster.objects.delete('ConfigMap/default/gone');
    cluster.put(configMap('extra', {}));
    await restoreSnapshot(cluster, { existing: original, created: [configMap('extra', {})] });
    expect(restorable(cluster.get('Deployment', 'web')!).spec).toEqual(original[0]!.spec);
    expect(cluster.get('ConfigMap', 'gone')).toBeDefined();
    expect(cluster.get('ConfigMap', 'extra')).toBeUndefined();
    expect(cluster.calls.length).toBeLessThanOrEqual(4);
  });

  it('round-trips through the compressed Secret encoding', () => {
    const objects = Array.from({ length: 1000 }, (_, i) => configMap(`cm-${i}`, { i: String(i) }));
    const encoded = encodeObjects(objects);
    expect(encoded.length).toBeLessThan(1024 * 1024);
    expect(decodeObjects(encoded)).toEqual(objects);
  });
});
