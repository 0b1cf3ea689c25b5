// The job gate on the real cluster: the sample app's own smoke test (`sample-app -check URL`)
// run as a Job against the app's Service passes; the app crashing on start fails with its
// log line; an image that does not exist is inconclusive at once; a Job that hangs fails at
// its deadline or goes when the run is stopped. After each, no Job and no pod of one is left.
// The image is pinned by digest, so the node runs exactly what the registry holds. The
// command gate asks the same Service from this host, on the cluster network, by ClusterIP.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CommandGate } from '../../src/checks/command.js';
import { GATE_JOB_LABEL, JobGate } from '../../src/checks/job.js';
import { runGates } from '../../src/checks/run.js';
import { parseGateSpecs, type CommandCheckSpec, type GateSpec, type JobCheckSpec } from '../../src/checks/spec.js';
import { ApiClient } from '../../src/kube/api-client.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { configYaml, deploymentYaml, serviceYaml } from '../fixtures/deploy/sample.js';
import { readyNamespace } from '../support/namespaces.js';
import { stack } from '../support/stack.js';

const env = stack();
const ACCEPT = 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
const kubectl = (args: string[], input?: string): string => execFileSync('kubectl', args, { encoding: 'utf8', stdio: 'pipe', input });

let client: ApiClient;
let ns: string;
/** sample-app:v1 by digest. */
let image: string;

function gates(yaml: string): GateSpec[] {
  const { specs, errors } = parseGateSpecs(parse(yaml), 'analysis');
  expect(errors).toEqual([]);
  return specs;
}

const jobCheck = (yaml: string): JobCheckSpec => gates(yaml)[0]!.check as JobCheckSpec;

/** The Jobs and pods of gates in the namespace, as `kubectl get` would list them. */
async function leftovers(): Promise<string[]> {
  const jobs = await client.list('batch/v1', 'Job', ns);
  const pods = await client.list('v1', 'Pod', ns);
  return [...jobs.items, ...pods.items.filter((p) => p.metadata.labels?.[GATE_JOB_LABEL])].map((o) => `${o.kind}/${o.metadata.name}`);
}

/** Jobs go at once; their pods go with them a moment later (the garbage collector deletes them). */
async function expectNothingLeft(): Promise<number> {
  const t0 = Date.now();
  expect((await client.list('batch/v1', 'Job', ns)).items).toEqual([]);
  await expect.poll(leftovers, { timeout: 30_000, interval: 200 }).toEqual([]);
  return Date.now() - t0;
}

beforeAll(async () => {
  client = ApiClient.fromConfig({ kubeconfig: env.kubeconfig });
  ns = await readyNamespace(client, 'job-gate');
  const res = await fetch(`http://${env.registry}/v2/gantry/sample-app/manifests/v1`, { method: 'HEAD', headers: { Accept: ACCEPT } });
  expect(res.status).toBe(200);
  image = `${env.sampleImage}@${res.headers.get('docker-content-digest')}`;
  const web = { image };
  kubectl(['apply', '-n', ns, '-f', '-'], [configYaml(web), deploymentYaml(web), serviceYaml(web)].join('---\n'));
  kubectl(['rollout', 'status', '-n', ns, 'deployment/web', '--timeout=120s']);
  // A ready pod is in the Service a moment before kube-proxy routes its ClusterIP; this
  // host is on the cluster network, so it can tell when the Job's pod will be routed too.
  const clusterIP = kubectl(['get', 'service', 'web', '-n', ns, '-o', 'jsonpath={.spec.clusterIP}']);
  const answers = (): Promise<boolean> => fetch(`http://${clusterIP}/version`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.ok, () => false);
  for (const deadline = Date.now() + 30_000; !(await answers()); await new Promise((r) => setTimeout(r, 200))) {
    if (Date.now() > deadline) throw new Error(`the web Service (${clusterIP}) did not answer within 30 s`);
  }
}, 180_000);

afterAll(() => {
  client?.close();
  if (ns) execFileSync('kubectl', ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false'], { stdio: 'pipe' });
});

describe('Job gate on the real cluster', () => {
  it('a smoke-test Job that reaches the app\'s Service passes, and nothing of it is left', async () => {
    // No cluster DNS runs in the local stack, so the pod reaches the Service by the
    // WEB_SERVICE_HOST/PORT variables Kubernetes gives it, expanded in args by Kubernetes.
    const reporter = new MemoryReporter();
    const t0 = Date.now();
    const result = await runGates(gates(`
- name: smoke
  job:
    image: ${image}
    args: [-check, "http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)/version"]
    timeout: 1m
`), { client, namespace: ns, services: { stable: 'web' }, version: 'v1' }, { reporter });
    const elapsed = Date.now() - t0;
    expect(result.reason).toBeUndefined();
    expect(result.passed).toBe(true);
    expect(result.verdicts[0]).toMatchObject({ gate: 'smoke', status: 'pass', value: '0', condition: 'exit code == 0 within 1m' });
    expect(reporter.lines.at(-1)).toMatch(/^gate smoke: pass — Job smoke-\w{5} completed \(exit code 0\) \(1\/1\)$/);
    expect(reporter.lines[0]).toMatch(/^gate smoke: Job smoke-\w{5} started \(/);
    const cleanup = await expectNothingLeft();
    console.log(`job gate pass: ${elapsed} ms, pods gone ${cleanup} ms later`);
  }, 90_000);

  it('a Job whose app crashes fails with its exit code and log line, told its version through GANTRY_VERSION', async () => {
    const t0 = Date.now();
    const v = await new JobGate(jobCheck(`
- job:
    image: ${image}
    env: {CRASH_ON_START: "1", APP_VERSION: "$(GANTRY_VERSION)"}
`), 'crash').measure({ client, namespace: ns, services: { stable: 'web' }, version: 'v9-candidate' });
    const elapsed = Date.now() - t0;
    expect(v).toMatchObject({ gate: 'crash', status: 'fail', value: '1' });
    expect(v.message).toMatch(/^exit code 1: ".*sample-app v9-candidate: CRASH_ON_START is set; exiting with status 1"$/);
    expect(v.detail).toContain('sample-app v9-candidate: CRASH_ON_START is set');
    const cleanup = await expectNothingLeft();
    console.log(`job gate fail: ${elapsed} ms, pods gone ${cleanup} ms later`);
  }, 90_000);

  it('an image that does not exist is inconclusive within 30 s', async () => {
    const t0 = Date.now();
    const v = await new JobGate(jobCheck(`- job: {image: "${env.registry}/gantry/no-such-image:v1"}`), 'missing').measure({ client, namespace: ns, services: {} });
    const elapsed = Date.now() - t0;
    expect(v).toMatchObject({ status: 'inconclusive' });
    expect(v.message).toMatch(/^the image could not be pulled \((ErrImagePull|ImagePullBackOff): .*\); nothing was tested$/);
    expect(elapsed).toBeLessThan(30_000);
    const cleanup = await expectNothingLeft();
    console.log(`job gate inconclusive: ${elapsed} ms, pods gone ${cleanup} ms later`);
  }, 60_000);

  it('a Job that outlives its timeout fails at its deadline', async () => {
    // Without -check, the sample app serves until it is stopped.
    const t0 = Date.now();
    const v = await new JobGate(jobCheck(`- job: {image: "${image}", timeout: 3s}`), 'hang').measure({ client, namespace: ns, services: {} });
    const elapsed = Date.now() - t0;
    expect(v).toMatchObject({ status: 'fail', condition: 'exit code == 0 within 3s' });
    expect(v.message).toMatch(/^did not finish within 3s/);
    // The Job controller counts from the Job's startTime, which is stored in whole seconds.
    expect(elapsed).toBeGreaterThanOrEqual(2_000);
    expect(elapsed).toBeLessThan(20_000);
    const cleanup = await expectNothingLeft();
    console.log(`job gate deadline: ${elapsed} ms, pods gone ${cleanup} ms later`);
  }, 60_000);

  it('a run stopped mid-wait removes the running Job and its pod', async () => {
    const stop = new AbortController();
    const measuring = new JobGate(jobCheck(`- job: {image: "${image}"}`), 'stopped').measure({ client, namespace: ns, services: {}, signal: stop.signal });
    await expect.poll(async () => (await client.list('v1', 'Pod', ns, { fieldSelector: 'status.phase=Running' })).items.filter((p) => p.metadata.labels?.[GATE_JOB_LABEL]).length, { timeout: 30_000, interval: 200 }).toBe(1);
    const t0 = Date.now();
    stop.abort(new Error('another gate failed'));
    const v = await measuring;
    const stopped = Date.now() - t0;
    expect(stopped).toBeLessThan(5_000);
    expect(v).toMatchObject({ status: 'error', message: 'stopped before the Job finished' });
    const cleanup = await expectNothingLeft();
    console.log(`job gate stopped: verdict ${stopped} ms after the stop, pods gone ${cleanup} ms later`);
  }, 60_000);
});

describe('Command gate on the runner', () => {
  it('a command given the Service\'s ClusterIP URL reaches it from the runner and passes; a wrong expectation fails with what it printed', async () => {
    const command = (run: string): CommandGate => new CommandGate(gates(`- command: {run: ${JSON.stringify(run)}, timeout: 20s}`)[0]!.check as CommandCheckSpec, 'curl');
    const ctx = { client, namespace: ns, services: { stable: 'web' }, version: 'v1', workspace: process.cwd() };
    const pass = await command('test "$(curl -fsS "$GANTRY_STABLE_URL/version")" = "$GANTRY_VERSION"').measure(ctx);
    expect(pass).toMatchObject({ status: 'pass', value: '0' });
    const fail = await command('v=$(curl -fsS "$GANTRY_STABLE_URL/version"); echo "expected v2, got $v"; test "$v" = v2').measure(ctx);
    expect(fail).toMatchObject({ status: 'fail', value: '1', message: 'exit code 1: "expected v2, got v1"' });
  }, 60_000);
});
