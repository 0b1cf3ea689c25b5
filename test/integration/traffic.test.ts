// The traffic routers on the real cluster with the sample app and real requests: the share
// of v2 answers is measured, not inferred from objects. Replica ratio through a Service's
// ClusterIP (kube-proxy spreads connections over every ready pod), with and without an HPA
// on the stable Deployment; Gateway API weights through the stack's real data plane
// (Traefik), from prepare to reset. Each test has a namespace of its own.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/kube/api-client.js';
import type { KubeObject } from '../../src/kube/client.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { routerFor } from '../../src/traffic/index.js';
import type { RouteTarget } from '../../src/traffic/router.js';
import { stack, uniqueName } from '../support/stack.js';
import { sampleFiles } from '../fixtures/deploy/sample.js';
import { RequestLoop, sampleShares, shareOf, shareTolerance, switches, untilDistinctAnswers } from '../support/traffic.js';

const env = stack();
// Traefik's read-only API (test/stack/stack.sh), where the weights it applies can be read.
const TRAEFIK_API = process.env.GANTRY_TRAEFIK_API ?? 'http://127.0.0.1:8089';
const N = 400;

const kubectl = (args: string[], input?: string): string => execFileSync('kubectl', args, { encoding: 'utf8', stdio: 'pipe', input });
// While a request loop runs, kubectl runs beside it: a synchronous call would stall the loop's requests.
const kubectlAsync = async (args: string[]): Promise<string> => (await promisify(execFile)('kubectl', args, { encoding: 'utf8' })).stdout;
const getJson = <T>(ns: string, what: string): T => JSON.parse(kubectl(['-n', ns, 'get', what, '-o', 'json'])) as T;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const client = ApiClient.fromConfig();
afterAll(() => client.close());
const namespaces: string[] = [];
afterEach(() => {
  for (const ns of namespaces.splice(0)) kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
});

/**
 * The stable `web` (v1, the deploy tests' sample manifests) with its Service, and beside it
 * the canary `web-canary` (v2) at 0 pods: a copy of the live stable Deployment whose pods
 * carry one more label, as the canary strategy makes it.
 */
function app(prefix: string, stableReplicas: number): { ns: string; target: RouteTarget } {
  const ns = uniqueName(prefix);
  kubectl(['create', 'namespace', ns]);
  namespaces.push(ns);
  kubectl(['apply', '-n', ns, '-f', '-'], Object.values(sampleFiles({ image: `${env.sampleImage}:v1`, replicas: stableReplicas })).join('---\n'));
  kubectl(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=120s']);
  const stable = getJson<KubeObject>(ns, 'deployment/web');
  type Spec = { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: { containers: { image: string }[] } } };
  const spec = structuredClone(stable.spec) as Spec;
  const track = { 'gantry.dev/track': 'canary' };
  spec.replicas = 0;
  spec.selector.matchLabels = { ...spec.selector.matchLabels, ...track };
  spec.template.metadata.labels = { ...spec.template.metadata.labels, ...track };
  spec.template.spec.containers[0]!.image = `${env.sampleImage}:v2`;
  kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web-canary', namespace: ns }, spec }));
  return { ns, target: { namespace: ns, stable, canaryName: 'web-canary', stableService: 'web' } };
}

/** Ready endpoints of a Service, from its EndpointSlices. */
function readyEndpoints(ns: string, service: string): number {
  const slices = JSON.parse(kubectl(['-n', ns, 'get', 'endpointslices', '-l', `kubernetes.io/service-name=${service}`, '-o', 'json'])) as { items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] };
  return slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

/**
 * Waits until the canary's pods are ready, the Service has every pod as a ready endpoint,
 * and every pod has answered through the ClusterIP (kube-proxy follows the endpoints a
 * moment later), so a measurement counts all of them. Returns the URL of /version.
 */
async function podsServing(ns: string, canary: number, stable: number): Promise<string> {
  if (canary > 0) kubectl(['-n', ns, 'rollout', 'status', 'deployment/web-canary', '--timeout=120s']);
  await until(`${canary + stable} ready endpoints of Service web`, () => (readyEndpoints(ns, 'web') === canary + stable ? true : undefined));
  const base = `http://${getJson<{ spec: { clusterIP: string } }>(ns, 'service/web').spec.clusterIP}`;
  // The sample app's / names the pod that answers.
  const started = Date.now();
  const requests = await untilDistinctAnswers(`${base}/`, canary + stable);
  console.log(`[measure] all ${canary + stable} pods answered through the ClusterIP after ${requests} requests, ${Date.now() - started} ms after their endpoints were ready`);
  return `${base}/version`;
}

const percent = (share: number): string => `${(100 * share).toFixed(1)} %`;

describe('replica-ratio router through a Service\'s ClusterIP', () => {
  it('1 canary pod beside 3 stable ones answers about a quarter of the requests', async () => {
    const { ns, target } = app('traffic-rr', 3);
    const router = routerFor('replica-ratio', { client, reporter: new MemoryReporter() });
    await router.prepare(target);
    const applied = await router.setWeight(target, 33);
    console.log(`[measure] replica-ratio setWeight 33: ${applied.detail}`);
    expect(applied).toMatchObject({ requested: 33, effective: 25, canaryReplicas: 1 });
    expect(getJson<{ spec: { replicas: number } }>(ns, 'deployment/web-canary').spec.replicas).toBe(1);
    const url = await podsServing(ns, 1, 3);
    const shares = await sampleShares(url, { n: N });
    const v2 = shareOf(shares, 'v2');
    const tolerance = shareTolerance(0.25, N);
    console.log(`[measure] replica-ratio: requested 33 %, effective 25 % (1 of 4 pods), observed v2 ${percent(v2)} of ${N} via ClusterIP (tolerance ±${percent(tolerance)}); ${JSON.stringify(shares.counts)}, ${shares.failures} failed`);
    expect(shares.failures).toBe(0);
    expect(Object.keys(shares.counts).sort()).toEqual(['v1', 'v2']);
    expect(Math.abs(v2 - 0.25)).toBeLessThanOrEqual(tolerance);

    await router.reset(target);
    expect(getJson<{ spec: { replicas: number } }>(ns, 'deployment/web-canary').spec.replicas).toBe(0);
    expect(getJson<{ spec: { replicas: number } }>(ns, 'deployment/web').spec.replicas).toBe(3);
  }, 180_000);

  it('with an HPA on the stable Deployment, the canary follows the HPA\'s current replicas and the HPA is never written', async () => {
    const { ns, target } = app('traffic-hpa', 3);
    kubectl(['apply', '-f', '-'], `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: ${ns}}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 5
`);
    type Hpa = KubeObject & { spec: Record<string, unknown>; status?: { currentReplicas?: number } };
    const hpaAt = (replicas: number) => until(`HPA web at ${replicas} current replicas`, () => {
      const h = getJson<Hpa>(ns, 'hpa/web');
      return h.status?.currentReplicas === replicas ? h : undefined;
    }, 90_000);
    // The HPA controller syncs every 15 s; without a metrics server it keeps the count within min and max.
    const first = await hpaAt(3);
    const router = routerFor('replica-ratio', { client, reporter: new MemoryReporter() });
    await router.prepare(target);
    const at3 = await router.setWeight(target, 33);
    console.log(`[measure] replica-ratio with HPA at 3: ${at3.detail}`);
    expect(at3).toMatchObject({ canaryReplicas: 1, effective: 25 });
    expect(at3.detail).toContain('HPA web current replicas');
    expect(getJson<Hpa>(ns, 'hpa/web').spec).toEqual(first.spec);

    // Load arrives, as far as the HPA knows: its floor goes to 5 and it scales the stable Deployment.
    kubectl(['-n', ns, 'patch', 'hpa', 'web', '--type=merge', '-p', '{"spec":{"minReplicas":5}}']);
    const raised = await hpaAt(5);
    const at5 = await router.setWeight(target, 33);
    console.log(`[measure] replica-ratio with HPA at 5: ${at5.detail}`);
    expect(at5).toMatchObject({ canaryReplicas: 2, effective: 29 });
    expect(getJson<{ spec: { replicas: number } }>(ns, 'deployment/web-canary').spec.replicas).toBe(2);
    // The HPA's spec is exactly what its owner set, and Gantry's traffic manager never wrote it or the stable Deployment.
    const hpa = getJson<Hpa>(ns, 'hpa/web');
    expect(hpa.spec).toEqual(raised.spec);
    for (const o of [hpa, getJson<KubeObject>(ns, 'deployment/web')]) {
      expect(((o.metadata.managedFields as { manager: string }[] | undefined) ?? []).map((m) => m.manager)).not.toContain('gantry-traffic');
    }

    const url = await podsServing(ns, 2, 5);
    const shares = await sampleShares(url, { n: N });
    const v2 = shareOf(shares, 'v2');
    const tolerance = shareTolerance(2 / 7, N);
    console.log(`[measure] replica-ratio with HPA: requested 33 %, effective 29 % (2 of 7 pods), observed v2 ${percent(v2)} of ${N} (tolerance ±${percent(tolerance)}); ${shares.failures} failed`);
    expect(shares.failures).toBe(0);
    expect(Math.abs(v2 - 2 / 7)).toBeLessThanOrEqual(tolerance);
  }, 240_000);
});

interface TraefikService {
  name: string;
  type?: string;
  weighted?: { services?: { name: string; weight?: number }[] };
}

/**
 * The weights Traefik serves now for this namespace's routes, by Service name: Traefik
 * applies a route a moment after it reports it Accepted (its provider throttle), so a
 * measurement starts once the running configuration says what the route says.
 */
async function traefikWeights(ns: string): Promise<Record<string, number>> {
  const services = (await (await fetch(`${TRAEFIK_API}/api/http/services`)).json()) as TraefikService[];
  const weights: Record<string, number> = {};
  const child = new RegExp(`-svc-${ns}-(.+)-\\d+$`);
  for (const s of services) {
    if (s.type !== 'weighted' || !s.name.startsWith(`httproute-${ns}-`)) continue;
    for (const c of s.weighted?.services ?? []) {
      const m = child.exec(c.name);
      if (m) weights[m[1]!] = c.weight ?? 1;
    }
  }
  return weights;
}

async function traefikServes(ns: string, expected: Record<string, number>): Promise<number> {
  const started = Date.now();
  await until(`Traefik serving ${JSON.stringify(expected)}`, async () => {
    const w = await traefikWeights(ns);
    return Object.entries(expected).every(([k, v]) => (w[k] ?? 0) === v) && Object.keys(w).every((k) => k in expected) ? true : undefined;
  }, 30_000);
  return Date.now() - started;
}

type Route = KubeObject & { spec: Record<string, unknown>; status?: { parents?: unknown[] } };

/** The sample app with an HTTPRoute of its own hostname on the stack's Gateway, sending to Service web, as Traefik serves it. */
async function routedApp(prefix: string): Promise<{ ns: string; host: string; target: RouteTarget; before: Route }> {
  const { ns, target } = app(prefix, 3);
  const host = `${ns}.gantry.test`;
  kubectl(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'web', namespace: ns },
    spec: { parentRefs: [{ name: env.gatewayName, namespace: env.gatewayNamespace }], hostnames: [host], rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] },
  }));
  await until('the route Accepted by Traefik', () => (getJson<Route>(ns, 'httproute/web').status?.parents?.length ? true : undefined));
  await traefikServes(ns, { web: 1 });
  return { ns, host, target: { ...target, route: 'web' }, before: getJson<Route>(ns, 'httproute/web') };
}

describe('gateway-httproute router through the real Gateway (Traefik)', () => {
  it('the v2 share through the Gateway follows 10, 50 and 100 %, and reset brings back 100 % v1 and the route exactly as it was', async () => {
    const { ns, host, target: routeTarget, before } = await routedApp('traffic-gw');
    const reporter = new MemoryReporter();
    const router = routerFor('gateway-httproute', { client, reporter });
    await router.prepare(routeTarget);
    // Everything through the Gateway, from the first weight to the reset, with every answer timed.
    const loop = new RequestLoop(env.gatewayUrl + '/version', { host, intervalMs: 20 }).start();
    let resetAt = 0;
    try {
      for (const [weight, pods] of [[10, 1], [50, 2], [100, 3]] as const) {
        const applied = await router.setWeight(routeTarget, weight);
        expect(applied).toMatchObject({ requested: weight, effective: weight, canaryReplicas: pods });
        const lag = await traefikServes(ns, { 'web-stable': 100 - weight, 'web-canary': weight });
        const shares = await sampleShares(env.gatewayUrl + '/version', { n: N, host });
        const v2 = shareOf(shares, 'v2');
        const tolerance = shareTolerance(weight / 100, N);
        console.log(`[measure] gateway-httproute: requested ${weight} %, effective ${applied.effective} %, observed v2 ${percent(v2)} of ${N} through the Gateway (tolerance ±${percent(tolerance)}); Traefik applied the route ${lag} ms after it was Accepted; ${shares.failures} failed`);
        expect(shares.failures).toBe(0);
        expect(Math.abs(v2 - weight / 100)).toBeLessThanOrEqual(tolerance);
      }
      resetAt = Date.now();
      await router.reset(routeTarget);
      console.log(`[measure] gateway-httproute reset (weight 0, drain, canary to 0, route restored, Services removed): ${Date.now() - resetAt} ms`);
      await traefikServes(ns, { web: 1 });
    } finally {
      await loop.stop();
    }
    const failed = loop.failures();
    const lastV2 = Math.max(...loop.records.filter((r) => r.answer === 'v2').map((r) => r.at));
    console.log(`[measure] gateway-httproute request loop over 10/50/100 % and reset: ${loop.records.length} requests, ${failed.length} failed; last v2 answer ${lastV2 - resetAt} ms after reset began, then ${loop.records.filter((r) => r.at > lastV2).length} v1 answers (${switches(loop.records.filter((r) => r.at >= resetAt)).join(' → ')})`);
    expect(failed).toEqual([]);
    // Back to v1 once, for good.
    expect(switches(loop.records.filter((r) => r.at >= resetAt))).toEqual(['v2', 'v1']);

    const after = await sampleShares(env.gatewayUrl + '/version', { n: N, host });
    expect(after.counts).toEqual({ v1: N });
    const restored = getJson<Route>(ns, 'httproute/web');
    expect(restored.spec).toEqual(before.spec);
    expect(restored.metadata.annotations ?? {}).toEqual(before.metadata.annotations ?? {});
    expect(kubectl(['-n', ns, 'get', 'services', '-o', 'name']).trim().split('\n').sort()).toEqual(['service/web']);
    expect(getJson<{ spec: { replicas: number } }>(ns, 'deployment/web-canary').spec.replicas).toBe(0);
  }, 300_000);

  it('after a promotion at 100 %, reset hands the traffic to the new stable pods without a failed request', async () => {
    const { ns, host, target } = await routedApp('traffic-gwp');
    const router = routerFor('gateway-httproute', { client, reporter: new MemoryReporter() });
    await router.prepare(target);
    await router.setWeight(target, 100);
    await traefikServes(ns, { 'web-stable': 0, 'web-canary': 100 });
    const loop = new RequestLoop(env.gatewayUrl + '/version', { host, intervalMs: 20 }).start();
    try {
      // The promotion, as the canary strategy does it: the stable Deployment takes v2 and is waited for at full scale.
      await kubectlAsync(['-n', ns, 'set', 'image', 'deployment/web', `app=${env.sampleImage}:v2`]);
      await kubectlAsync(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=120s']);
      await router.reset(target);
      await traefikServes(ns, { web: 1 });
    } finally {
      await loop.stop();
    }
    console.log(`[measure] gateway-httproute promote then reset: ${loop.records.length} requests, ${loop.failures().length} failed, answers ${switches(loop.records).join(' → ')}`);
    expect(loop.failures()).toEqual([]);
    expect((await sampleShares(env.gatewayUrl + '/version', { n: 200, host })).counts).toEqual({ v2: 200 });
    expect(kubectl(['-n', ns, 'get', 'services', '-o', 'name']).trim().split('\n')).toEqual(['service/web']);
  }, 300_000);
});
