import { describe, expect, it } from 'vitest';
import { restorable } from '../../src/kube/snapshot.js';
import { RolloutStore } from '../../src/kube/state.js';
import { inNewNamespace, namespacesFirst, pickRevision, recoverInterrupted, rollout } from '../../src/strategies/basic.js';
import { History, Revision } from '../../src/kube/history.js';
import { DeployLock } from '../../src/kube/lock.js';
import { configMap, deployment, fakeEngine } from '../fixtures/deploy/fake-cluster.js';

const setup = fakeEngine;

const v1 = () => [deployment('web', 'localhost:5000/app:v1'), configMap('web-config', { mode: 'v1' })];
const v2 = () => [deployment('web', 'localhost:5000/app:v2'), configMap('web-config', { mode: 'v2' }), configMap('web-extra', { added: 'yes' })];

describe('basic rollout', () => {
  it('deploys, records the revision in the history and ends with phase deployed and the lock released', async () => {
    const { cluster, engine, reporter } = setup();
    const outcome = await rollout(engine, () => ({ objects: v1() }));
    expect(outcome.result).toBe('deployed');
    expect(outcome.revision).toBe(1);
    expect(outcome.changed).toEqual(['Deployment/web', 'ConfigMap/web-config']);
    const revisions = await new History(engine.client, engine.target, 3).list();
    expect(revisions.map((r) => r.revision)).toEqual([1]);
    expect(revisions[0]!.images).toEqual({ 'Deployment/web/app': 'localhost:5000/app:v1' });
    expect(revisions[0]!.commit).toBe('abc123');
    expect((await new RolloutStore(engine.client, engine.target).read())!.record.phase).toBe('deployed');
    expect(cluster.get('Lease', 'gantry-web')).toBeUndefined();
    expect(reporter.lines.filter((l) => l.startsWith('rollout default/web r1:'))).toEqual([
      'rollout default/web r1: validating → snapshotting',
      'rollout default/web r1: snapshotting → applying',
      'rollout default/web r1: applying → waiting',
      'rollout default/web r1: waiting → deployed',
    ]);
  });

  it('applies nothing when the server rejects one object in the dry run, and names it', async () => {
    const { cluster, engine } = setup();
    cluster.reject = (o) => (o.metadata.name === 'web-config' ? 'data.mode: Invalid value' : undefined);
    await expect(rollout(engine, () => ({ objects: v1() }))).rejects.toThrow(/ConfigMap "web-config" was rejected by the server: .*data.mode: Invalid value/);
    expect(cluster.workloadApplies()).toEqual([]);
    expect(cluster.get('Deployment', 'web')).toBeUndefined();
    expect(cluster.get('Lease', 'gantry-web')).toBeUndefined();
  });

  it('fails fast on ImagePullBackOff, restores every changed object exactly and deletes the one it created', async () => {
    const { cluster, engine, reporter } = setup();
    await rollout(engine, () => ({ objects: v1() }));
    const before = ['web', 'web-config'].map((n) => restorable(cluster.get(n === 'web' ? 'Deployment' : 'ConfigMap', n)!));
    cluster.controller = (c) => {
      const d = c.get('Deployment', 'web')!;
      const image = (d.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image;
      if (image.endsWith(':v2')) c.failingPod('web', { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } }, { event: { reason: 'Failed', message: 'Failed to pull image "localhost:5000/app:v2": not found' } });
      else c.markAllReady();
    };
    const outcome = await rollout(engine, () => ({ objects: v2() }));
    expect(outcome.result).toBe('rolled-back');
    expect(outcome.reason).toMatch(/Deployment\/web failed: pod web-rs2-abc: container app: ImagePullBackOff/);
    expect(outcome.reason).toContain('Events of pod web-rs2-abc');
    expect(outcome.timings.detectMs).toBeLessThan(5000);
    expect(cluster.get('ConfigMap', 'web-extra')).toBeUndefined();
    const after = ['web', 'web-config'].map((n) => restorable(cluster.get(n === 'web' ? 'Deployment' : 'ConfigMap', n)!));
    expect(after.map((o) => [o.spec, (o as { data?: unknown }).data])).toEqual(before.map((o) => [o.spec, (o as { data?: unknown }).data]));
    expect(reporter.lines).toContain('rollout default/web r2: rolling-back → rolled-back');
    expect((await new RolloutStore(engine.client, engine.target).read())!.record.phase).toBe('rolled-back');
  });

  it('keeps the failed version and says how to restore it when rollback-on-failure is off', async () => {
    const { cluster, engine, reporter } = setup();
    cluster.controller = (c) => c.failingPod('web', { waiting: { reason: 'CrashLoopBackOff' } }, { restartCount: 2 });
    const outcome = await rollout({ ...engine, rollbackOnFailure: false }, () => ({ objects: v1() }));
    expect(outcome.result).toBe('failed');
    expect(cluster.get('Deployment', 'web')).toBeDefined();
    expect(reporter.warnings[0]!.message).toMatch(/left at the failed revision r1/);
  });

  it('refuses a second deploy while another run holds the lock, naming the holder run, and changes nothing', async () => {
    const { cluster, engine, clock } = setup('run-2');
    await new DeployLock(cluster, engine.target, { id: 'run-1', runUrl: 'https://github.com/o/r/actions/runs/1' }, 30_000, clock).acquire();
    await expect(rollout(engine, () => ({ objects: v1() }))).rejects.toThrow(/default\/web is being deployed by another run: https:\/\/github.com\/o\/r\/actions\/runs\/1/);
    expect(cluster.callsOf('apply')).toEqual([]);
    expect(cluster.get('Lease', 'gantry-web')!.spec).toMatchObject({ holderIdentity: 'run-1' });
  });

  it('a re-run that finds an unfinished rollout rolls it back before deploying', async () => {
    const { cluster, engine, reporter } = setup();
    await rollout(engine, () => ({ objects: v1() }));
    // Simulate a run killed mid-wait: record says waiting with the snapshot of v1, cluster runs v2.
    const store = new RolloutStore(engine.client, engine.target);
    const snapshot = { existing: [restorable(cluster.get('Deployment', 'web')!), restorable(cluster.get('ConfigMap', 'web-config')!)], created: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-extra', namespace: 'default' } }] };
    for (const o of v2()) cluster.put(o);
    await store.write({ app: 'web', namespace: 'default', strategy: 'basic', phase: 'waiting', revision: 2, previousRevision: 1, holder: { id: 'dead-run', runUrl: 'https://x/runs/dead' }, startedAt: '', updatedAt: '', changed: [] }, snapshot);
    const outcome = await rollout(engine, () => ({ objects: v1() }));
    expect(reporter.lines).toContain('rollout default/web r2: waiting → rolling-back (the run that started it did not finish)');
    expect(cluster.get('ConfigMap', 'web-extra')).toBeUndefined();
    expect(outcome.result).toBe('deployed');
    expect(outcome.revision).toBe(3);
  });

  it('the post step rolls back only its own unfinished rollout', async () => {
    const { cluster, engine } = setup('run-9');
    cluster.put(configMap('web-config', { mode: 'v2' }));
    await new RolloutStore(engine.client, engine.target).write(
      { app: 'web', namespace: 'default', strategy: 'basic', phase: 'waiting', revision: 4, holder: { id: 'run-9', runUrl: 'u' }, startedAt: '', updatedAt: '', changed: [] },
      { existing: [configMap('web-config', { mode: 'v1' })], created: [] },
    );
    expect(await recoverInterrupted({ ...engine, holder: { id: 'someone-else', runUrl: 'x' } })).toBeUndefined();
    const outcome = await recoverInterrupted(engine);
    expect(outcome?.result).toBe('rolled-back');
    expect((cluster.get('ConfigMap', 'web-config') as { data?: unknown }).data).toEqual({ mode: 'v1' });
    expect(await recoverInterrupted(engine)).toBeUndefined();
  });

  it('sends the same number of batches to the cluster for 3 objects and for 300', async () => {
    const count = async (n: number) => {
      const { cluster, engine } = setup();
      const objects = Array.from({ length: n }, (_, i) => configMap(`cm-${i}`, { i: String(i) }));
      objects.push(deployment('web', 'app:v1'));
      await rollout(engine, () => ({ objects }));
      return cluster.calls.length;
    };
    expect(await count(300)).toBe(await count(3));
  });
});

describe('pickRevision', () => {
  const rev = (revision: number, rollbackOf?: number): Revision => ({ revision, images: {}, deployedAt: '', runUrl: '', objects: [], rollbackOf });
  it.each([
    { name: 'the one before the current', revisions: [rev(3), rev(2), rev(1)], requested: undefined, expected: 2 },
    { name: 'a requested one', revisions: [rev(3), rev(2), rev(1)], requested: 1, expected: 1 },
    { name: 'not the revision the current one already restored', revisions: [rev(4, 2), rev(3), rev(2)], requested: undefined, expected: 3 },
  ])('picks $name', ({ revisions, requested, expected }) => {
    expect(pickRevision(revisions, requested).target.revision).toBe(expected);
  });
  it('says there is nothing to roll back to with one revision', () => {
    expect(() => pickRevision([rev(1)])).toThrow(/no earlier successful revision/);
  });
});

describe('namespaces created by the rollout itself', () => {
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'extra' } };
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'extra' } };

  it('are applied before the objects that go into them', () => {
    expect(namespacesFirst([cm, ns]).map((o) => o.kind)).toEqual(['Namespace', 'ConfigMap']);
  });

  it.each([
    ['namespaces "extra" not found', true],
    ['namespaces "elsewhere" not found', false],
    ['Service "web" is invalid: spec.ports[0].port: Invalid value: 70000', false],
  ])('dry-run complaint %j is excused: %s', (message, excused) => {
    expect(inNewNamespace({ message }, [ns, cm])).toBe(excused);
  });
});
