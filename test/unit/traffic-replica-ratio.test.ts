import { describe, expect, it } from 'vitest';
import { MemoryReporter } from '../../src/report/reporter.js';
import { routerFor } from '../../src/traffic/index.js';
import { ReplicaRatioRouter } from '../../src/traffic/replica-ratio.js';
import { canaryReplicasFor, podShare } from '../../src/traffic/workload.js';
import { NS, canaryReplicas, hpa, service, trafficWorld, writesTo } from '../fixtures/traffic.js';

const router = (world: ReturnType<typeof trafficWorld>) => new ReplicaRatioRouter({ client: world.cluster, reporter: new MemoryReporter() });

describe('replica-ratio router: weights as whole pods', () => {
  it.each([
    // requested %, stable pods, canary pods, effective %
    [10, 3, 1, 25],
    [50, 3, 2, 40],
    [100, 3, 3, 50],
    [10, 10, 1, 9],
    [50, 10, 5, 33],
    [100, 10, 10, 50],
    [33, 3, 1, 25],
    [50, 2, 1, 33],
    [1, 10, 1, 9],
    [0, 3, 0, 0],
  ])('weight %i with %i stable pods runs %i canary pods: %i percent of requests', async (weight, stable, canary, effective) => {
    const world = trafficWorld(stable);
    const applied = await router(world).setWeight(world.target, weight);
    expect(applied).toMatchObject({ requested: weight, effective, canaryReplicas: canary });
    expect(canaryReplicas(world.cluster)).toBe(canary);
  });

  it('says what the pods give when it differs from the request: 1 of 3 pods is 33 %', async () => {
    const world = trafficWorld(2);
    const applied = await router(world).setWeight(world.target, 50);
    expect(applied.detail).toContain('33 % for 1 of 3 pods');
    expect(applied.detail).toContain('50 % was requested');
    const exact = await router(world).setWeight(world.target, 0);
    expect(exact.detail).toBe('0 % for 0 of 2 pods (stable 2: spec.replicas)');
  });

  it('gives any weight above 0 at least one pod, and 100 % as many canary pods as stable ones', () => {
    expect(canaryReplicasFor(1, 3)).toBe(1);
    expect(canaryReplicasFor(100, 7)).toBe(7);
    expect(podShare(7, 7)).toBe(50);
  });

  it('never writes the stable Deployment, and writes nothing when the canary already has its pods', async () => {
    const world = trafficWorld(3);
    const r = router(world);
    await r.setWeight(world.target, 50);
    const writes = world.cluster.calls.length;
    await r.setWeight(world.target, 50);
    expect(world.cluster.calls.slice(writes).filter((c) => c.verb === 'patch')).toEqual([]);
    expect(writesTo(world.cluster, 'Deployment', 'web')).toEqual([]);
    expect((world.cluster.get('Deployment', 'web', NS)!.spec as { replicas: number }).replicas).toBe(3);
  });

  it('reset scales the canary to 0, and is fine when the canary is already gone', async () => {
    const world = trafficWorld(3);
    const r = router(world);
    await r.setWeight(world.target, 50);
    await r.reset(world.target);
    expect(canaryReplicas(world.cluster)).toBe(0);
    world.cluster.remove('Deployment', 'web-canary', NS);
    await expect(r.reset(world.target)).resolves.toBeUndefined();
  });

  it('is what routerFor picks for replica-ratio', () => {
    const world = trafficWorld(3);
    expect(routerFor('replica-ratio', { client: world.cluster, reporter: new MemoryReporter() }).kind).toBe('replica-ratio');
  });
});

describe('replica-ratio router with an HPA on the stable Deployment', () => {
  it('follows the HPA\'s current replicas, not the Deployment\'s spec, and leaves the HPA untouched', async () => {
    const world = trafficWorld(3);
    world.cluster.put(hpa('web', 'web', 6));
    world.cluster.put(hpa('other', 'api', 20));
    const before = structuredClone(world.cluster.get('HorizontalPodAutoscaler', 'web', NS));
    const applied = await router(world).setWeight(world.target, 50);
    expect(applied).toMatchObject({ canaryReplicas: 3, effective: 33 });
    expect(applied.detail).toContain('HPA web current replicas');
    expect(world.cluster.get('HorizontalPodAutoscaler', 'web', NS)).toEqual(before);
    expect(writesTo(world.cluster, 'HorizontalPodAutoscaler', 'web')).toEqual([]);
    expect(writesTo(world.cluster, 'Deployment', 'web')).toEqual([]);
  });

  it('follows the HPA as it scales between steps', async () => {
    const world = trafficWorld(3);
    world.cluster.put(hpa('web', 'web', 4));
    const r = router(world);
    expect((await r.setWeight(world.target, 50)).canaryReplicas).toBe(2);
    world.cluster.put(hpa('web', 'web', 8));
    expect((await r.setWeight(world.target, 50)).canaryReplicas).toBe(4);
  });

  it('uses the Deployment\'s spec while a new HPA has no status yet', async () => {
    const world = trafficWorld(4);
    world.cluster.put({ ...hpa('web', 'web', 0), status: {} });
    const applied = await router(world).setWeight(world.target, 50);
    expect(applied.canaryReplicas).toBe(2);
    expect(applied.detail).toContain('HPA web has no status yet');
  });
});

describe('replica-ratio router: errors name the object', () => {
  it('a Service that does not select the stable pods', async () => {
    const world = trafficWorld(3);
    world.cluster.put(service('web', { app: 'shop' }));
    await expect(router(world).prepare(world.target)).rejects.toThrow(/Service web in namespace shop does not select the pods of Deployment web: its selector is app=shop, the pods' labels are app=web/);
  });

  it('a Service that does not select the canary pods (a version label in its selector)', async () => {
    const world = trafficWorld(3);
    world.cluster.put(service('web', { app: 'web' }));
    const canary = world.cluster.get('Deployment', 'web-canary', NS)!;
    const spec = canary.spec as { template: { metadata: { labels: Record<string, string> } } };
    spec.template.metadata.labels = { app: 'web-v2', 'gantry.dev/track': 'canary' };
    await expect(router(world).setWeight(world.target, 10)).rejects.toThrow(/Service web in namespace shop does not select the pods of the canary Deployment web-canary: it needs app=web/);
    expect(canaryReplicas(world.cluster)).toBe(0);
  });

  it('a missing Service, stable Deployment or canary', async () => {
    const world = trafficWorld(3);
    const r = router(world);
    await expect(r.prepare({ ...world.target, stableService: 'nope' })).rejects.toThrow('Service nope does not exist in namespace shop');
    await expect(r.setWeight({ ...world.target, canaryName: 'gone' }, 10)).rejects.toThrow('The canary Deployment gone does not exist in namespace shop');
    world.cluster.remove('Deployment', 'web', NS);
    await expect(r.setWeight(world.target, 10)).rejects.toThrow('The stable Deployment web does not exist in namespace shop');
  });

  it.each([-1, 101, Number.NaN])('a weight of %d', async (weight) => {
    const world = trafficWorld(3);
    await expect(router(world).setWeight(world.target, weight)).rejects.toThrow('A canary weight must be a percentage from 0 to 100');
  });
});
