// The job gate on the in-memory cluster, whose controller plays the Job controller and the
// kubelet: the Job a user would find with kubectl (name, labels, deadline, the GANTRY_*
// variables), the verdict for each way a Job ends, and no Job or pod left behind, also when
// the run is stopped mid-wait. The spec parser's problems name their exact YAML path.
import { describe, expect, it } from 'vitest';
import type { GateContext } from '../../src/checks/gate.js';
import { GATE_JOB_LABEL, JobGate, jobGateName, jobNameFor } from '../../src/checks/job.js';
import { runGates } from '../../src/checks/run.js';
import { parseGateSpecs, type GateSpec, type JobCheckSpec } from '../../src/checks/spec.js';
import type { BatchResult, KubeObject } from '../../src/kube/client.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { FakeClock, FakeCluster } from '../fixtures/deploy/fake-cluster.js';

const IMAGE = 'ghcr.io/acme/web-e2e:1.4.2';

function parse(job: unknown, extra: Record<string, unknown> = {}) {
  return parseGateSpecs([{ job, ...extra }], 'steps[1].analysis');
}

function spec(job: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): GateSpec {
  const { specs, errors } = parse({ image: IMAGE, ...job }, extra);
  expect(errors).toEqual([]);
  return specs[0]!;
}
const check = (job: Record<string, unknown> = {}): JobCheckSpec => spec(job).check as JobCheckSpec;

/**
 * How the fake kubelet runs the Job's pod: to completion, to a failed exit, stuck pulling its
 * image, running until the Job's deadline, or never (no Job controller at all).
 */
type Behaviour = 'complete' | 'fail' | 'pull' | 'hang' | 'nothing';

const service = (name: string, port: number, clusterIP: string): KubeObject => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop' }, spec: { clusterIP, ports: [{ port, targetPort: 8080 }, { port: 9090, name: 'metrics' }] },
});

function setup(behaviour: Behaviour, options: { runningTicks?: number } = {}) {
  const cluster = new FakeCluster();
  const clock = new FakeClock().onSleep(() => cluster.tick());
  cluster.put(service('web', 80, '10.96.0.10'));
  cluster.put(service('web-canary', 8080, '10.96.0.12'));
  cluster.logText = 'running 12 tests\n  ok login\n  FAIL checkout: expected 200, got 503\n';
  const started = new Map<string, number>();
  cluster.controller = (c) => {
    if (behaviour === 'nothing') return;
    for (const job of [...c.objects.values()].filter((o) => o.kind === 'Job')) {
      const name = job.metadata.name;
      const spec = job.spec as { activeDeadlineSeconds: number; template: { metadata: { labels: Record<string, string> } } };
      if (!started.has(name)) started.set(name, clock.now());
      const podName = `${name}-x7k2p`;
      const pod = c.get('Pod', podName, 'shop') ?? c.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: podName, namespace: 'shop', labels: spec.template.metadata.labels, ownerReferences: [{ uid: job.metadata.uid }] } });
      const ticks = (clock.now() - started.get(name)!) / 1000;
      const running = { phase: 'Running', containerStatuses: [{ name: 'test', state: { running: {} } }] };
      if (behaviour === 'pull') {
        Object.assign(pod, { status: { phase: 'Pending', containerStatuses: [{ name: 'test', state: { waiting: { reason: 'ErrImagePull', message: `failed to pull and unpack image "${IMAGE}": not found` } } }] } });
      } else if (behaviour === 'hang') {
        Object.assign(pod, { status: running });
        if (clock.now() - started.get(name)! >= spec.activeDeadlineSeconds * 1000) {
          Object.assign(job, { status: { conditions: [{ type: 'FailureTarget', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }] } });
        }
      } else if (ticks < (options.runningTicks ?? 3)) {
        Object.assign(pod, { status: running });
      } else if (behaviour === 'complete') {
        Object.assign(pod, { status: { phase: 'Succeeded', containerStatuses: [{ name: 'test', state: { terminated: { exitCode: 0, reason: 'Completed' } } }] } });
        Object.assign(job, { status: { conditions: [{ type: 'SuccessCriteriaMet', status: 'True' }, { type: 'Complete', status: 'True' }] } });
      } else {
        Object.assign(pod, { status: { phase: 'Failed', containerStatuses: [{ name: 'test', state: { terminated: { exitCode: 3, reason: 'Error' } } }] } });
        Object.assign(job, { status: { conditions: [{ type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded' }, { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] } });
      }
    }
  };
  const lines: string[] = [];
  const ctx: GateContext = { client: cluster, namespace: 'shop', services: { canary: 'web-canary', stable: 'web' }, version: 'v2', clock, log: (l) => lines.push(l) };
  /** What a user would find in the namespace afterwards: Jobs and their pods. */
  const leftovers = () => [...cluster.objects.values()].filter((o) => o.kind === 'Job' || (o.kind === 'Pod' && o.metadata.labels?.[GATE_JOB_LABEL])).map((o) => `${o.kind}/${o.metadata.name}`);
  const createdJob = () => cluster.callsOf('create')[0]!.objects[0]!;
  return { cluster, clock, ctx, lines, leftovers, createdJob };
}

describe('JobGate runs the test image as a Job', () => {
  it('creates a Job a user can recognise, told what to test, and passes when it completes; nothing is left behind', async () => {
    const { ctx, clock, createdJob, leftovers, lines } = setup('complete');
    const t0 = clock.now();
    const v = await new JobGate(check({ args: ['--base-url', '$(GANTRY_CANARY_URL)'], env: { SUITE: 'smoke', RETRIES: 2, BASE: '$(GANTRY_CANARY_URL)/api' } }), 'smoke tests').measure(ctx);
    expect(v).toEqual({ gate: 'smoke tests', status: 'pass', value: '0', condition: 'exit code == 0 within 5m', message: `Job ${createdJob().metadata.name} completed (exit code 0)`, at: clock.now() });
    expect(clock.now() - t0).toBeLessThan(10_000);

    const job = createdJob();
    expect(job.metadata.name).toMatch(/^smoke-tests-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(job.metadata).toMatchObject({
      namespace: 'shop',
      labels: { 'app.kubernetes.io/managed-by': 'gantry', [GATE_JOB_LABEL]: job.metadata.name },
      annotations: { 'gantry.dev/gate': 'smoke tests' },
    });
    expect(job.spec).toEqual({
      backoffLimit: 0,
      activeDeadlineSeconds: 300,
      ttlSecondsAfterFinished: 600,
      template: {
        metadata: { labels: { 'app.kubernetes.io/managed-by': 'gantry', [GATE_JOB_LABEL]: job.metadata.name } },
        spec: {
          restartPolicy: 'Never',
          containers: [{
            name: 'test', image: IMAGE, args: ['--base-url', '$(GANTRY_CANARY_URL)'],
            // Gantry's first, so the user's can refer to them.
            env: [
              { name: 'GANTRY_NAMESPACE', value: 'shop' },
              { name: 'GANTRY_VERSION', value: 'v2' },
              { name: 'GANTRY_CANARY_SERVICE', value: 'web-canary' },
              { name: 'GANTRY_CANARY_URL', value: 'http://web-canary.shop.svc:8080' },
              { name: 'GANTRY_STABLE_SERVICE', value: 'web' },
              { name: 'GANTRY_STABLE_URL', value: 'http://web.shop.svc:80' },
              { name: 'SUITE', value: 'smoke' },
              { name: 'RETRIES', value: '2' },
              { name: 'BASE', value: '$(GANTRY_CANARY_URL)/api' },
            ],
          }],
        },
      },
    });
    expect(leftovers()).toEqual([]);
    expect(lines).toEqual([
      `gate smoke tests: Job ${job.metadata.name} started (${IMAGE}, up to 5m)`,
      `gate smoke tests: pod ${job.metadata.name}-x7k2p Running`,
    ]);
  });

  it('fails with the exit code and the last log line, keeping the log as evidence', async () => {
    const { ctx, leftovers, cluster } = setup('fail');
    const v = await new JobGate(check({ timeout: '2m' }), 'e2e').measure(ctx);
    expect(v).toMatchObject({
      gate: 'e2e', status: 'fail', value: '3', condition: 'exit code == 0 within 2m',
      message: 'exit code 3: "FAIL checkout: expected 200, got 503"',
      detail: 'running 12 tests\n  ok login\n  FAIL checkout: expected 200, got 503',
    });
    expect(leftovers()).toEqual([]);
    expect(cluster.callsOf('logs')).toHaveLength(1);
  });

  it('says so when the failed Job printed nothing', async () => {
    const { ctx, cluster } = setup('fail');
    cluster.logText = '';
    const v = await new JobGate(check(), 'e2e').measure(ctx);
    expect(v).toMatchObject({ status: 'fail', value: '3', message: 'exit code 3: no log output' });
    expect(v.detail).toBeUndefined();
  });

  it('is inconclusive at once when the image cannot be pulled: nothing was tested', async () => {
    const { ctx, clock, leftovers } = setup('pull');
    const t0 = clock.now();
    const v = await new JobGate(check(), 'e2e').measure(ctx);
    expect(v).toMatchObject({ status: 'inconclusive', message: `the image could not be pulled (ErrImagePull: failed to pull and unpack image "${IMAGE}": not found); nothing was tested` });
    expect(v.value).toBeUndefined();
    expect(clock.now() - t0).toBeLessThan(5_000);
    expect(leftovers()).toEqual([]);
  });

  it('fails when the Job outlives its deadline, with the log so far, and says how long it had', async () => {
    const { ctx, clock, leftovers, lines } = setup('hang');
    const t0 = clock.now();
    const v = await new JobGate(check({ timeout: '90s' }), 'e2e').measure(ctx);
    expect(v).toMatchObject({ status: 'fail', message: 'did not finish within 1m30s; last line "FAIL checkout: expected 200, got 503"' });
    expect(v.detail).toContain('running 12 tests');
    expect(clock.now() - t0).toBeGreaterThanOrEqual(90_000);
    expect(clock.now() - t0).toBeLessThan(92_000);
    expect(leftovers()).toEqual([]);
    // A long wait says how it is going.
    expect(lines.filter((l) => l.includes('still running'))).toEqual([
      expect.stringMatching(/^gate e2e: Job e2e-\w{5} still running, 1m left$/),
      expect.stringMatching(/^gate e2e: Job e2e-\w{5} still running, 30s left$/),
    ]);
  });

  it('fails on its own clock when no controller ever ends the Job', async () => {
    const { ctx, clock, leftovers } = setup('nothing');
    const t0 = clock.now();
    const v = await new JobGate(check({ timeout: '10s' }), 'e2e').measure(ctx);
    expect(v).toMatchObject({ status: 'fail', message: 'did not finish within 10s' });
    expect(clock.now() - t0).toBeGreaterThanOrEqual(10_000);
    expect(leftovers()).toEqual([]);
  });

  it('removes the Job and its pod when the run is stopped mid-wait', async () => {
    const { ctx, cluster, clock, leftovers } = setup('hang');
    const stop = new AbortController();
    let sleeps = 0;
    clock.onSleep(() => {
      if (++sleeps === 5) stop.abort(new Error('another gate failed'));
    });
    const running = new JobGate(check(), 'e2e').measure({ ...ctx, signal: stop.signal });
    const v = await running;
    expect(v).toMatchObject({ status: 'error', message: 'stopped before the Job finished' });
    expect(cluster.callsOf('delete')).toHaveLength(1);
    expect(leftovers()).toEqual([]);
    expect(cluster.openWatches).toBe(0);
  });

  it('creates nothing when the run was stopped before it started', async () => {
    const { ctx, cluster } = setup('complete');
    const v = await new JobGate(check(), 'e2e').measure({ ...ctx, signal: AbortSignal.abort() });
    expect(v).toMatchObject({ status: 'error' });
    expect(cluster.callsOf('create')).toEqual([]);
  });

  it('is an error, before any Job exists, when its ServiceAccount does not', async () => {
    const { ctx, cluster } = setup('complete');
    const v = await new JobGate(check({ 'service-account': 'e2e-runner' }), 'e2e').measure(ctx);
    expect(v).toMatchObject({ status: 'error', message: 'no ServiceAccount "e2e-runner" in namespace shop to run the Job as' });
    expect(cluster.callsOf('create')).toEqual([]);
  });

  it('runs as the ServiceAccount it names', async () => {
    const { ctx, cluster, createdJob } = setup('complete');
    cluster.put({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'e2e-runner', namespace: 'shop' } });
    const v = await new JobGate(check({ 'service-account': 'e2e-runner', command: ['/e2e'] }), 'e2e').measure(ctx);
    expect(v.status).toBe('pass');
    const podSpec = (createdJob().spec as { template: { spec: Record<string, unknown> } }).template.spec;
    expect(podSpec).toMatchObject({ serviceAccountName: 'e2e-runner', containers: [{ command: ['/e2e'] }] });
  });

  it('is an error with the server\'s words when the API server refuses the Job', async () => {
    class Refusing extends FakeCluster {
      override async create(): Promise<BatchResult> {
        return { ok: false, objects: [], problems: [{ reason: 'Forbidden', code: 403, message: 'jobs.batch is forbidden: User "ci" cannot create resource "jobs" in API group "batch" in the namespace "shop"' }] };
      }
    }
    const cluster = new Refusing();
    const v = await new JobGate(check(), 'e2e').measure({ client: cluster, namespace: 'shop', services: {}, clock: new FakeClock() });
    expect(v).toMatchObject({ status: 'error', message: 'the API server refused the Job: jobs.batch is forbidden: User "ci" cannot create resource "jobs" in API group "batch" in the namespace "shop"' });
  });

  it('gives a role no URL when its Service does not exist, and no GANTRY_VERSION when the version is unknown', async () => {
    const { ctx, createdJob } = setup('complete');
    await new JobGate(check(), 'e2e').measure({ ...ctx, services: { preview: 'web-preview' }, version: undefined });
    const env = (createdJob().spec as { template: { spec: { containers: { env: unknown[] }[] } } }).template.spec.containers[0]!.env;
    expect(env).toEqual([{ name: 'GANTRY_NAMESPACE', value: 'shop' }, { name: 'GANTRY_PREVIEW_SERVICE', value: 'web-preview' }]);
  });

  it('runs from the rollout YAML through the gate loop, one line per verdict', async () => {
    const { ctx, clock } = setup('fail');
    const reporter = new MemoryReporter();
    const result = await runGates([spec()], ctx, { reporter, clock });
    expect(result.passed).toBe(false);
    expect(result.reason).toBe(`gate job ${IMAGE}: 1 failed measurement, failure-limit 0: exit code 3: "FAIL checkout: expected 200, got 503"`);
    expect(reporter.lines).toEqual([`gate job ${IMAGE}: fail — exit code 3: "FAIL checkout: expected 200, got 503" (1/1)`]);
  });
});

describe('Job names', () => {
  it.each([
    ['smoke tests', /^smoke-tests-abcde$/],
    [`job ${IMAGE}`, /^job-ghcr-io-acme-web-e2e-1-4-2-abcde$/],
    ['---', /^gate-abcde$/],
    ['Ünïcode & Co.', /^n-code-co-abcde$/],
  ])('%s → a DNS label', (gate, expected) => {
    expect(jobNameFor(gate, 'abcde')).toMatch(expected);
  });

  it('stay within 63 characters and end in a letter or digit before the suffix', () => {
    const name = jobNameFor(`job ${'a'.repeat(55)}-b-c-d`, 'abcde');
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?-abcde$/);
    expect(jobNameFor('smoke')).not.toBe(jobNameFor('smoke'));
  });

  it('the gate is named after its image unless it has a name', () => {
    expect(jobGateName(check())).toBe(`job ${IMAGE}`);
  });
});

describe('the job check as written', () => {
  it('has a 5m timeout by default, and takes every field', () => {
    expect(check()).toEqual({ kind: 'job', image: IMAGE, env: {}, timeoutMs: 300_000 });
    expect(check({ command: ['/bin/e2e'], args: ['--suite', 'smoke'], env: { A: 'x', N: 3, B: true }, timeout: '10m', 'service-account': 'e2e' })).toEqual({
      kind: 'job', image: IMAGE, command: ['/bin/e2e'], args: ['--suite', 'smoke'], env: { A: 'x', N: '3', B: 'true' }, timeoutMs: 600_000, serviceAccount: 'e2e',
    });
  });

  it.each([
    ['no image', {}, 'steps[1].analysis[0].job.image: is required: the image to run, e.g. ghcr.io/acme/web-e2e:1.4.2'],
    ['an image that is no reference', { image: 'ghcr.io/Acme Web:1' }, 'steps[1].analysis[0].job.image: is not an image reference: repository "Acme Web" is not valid: it contains "A", a space, "W"; repository names use lowercase letters, digits and . _ - separators'],
    ['a command as one string', { image: IMAGE, command: 'npm test' }, 'steps[1].analysis[0].job.command: must be a non-empty list of strings, got "npm test"'],
    ['an argument that is a number', { image: IMAGE, args: ['--port', 8080] }, 'steps[1].analysis[0].job.args[1]: must be a string, got 8080'],
    ['env as a list', { image: IMAGE, env: ['A=1'] }, 'steps[1].analysis[0].job.env: must be a mapping of variable names to values, got ["A=1"]'],
    ['a variable name with a dash', { image: IMAGE, env: { 'BASE-URL': 'x' } }, 'steps[1].analysis[0].job.env.BASE-URL: is not a valid variable name; use letters, digits and _, not starting with a digit'],
    ['a GANTRY_ variable', { image: IMAGE, env: { GANTRY_VERSION: 'v9' } }, 'steps[1].analysis[0].job.env.GANTRY_VERSION: is Gantry\'s to set; GANTRY_ variables say what to test (GANTRY_NAMESPACE, GANTRY_VERSION, GANTRY_<ROLE>_SERVICE, GANTRY_<ROLE>_URL)'],
    ['a variable whose value is a mapping', { image: IMAGE, env: { A: { b: 1 } } }, 'steps[1].analysis[0].job.env.A: must be a string, number or boolean, got {"b":1}'],
    ['a timeout that is no duration', { image: IMAGE, timeout: 'soon' }, 'steps[1].analysis[0].job.timeout: must be a duration like 500ms, 2s or 1m, got "soon"'],
    ['a timeout under a second', { image: IMAGE, timeout: '500ms' }, 'steps[1].analysis[0].job.timeout: must be at least 1000ms, got "500ms"'],
    ['a ServiceAccount name in capitals', { image: IMAGE, 'service-account': 'E2E' }, 'steps[1].analysis[0].job.service-account: must be a ServiceAccount name (lowercase letters, digits, - and .), got "E2E"'],
    ['an unknown field', { image: IMAGE, retries: 2 }, 'steps[1].analysis[0].job.retries: is not a job field; expected one of image, command, args, env, timeout, service-account'],
    ['a job that is not a mapping', 'ghcr.io/acme/e2e', 'steps[1].analysis[0].job: must be a mapping of job fields, got "ghcr.io/acme/e2e"'],
  ])('%s is named by its path', (_name, job, message) => {
    const { specs, errors } = parse(job);
    expect(specs).toEqual([]);
    expect(errors.map((e) => e.message)).toEqual([message]);
  });
});
