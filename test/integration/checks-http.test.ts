// The HTTP gate against the real API server's service proxy and the real sample app: a
// ClusterIP Service answering v1 passes, a Service whose pods never get ready fails with
// the proxy's own words. Each run has its own namespace, removed afterwards.
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

/** The sample app as `web` (v1, ready) and as `stuck` (its pods run but never get ready). */
function manifests(): string {
  const web = { image: `${env.sampleImage}:v1` };
  const stuck = { image: `${env.sampleImage}:v1`, env: { NEVER_READY: '1' } };
  const rename = (yaml: string): string => yaml.replaceAll('web', 'stuck');
  return [
    configYaml(web), deploymentYaml(web), serviceYaml(web),
    rename(configYaml(stuck)), rename(deploymentYaml(stuck)), rename(serviceYaml(stuck)),
  ].join('---\n');
}

function gates(yaml: string): GateSpec[] {
  const { specs, errors } = parseGateSpecs(parse(yaml), 'analysis');
  expect(errors).toEqual([]);
  return specs;
}

let client: ApiClient;

beforeAll(() => {
  kubectl(['create', 'namespace', ns]);
  kubectl(['apply', '-n', ns, '-f', '-'], manifests());
  kubectl(['rollout', 'status', '-n', ns, 'deployment/web', '--timeout=120s']);
  // The stuck pod must be running, so "no endpoints" is about readiness and not a pod still starting.
  kubectl(['wait', '-n', ns, '--for=jsonpath={.status.phase}=Running', 'pod', '-l', 'app=stuck', '--timeout=120s']);
  client = ApiClient.fromConfig({ kubeconfig: env.kubeconfig });
}, 180_000);

afterAll(() => {
  client?.close();
  execFileSync('kubectl', ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false'], { stdio: 'pipe' });
});

describe('HTTP gate through the API server\'s service proxy', () => {
  it('a ClusterIP Service answering v1 on /version passes, measured twice', async () => {
    // Endpoints follow a ready pod by a moment; wait until the proxy reaches it at all.
    await serviceGet(ns, 'web:80', '/version');
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
    // This one measurement takes about 30 s: ApiClient.request retries a 503 answer for its
    // retryForMs (30 s by default) before it returns it, though here the 503 is the measurement.
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
  }, 90_000);
});
