// The stack's Gateway API data plane is real: Traefik, running on the host with its
// Kubernetes Gateway provider, routes requests sent to the Gateway by the weights of an
// HTTPRoute's backendRefs, to pod IPs over the CNI bridge. Canary tests through the
// HTTPRoute router rely on exactly this.
import { execFile } from 'node:child_process';
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stack, uniqueName } from '../support/stack.js';

const env = stack();
const ns = uniqueName('gateway');
// A hostname of its own keeps this route apart from any other on the shared Gateway.
const host = `${ns}.gantry.test`;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function kubectl(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('kubectl', args, (err, stdout, stderr) => (err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr || err}`)) : resolve(stdout)));
    if (input !== undefined) child.stdin!.end(input);
  });
}

function app(version: string): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: sample-${version}, namespace: ${ns}}
spec:
  replicas: 1
  selector: {matchLabels: {app: sample, version: ${version}}}
  template:
    metadata: {labels: {app: sample, version: ${version}}}
    spec:
      containers:
      - name: app
        image: ${env.sampleImage}:${version}
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /ready, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: sample-${version}, namespace: ${ns}}
spec:
  selector: {app: sample, version: ${version}}
  ports: [{port: 80, targetPort: 8080}]
`;
}

function route(v1Weight: number, v2Weight: number): string {
  return `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: sample, namespace: ${ns}}
spec:
  parentRefs: [{name: ${env.gatewayName}, namespace: ${env.gatewayNamespace}}]
  hostnames: [${host}]
  rules:
  - backendRefs:
    - {name: sample-v1, port: 80, weight: ${v1Weight}}
    - {name: sample-v2, port: 80, weight: ${v2Weight}}
`;
}

type Condition = { type: string; status: string; observedGeneration?: number };
type RouteStatus = { metadata: { generation: number }; status?: { parents?: { controllerName: string; conditions: Condition[] }[] } };

/** Waits until Traefik has taken the route's current generation: Accepted and ResolvedRefs. */
async function waitRouteAccepted(timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = JSON.parse(await kubectl(['-n', ns, 'get', 'httproute', 'sample', '-o', 'json'])) as RouteStatus;
    const parent = r.status?.parents?.find((p) => p.controllerName === 'traefik.io/gateway-controller');
    const ok = (type: string) => parent?.conditions.some((c) => c.type === type && c.status === 'True' && c.observedGeneration === r.metadata.generation);
    if (ok('Accepted') && ok('ResolvedRefs')) return;
    last = JSON.stringify(r.status ?? {});
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`HTTPRoute not Accepted/ResolvedRefs by Traefik after ${timeoutMs} ms; status: ${last}`);
}

/** One GET /version through the Gateway with the route's hostname. */
function ask(): Promise<{ code: number; body: string }> {
  const url = new URL('/version', env.gatewayUrl);
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: { host }, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body: body.trim() }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Sends n requests one after another and counts the answers by body ("v1", "v2") or by status code when not 200. */
async function sample(n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const { code, body } = await ask();
    const key = code === 200 ? body : `HTTP ${code}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/**
 * Traefik applies a route a moment after it reports it Accepted (its configuration
 * throttle and reload). Waits until `window` answers in a row are 200 and `settled` says
 * their versions match the route, so the measurement starts on the route as written.
 */
async function waitSettled(settled: (counts: Record<string, number>) => boolean, window = 20, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  let counts: Record<string, number> = {};
  while (Date.now() - started < timeoutMs) {
    counts = await sample(window).catch(() => ({}));
    if (Object.keys(counts).every((k) => !k.startsWith('HTTP')) && settled(counts)) return Date.now() - started;
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error(`the Gateway did not settle on the route within ${timeoutMs} ms; last answers: ${JSON.stringify(counts)}`);
}

beforeAll(async () => {
  await kubectl(['create', 'namespace', ns]);
  await kubectl(['apply', '-f', '-'], app('v1') + '---' + app('v2'));
  await kubectl(['-n', ns, 'rollout', 'status', 'deployment/sample-v1', '--timeout=90s']);
  await kubectl(['-n', ns, 'rollout', 'status', 'deployment/sample-v2', '--timeout=90s']);
}, 120_000);
afterAll(async () => {
  agent.destroy();
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
});

describe('Gateway API data plane (Traefik)', () => {
  it('the stack Gateway is Programmed by Traefik', async () => {
    const gw = JSON.parse(await kubectl(['-n', env.gatewayNamespace, 'get', 'gateway', env.gatewayName, '-o', 'json'])) as { spec: { gatewayClassName: string }; status: { conditions: Condition[] } };
    expect(gw.spec.gatewayClassName).toBe(env.gatewayClass);
    expect(gw.status.conditions.find((c) => c.type === 'Programmed')?.status).toBe('True');
  });

  // 400 sequential requests. Traefik's weighted round robin is deterministic, so the
  // observed share lands on the weight almost exactly; 5 points of tolerance (2.5 binomial
  // standard deviations at n = 400) would still hold for a random split.
  const N = 400;
  const TOLERANCE = 0.05;

  it(`an HTTPRoute weighted 80/20 sends 20 % (± ${TOLERANCE * 100} points) of ${N} requests to v2`, async () => {
    await kubectl(['apply', '-f', '-'], route(80, 20));
    await waitRouteAccepted();
    await waitSettled((c) => (c.v1 ?? 0) > 0 && (c.v2 ?? 0) > 0);
    const counts = await sample(N);
    const v2Share = (counts.v2 ?? 0) / N;
    console.log(`gateway split at 80/20: requested v2 20 %, observed ${(v2Share * 100).toFixed(1)} % (${JSON.stringify(counts)})`);
    expect(Object.keys(counts).sort()).toEqual(['v1', 'v2']);
    expect(Math.abs(v2Share - 0.2)).toBeLessThanOrEqual(TOLERANCE);
  }, 120_000);

  it(`after re-weighting to 0/100, all of ${N} requests reach v2`, async () => {
    await kubectl(['apply', '-f', '-'], route(0, 100));
    await waitRouteAccepted();
    const ms = await waitSettled((c) => Object.keys(c).length === 1 && (c.v2 ?? 0) > 0);
    const counts = await sample(N);
    console.log(`gateway split at 0/100: requested v2 100 %, observed ${(((counts.v2 ?? 0) / N) * 100).toFixed(1)} % (${JSON.stringify(counts)}); settled ${ms} ms after Accepted`);
    expect(counts).toEqual({ v2: N });
  }, 120_000);
});
