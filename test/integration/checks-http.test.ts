// The HTTP gate against the real API server's service proxy and the real sample app, each
// variant behind its own ClusterIP Service: v1 answering passes; pods that answer 500, a body
// that does not match, answers slower than the budget fail; an answer slower than the
// timeout is an error; pods that never get ready fail with the proxy's own words. Each run
// has its own namespace, removed afterwards.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runGates } from '../../src/checks/run.js';
import { parseGateSpecs, type GateSpec } from '../../src/checks/spec.js';
import { ApiClient } from '../../src/kube/api-client.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { configYaml, deploymentYaml, serviceYaml } from '../fixtures/deploy/sample.js';
import { serviceGet, stack, uniqueName } from '../support/stack.js';

const env = stack();
const ns = uniqueName('gates');
const kubectl = (args: string[], input?: string): string => execFileSync('kubectl', args, { encoding: 'utf8', stdio: 'pipe', input });

/** The sample app's variants, each as its own Deployment and Service, by the knobs that make it misbehave. */
const VARIANTS: Record<string, Record<string, string>> = {
  web: {},
  stuck: { NEVER_READY: '1' },
  broken: { ERROR_RATE: '1' },
  slow: { LATENCY_MS: '400' },
};

function manifests(): string {
  return Object.entries(VARIANTS).flatMap(([name, knobs]) => {
    const o = { image: `${env.sampleImage}:v1`, env: knobs };
    return [configYaml(o), deploymentYaml(o), serviceYaml(o)].map((yaml) => yaml.replaceAll('web', name));
  }).join('---\n');
}

function gates(yaml: string): GateSpec[] {
  const { specs, errors } = parseGateSpecs(parse(yaml), 'analysis');
  expect(errors).toEqual([]);
  return specs;
}

let client: ApiClient;

beforeAll(async () => {
  kubectl(['create', 'namespace', ns]);
  kubectl(['apply', '-n', ns, '-f', '-'], manifests());
  for (const name of ['web', 'broken', 'slow']) kubectl(['rollout', 'status', '-n', ns, `deployment/${name}`, '--timeout=120s']);
  // The stuck pod must be running, so "no endpoints" is about readiness and not a pod still starting.
  kubectl(['wait', '-n', ns, '--for=jsonpath={.status.phase}=Running', 'pod', '-l', 'app=stuck', '--timeout=120s']);
  client = ApiClient.fromConfig({ kubeconfig: env.kubeconfig });
  // Endpoints follow a ready pod by a moment; wait until the proxy reaches each at all.
  await Promise.all(['web', 'broken', 'slow'].map((name) => serviceGet(ns, `${name}:80`, '/ready')));
}, 180_000);

afterAll(() => {
  client?.close();
  execFileSync('kubectl', ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false'], { stdio: 'pipe' });
});

describe('HTTP gate through the API server\'s service proxy', () => {
  it('a ClusterIP Service answering v1 on /version passes, measured twice', async () => {
    const reporter = new MemoryReporter();
    const result = await runGates(gates(`
- name: version
  http: {service: "\${active}", port: 80, path: /version, expect-status: 200, body-contains: v1}
  count: 2
  interval: 500ms
`), { client, namespace: ns, services: { active: 'web' } }, { reporter });
    expect(result.reason).toBeUndefined();
    expect(result.passed).toBe(true);
    expect(reporter.lines).toEqual([
      'gate version: pass — status 200 == 200, body contains "v1" (1/2)',
      'gate version: pass — status 200 == 200, body contains "v1" (2/2)',
    ]);
  }, 60_000);

  it('a Service whose pods never get ready fails, with the proxy\'s message in the verdict', async () => {
    // The proxy's 503 is the measurement: it comes back at once, never retried by the client.
    const started = Date.now();
    const reporter = new MemoryReporter();
    const result = await runGates(gates(`
- http: {service: "\${preview}", port: 80, path: /version}
  count: 3
`), { client, namespace: ns, services: { preview: 'stuck' } }, { reporter });
    expect(result.passed).toBe(false);
    expect(result.verdicts).toHaveLength(1);
    expect(result.verdicts[0]).toMatchObject({ gate: 'http stuck:80/version', status: 'fail', value: '503', condition: 'status in 2xx' });
    expect(result.verdicts[0]!.message).toMatch(/^proxy to stuck:80: no endpoints available for service "stuck(:80)?"$/);
    expect(result.reason).toMatch(/^gate http stuck:80\/version: 1 failed measurement, failure-limit 0: proxy to stuck:80: /);
    expect(reporter.lines).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 30_000);

  /** One measurement of one gate, against the Service that stands for ${canary}. */
  async function measureCanary(service: string, http: string, extra = '') {
    const reporter = new MemoryReporter();
    const result = await runGates(gates(`- http: ${http}\n${extra}`), { client, namespace: ns, services: { canary: service } }, { reporter });
    expect(result.verdicts).toHaveLength(1);
    return { result, verdict: result.verdicts[0]!, reporter };
  }

  it('pods that answer 500 fail the gate at once, with the status as the value and the body quoted', async () => {
    const { result, verdict } = await measureCanary('broken', '{service: "${canary}", port: 80, path: /version, expect-status: 200}');
    expect(result.passed).toBe(false);
    expect(verdict).toMatchObject({ gate: 'http broken:80/version', status: 'fail', value: '500', message: 'status 500 != 200 (body "injected failure (ERROR_RATE)")' });
    expect(result.reason).toBe('gate http broken:80/version: 1 failed measurement, failure-limit 0: status 500 != 200 (body "injected failure (ERROR_RATE)")');
  }, 30_000);

  it('a body that does not match fails, quoting what the pods said', async () => {
    const { result, verdict } = await measureCanary('web', '{service: "${canary}", port: 80, path: /version, body-matches: "^v2"}');
    expect(result.passed).toBe(false);
    expect(verdict).toMatchObject({ status: 'fail', value: '200' });
    expect(verdict.message).toMatch(/^status 200 in 2xx, but body does not match \/\^v2\/ \(got "v1[^"]*"\)$/);
  }, 30_000);

  it('answers slower than max-latency fail with the latency measured against the budget', async () => {
    const { result, verdict } = await measureCanary('slow', '{service: "${canary}", port: 80, path: /version, max-latency: 100ms}');
    expect(result.passed).toBe(false);
    expect(verdict).toMatchObject({ status: 'fail', condition: 'status in 2xx and latency <= 100 ms' });
    const [, measured] = /^status 200 in 2xx, but latency (\d+) ms > 100 ms$/.exec(verdict.message) ?? [];
    expect(Number(measured)).toBeGreaterThanOrEqual(400);
    expect(verdict.value).toBe(`${measured} ms`);
  }, 30_000);

  it('an answer slower than the timeout is an error: nothing was measured', async () => {
    const started = Date.now();
    const { result, verdict } = await measureCanary('slow', '{service: "${canary}", port: 80, path: /version, timeout: 200ms}', '  consecutive-error-limit: 0\n');
    expect(result.passed).toBe(false);
    expect(verdict).toMatchObject({ status: 'error', message: 'no answer through the API server within 200 ms (timeout)' });
    expect(verdict.value).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 30_000);

  it('a POST with headers and a body reaches the pods, and the answer passes within its budget', async () => {
    const { result, verdict } = await measureCanary('web',
      '{service: "${canary}", port: 80, path: "/?from=gate", method: POST, headers: {X-Env: ci}, body: probe, body-contains: hello from sample-app, max-latency: 5s}');
    expect(result.passed).toBe(true);
    expect(verdict).toMatchObject({ gate: 'http POST web:80/?from=gate', status: 'pass', value: '200' });
    expect(verdict.message).toMatch(/^status 200 in 2xx, body contains "hello from sample-app", latency \d+ ms <= 5000 ms$/);
  }, 30_000);
});
