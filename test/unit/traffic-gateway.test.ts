import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/kube/client.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { GatewayRouter, ORIGINAL_REFS_ANNOTATION, type BackendRef, type HTTPRoute } from '../../src/traffic/gateway-httproute.js';
import { routerFor } from '../../src/traffic/index.js';
import { FakeClock, type FakeCluster } from '../fixtures/deploy/fake-cluster.js';
import { NS, canaryReplicas, hpa, service, trafficWorld } from '../fixtures/traffic.js';

const GATEWAY = { name: 'edge', namespace: 'gateways' };

/** A route with three rules: one to `web`, one elsewhere, one to `web` beside another backend. */
function route(): HTTPRoute {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'web', namespace: NS },
    spec: {
      parentRefs: [GATEWAY],
      hostnames: ['shop.example'],
      rules: [
        { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ group: '', kind: 'Service', name: 'web', port: 80, weight: 1 }] },
        { matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'api', port: 8080 }] },
        { matches: [{ path: { type: 'PathPrefix', value: '/mixed' } }], backendRefs: [{ name: 'legacy', port: 80, weight: 10 }, { name: 'web', port: 80, filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-via', value: 'gw' }] } }] }] },
      ],
    },
  };
}

type Verdict = { accepted?: string; resolved?: string; message?: string; lag?: number; /** The canary Service's endpoints stay unready. */ canaryUnready?: boolean };

/**
 * Plays the Gateway controller: every HTTPRoute gets a status for its parent, with refs
 * resolved only when every Service it names exists (as a real controller reports).
 * `verdict` overrides the conditions; `lag` reports the previous generation.
 */
function gatewayController(cluster: FakeCluster, verdict: () => Verdict = () => ({})): void {
  cluster.controller = (c) => {
    c.markAllReady();
    endpointSlices(c, verdict().canaryUnready ?? false);
    for (const o of [...c.objects.values()]) {
      if (o.kind !== 'HTTPRoute') continue;
      const r = o as HTTPRoute;
      const v = verdict();
      const generation = (r.metadata.generation as number) - (v.lag ?? 0);
      const missing = (r.spec.rules ?? []).flatMap((rule) => rule.backendRefs ?? []).filter((b) => !c.get('Service', b.name, NS)).map((b) => b.name);
      const resolved = v.resolved ?? (missing.length === 0 ? 'True' : 'False');
      r.status = {
        parents: [{
          parentRef: GATEWAY, controllerName: 'example.com/gateway',
          conditions: [
            { type: 'Accepted', status: v.accepted ?? 'True', reason: 'Accepted', observedGeneration: generation },
            { type: 'ResolvedRefs', status: resolved, reason: resolved === 'True' ? 'ResolvedRefs' : 'BackendNotFound', message: v.message ?? (missing.length ? `services ${missing.join(', ')} not found` : ''), observedGeneration: generation },
          ],
        }],
      };
    }
  };
}

/** Plays the EndpointSlice controller for the router's Services: one ready endpoint per pod of the Deployment they stand for. */
function endpointSlices(c: FakeCluster, canaryUnready: boolean): void {
  for (const [svc, deployment] of [['web-stable', 'web'], ['web-canary', 'web-canary']] as const) {
    const name = `${svc}-x`;
    if (!c.get('Service', svc, NS)) {
      if (c.get('EndpointSlice', name, NS)) c.remove('EndpointSlice', name, NS);
      continue;
    }
    const pods = (c.get('Deployment', deployment, NS)?.spec as { replicas?: number } | undefined)?.replicas ?? 0;
    const endpoints = Array.from({ length: pods }, () => ({ conditions: { ready: !(canaryUnready && svc === 'web-canary') } }));
    const slice = c.get('EndpointSlice', name, NS);
    if (JSON.stringify((slice as { endpoints?: unknown } | undefined)?.endpoints) === JSON.stringify(endpoints)) continue;
    c.put({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name, namespace: NS, labels: { 'kubernetes.io/service-name': svc } }, endpoints } as KubeObject);
  }
}

function setup(stable = 3, verdict?: () => Verdict) {
  const world = trafficWorld(stable, { route: 'web' });
  world.cluster.put(service('api', { app: 'api' }));
  world.cluster.put(service('legacy', { app: 'legacy' }));
  world.cluster.put(route());
  gatewayController(world.cluster, verdict);
  const clock = new FakeClock().onSleep(() => world.cluster.tick());
  const reporter = new MemoryReporter();
  const router = new GatewayRouter({ client: world.cluster, reporter }, { clock, acceptTimeoutMs: 30_000, drainMs: 5_000 });
  return { ...world, clock, reporter, router, liveRoute: () => world.cluster.get('HTTPRoute', 'web', NS) as HTTPRoute };
}

const refsOf = (r: HTTPRoute, rule: number): BackendRef[] => r.spec.rules![rule]!.backendRefs!;
const pair = (weight: number, extra: Partial<BackendRef> = {}): BackendRef[] => [
  { ...extra, name: 'web-stable', port: 80, weight: 100 - weight },
  { ...extra, name: 'web-canary', port: 80, weight },
];
/** The order of writes by object, e.g. ["HTTPRoute/web", "Deployment/web-canary"]. */
const patches = (cluster: FakeCluster, from = 0): string[] => cluster.calls.slice(from).filter((c) => c.verb === 'patch').map((c) => `${c.objects[0]!.kind}/${c.objects[0]!.metadata.name}`);

describe('gateway-httproute router: prepare', () => {
  it('creates a stable-only and a canary-only Service, and records the backendRefs of the rules that send to the stable Service', async () => {
    const { cluster, router, target, liveRoute } = setup();
    const before = structuredClone(liveRoute().spec);
    await router.prepare(target);
    const stable = cluster.get('Service', 'web-stable', NS)!;
    const canary = cluster.get('Service', 'web-canary', NS)!;
    expect(stable.spec).toEqual({ type: 'ClusterIP', selector: { app: 'web', 'pod-template-hash': 'abc123' }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] });
    expect(canary.spec).toMatchObject({ selector: { app: 'web', 'gantry.dev/track': 'canary' }, ports: [{ port: 80, targetPort: 8080 }] });
    expect(stable.metadata.labels).toMatchObject({ 'gantry.dev/traffic-for': 'web' });
    const recorded = JSON.parse(liveRoute().metadata.annotations![ORIGINAL_REFS_ANNOTATION]!) as Record<string, BackendRef[]>;
    expect(Object.keys(recorded)).toEqual(['0', '2']);
    expect(recorded['2']).toEqual(before.rules![2]!.backendRefs);
    // Preparing moves no traffic.
    expect(liveRoute().spec).toEqual(before);
    expect(cluster.callsOf('apply').every((c) => c.fieldManager === 'gantry-traffic')).toBe(true);
  });

  it('keeps the first record when it runs again (a resumed rollout)', async () => {
    const { router, target, liveRoute } = setup();
    await router.prepare(target);
    const record = liveRoute().metadata.annotations![ORIGINAL_REFS_ANNOTATION];
    await router.setWeight(target, 30);
    await router.prepare(target);
    expect(liveRoute().metadata.annotations![ORIGINAL_REFS_ANNOTATION]).toBe(record);
  });
});

describe('gateway-httproute router: weights', () => {
  it.each([
    // weight, canary pods for 3 stable
    [0, 0],
    [10, 1],
    [50, 2],
    [100, 3],
  ])('at weight %i the stable rules send the rest to web-stable, and the canary runs %i pods', async (weight, pods) => {
    const { cluster, router, target, liveRoute } = setup();
    await router.prepare(target);
    const applied = await router.setWeight(target, weight);
    expect(applied).toMatchObject({ requested: weight, effective: weight, canaryReplicas: pods });
    expect(applied.detail).toContain(`${100 - weight} % to Service web-stable, ${weight} % to web-canary`);
    const r = liveRoute();
    expect(refsOf(r, 0)).toEqual(pair(weight, { group: '', kind: 'Service' }));
    expect(refsOf(r, 1)).toEqual(route().spec.rules![1]!.backendRefs);
    // The other backend keeps its place and weight; the pair keeps the stable ref's filters.
    const filters = route().spec.rules![2]!.backendRefs![1]!.filters;
    expect(refsOf(r, 2)).toEqual([{ name: 'legacy', port: 80, weight: 10 }, ...pair(weight, { filters })]);
    expect(canaryReplicas(cluster)).toBe(pods);
  });

  it('scales the canary up before the route sends it more, and down only after the route sends it less and the data plane had time to follow', async () => {
    const { cluster, router, target, clock } = setup(10);
    await router.prepare(target);
    let from = cluster.calls.length;
    await router.setWeight(target, 50);
    expect(patches(cluster, from)).toEqual(['Deployment/web-canary', 'HTTPRoute/web']);
    from = cluster.calls.length;
    const t = clock.now();
    await router.setWeight(target, 10);
    expect(patches(cluster, from)).toEqual(['HTTPRoute/web', 'Deployment/web-canary']);
    expect(clock.now() - t).toBeGreaterThanOrEqual(5_000);
    expect(canaryReplicas(cluster)).toBe(1);
  });

  it('follows the HPA\'s current replicas for the canary\'s pods', async () => {
    const { cluster, router, target } = setup(3);
    cluster.put(hpa('web', 'web', 8));
    await router.prepare(target);
    expect((await router.setWeight(target, 50)).canaryReplicas).toBe(4);
  });

  it('is what routerFor picks for gateway-httproute', () => {
    const { cluster } = setup();
    expect(routerFor('gateway-httproute', { client: cluster, reporter: new MemoryReporter() }).kind).toBe('gateway-httproute');
  });
});

describe('gateway-httproute router: reset', () => {
  it('puts the route back exactly as it was and removes what prepare made', async () => {
    const { cluster, router, target, liveRoute } = setup();
    const before = structuredClone(liveRoute());
    await router.prepare(target);
    await router.setWeight(target, 50);
    const from = cluster.calls.length;
    await router.reset(target);
    // Weight 0 first, then the canary's pods go, then the recorded refs come back.
    expect(patches(cluster, from)).toEqual(['HTTPRoute/web', 'Deployment/web-canary', 'HTTPRoute/web']);
    const after = liveRoute();
    expect(after.spec).toEqual(before.spec);
    expect(after.metadata.annotations ?? {}).toEqual(before.metadata.annotations ?? {});
    expect(cluster.get('Service', 'web-stable', NS)).toBeUndefined();
    expect(cluster.get('Service', 'web-canary', NS)).toBeUndefined();
    expect(canaryReplicas(cluster)).toBe(0);
    // Again: nothing left to undo.
    await expect(router.reset(target)).resolves.toBeUndefined();
    expect(liveRoute().spec).toEqual(before.spec);
  });

  it('sends traffic back to the stable Service only once the canary pods are gone (it selects them too)', async () => {
    const { cluster, router, target, liveRoute } = setup();
    await router.prepare(target);
    await router.setWeight(target, 50);
    // A canary pod that takes a few passes of the controllers to go once the canary is at 0.
    cluster.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-canary-x1', namespace: NS, labels: { app: 'web', 'gantry.dev/track': 'canary' } } });
    let lingering = 5;
    let goneAt = -1;
    const controller = cluster.controller;
    cluster.controller = (c) => {
      controller(c);
      if (canaryReplicas(c) === 0 && c.get('Pod', 'web-canary-x1', NS) && lingering-- <= 0) {
        c.remove('Pod', 'web-canary-x1', NS);
        goneAt = c.calls.length;
      }
    };
    const from = cluster.calls.length;
    await router.reset(target);
    const restoredAt = cluster.calls.findLastIndex((call) => call.verb === 'patch' && call.objects[0]!.kind === 'HTTPRoute');
    expect(goneAt).toBeGreaterThan(from);
    expect(restoredAt).toBeGreaterThan(goneAt);
    expect(liveRoute().metadata.annotations?.[ORIGINAL_REFS_ANNOTATION]).toBeUndefined();
  });

  it('after a promotion, moves the stable side to the new stable pods before it takes all traffic back', async () => {
    const { cluster, router, target, reporter, liveRoute } = setup();
    await router.prepare(target);
    await router.setWeight(target, 100);
    // The promotion: the stable Deployment takes the new spec, and its new ReplicaSet is fully available.
    const stable = cluster.get('Deployment', 'web', NS)!;
    const spec = structuredClone(stable.spec) as { template: { spec: { containers: { image: string }[] } } };
    spec.template.spec.containers[0]!.image = 'registry.test/web:v2';
    cluster.put({ ...stable, metadata: { ...stable.metadata, annotations: { 'deployment.kubernetes.io/revision': '2' } }, spec });
    cluster.put({
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: { name: 'web-rs2', namespace: NS, labels: { app: 'web', 'pod-template-hash': 'def456' }, annotations: { 'deployment.kubernetes.io/revision': '2' }, ownerReferences: [{ uid: stable.metadata.uid }] },
      spec: { replicas: 3 }, status: { availableReplicas: 3 },
    } as KubeObject);
    let pinAtWeight0: string | undefined;
    const controller = cluster.controller;
    cluster.controller = (c) => {
      controller(c);
      const r = c.get('HTTPRoute', 'web', NS) as HTTPRoute;
      if (pinAtWeight0 === undefined && refsOf(r, 0).some((b) => b.name === 'web-canary' && b.weight === 0)) {
        pinAtWeight0 = (c.get('Service', 'web-stable', NS)?.spec as { selector: Record<string, string> }).selector['pod-template-hash'];
      }
    };
    await router.reset(target);
    expect(pinAtWeight0).toBe('def456');
    expect(reporter.lines).toContain('Service web-stable: now the stable pods of pod-template-hash def456 (was abc123), the current ReplicaSet of web');
    expect(liveRoute().spec).toEqual(route().spec);
  });

  it('keeps the stable side on the pods it had while a new stable ReplicaSet is not yet available', async () => {
    const { cluster, router, target } = setup();
    await router.prepare(target);
    const stable = cluster.get('Deployment', 'web', NS)!;
    stable.metadata.annotations = { 'deployment.kubernetes.io/revision': '2' };
    cluster.put({
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: { name: 'web-rs9', namespace: NS, labels: { app: 'web', 'pod-template-hash': 'def456' }, annotations: { 'deployment.kubernetes.io/revision': '2' }, ownerReferences: [{ uid: stable.metadata.uid }] },
      spec: { replicas: 3 }, status: { availableReplicas: 1 },
    } as KubeObject);
    await router.prepare(target);
    expect((cluster.get('Service', 'web-stable', NS)!.spec as { selector: Record<string, string> }).selector['pod-template-hash']).toBe('abc123');
  });

  it('leaves a Service of the same name that is not the router\'s alone, and says so at prepare', async () => {
    const { cluster, router, target } = setup();
    cluster.put(service('web-canary', { app: 'someone-else' }));
    await expect(router.prepare(target)).rejects.toThrow('Service web-canary already exists in namespace shop and is not one the traffic router made for web');
    await router.reset(target);
    expect(cluster.get('Service', 'web-canary', NS)).toBeDefined();
  });
});

describe('gateway-httproute router: waiting for the Gateway', () => {
  it('waits until the parent reports the route\'s new generation', async () => {
    let lagging = 0;
    const { router, target, liveRoute } = setup(3, () => ({ lag: lagging-- > 0 ? 1 : 0 }));
    await router.prepare(target);
    // The controller reports the generation before the change for its next few passes.
    lagging = 6;
    await router.setWeight(target, 10);
    const r = liveRoute();
    expect(lagging).toBeLessThan(0);
    expect(r.status!.parents![0]!.conditions!.map((c) => c.observedGeneration)).toEqual([r.metadata.generation, r.metadata.generation]);
  });

  it('does not send the canary a share while its Service has no ready endpoint', async () => {
    const { router, target, liveRoute } = setup(3, () => ({ canaryUnready: true }));
    await router.prepare(target);
    const before = structuredClone(liveRoute().spec);
    await expect(router.setWeight(target, 10)).rejects.toThrow('Service web-canary in namespace shop has no ready endpoint after 5m00s, so HTTPRoute web was not changed to send it 10 %');
    expect(liveRoute().spec).toEqual(before);
  });

  it('fails after its timeout, naming the route and the controller\'s message', async () => {
    let broken = false;
    const { router, target, clock } = setup(3, () => (broken ? { resolved: 'False', message: 'service web-canary has no ready endpoints' } : {}));
    await router.prepare(target);
    broken = true;
    const t = clock.now();
    await expect(router.setWeight(target, 10)).rejects.toThrow(/HTTPRoute web in namespace shop was not accepted with its backends resolved within 30 s .*parent gateways\/edge: ResolvedRefs=False \(BackendNotFound\): service web-canary has no ready endpoints/);
    expect(clock.now() - t).toBeGreaterThanOrEqual(30_000);
  });
});

describe('gateway-httproute router: errors name the object', () => {
  it('a missing route, or none named', async () => {
    const { router, target } = setup();
    await expect(router.prepare({ ...target, route: 'shop' })).rejects.toThrow('HTTPRoute shop does not exist in namespace shop');
    await expect(router.prepare({ ...target, route: undefined })).rejects.toThrow('needs the name of the HTTPRoute');
  });

  it('a route with no rule to the stable Service', async () => {
    const { cluster, router, target } = setup();
    const r = route();
    r.spec.rules = [r.spec.rules![1]!];
    cluster.put(r);
    await expect(router.prepare(target)).rejects.toThrow('HTTPRoute web in namespace shop has no rule whose backendRefs name Service web');
  });

  it('a weight set before prepare', async () => {
    const { router, target } = setup();
    await expect(router.setWeight(target, 10)).rejects.toThrow(`HTTPRoute web in namespace shop has no ${ORIGINAL_REFS_ANNOTATION} annotation`);
  });

  it('a stable Deployment without a current ReplicaSet', async () => {
    const { cluster, router, target } = setup();
    cluster.remove('ReplicaSet', 'web-rs1', NS);
    const stable = cluster.get('Deployment', 'web', NS) as KubeObject;
    stable.metadata.annotations = { 'deployment.kubernetes.io/revision': '7' };
    await expect(router.prepare(target)).rejects.toThrow('The stable Deployment web in namespace shop has no current ReplicaSet for its revision 7 with a pod-template-hash label');
  });
});
