// Blue-green and canary on the real cluster with the sample app and real requests: a
// request loop against the Service (or the Gateway) while versions switch, shares of
// answers per canary step, gates that fail, pauses promoted and aborted from separate
// processes, a cancelled run cleaned up by its post step, a killed run resumed, and an HPA.
import { execFileSync, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/kube/api-client.js';
import type { KubeObject } from '../../src/kube/client.js';
import type { RolloutOutcome } from '../../src/strategies/basic.js';
import { abort, deploy, promote } from '../../src/strategies/commands.js';
import { REPO_ROOT, runBundle } from '../support/bundle.js';
import { TimedReporter, runCommand, testNamespaces } from '../support/rollouts.js';
import { stack } from '../support/stack.js';
import { RequestLoop, ask, sampleShares, shareTolerance, switches } from '../support/traffic.js';
import { sampleFiles, workspace } from '../fixtures/deploy/sample.js';

const env = stack();
const V1 = `${env.sampleImage}:v1`;
const V2 = `${env.sampleImage}:v2`;
const kubectl = (...args: string[]): string => execFileSync('kubectl', args, { encoding: 'utf8', stdio: 'pipe' });
const namespace = testNamespaces();

function run(command: typeof deploy, ws: string, settings: Record<string, string>, reporter = new TimedReporter()): Promise<{ outcome: RolloutOutcome; reporter: TimedReporter }> {
  return runCommand(command === deploy ? 'deploy' : command === promote ? 'promote' : 'abort', command, ws, settings, reporter);
}

const files = (image: string, extra: { env?: Record<string, string>; replicas?: number } = {}) => sampleFiles({ image, replicas: extra.replicas ?? 3, env: extra.env });
const url = (ns: string, service = 'web'): string => `http://${kubectl('get', 'service', service, '-n', ns, '-o', 'jsonpath={.spec.clusterIP}')}/version`;
const tolerance = (p: number, n: number): number => shareTolerance(p, n);

/**
 * Waits until a Service just created answers `answer` 20 times in a row: kube-proxy programs
 * a new ClusterIP a moment after the Service exists, and until then nothing answers there.
 */
async function serving(u: string, answer: string, host?: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (let streak = 0; streak < 20;) {
    streak = (await ask(u, { host, timeoutMs: 2000 })).answer === answer ? streak + 1 : 0;
    if (Date.now() > deadline) throw new Error(`${u} does not answer ${answer} steadily after 30 s`);
  }
}

describe('blue-green', () => {
  it('switches a good version with zero failed requests, and the answers change from v1 to v2 exactly once', async () => {
    const ns = namespace('bg');
    const settings = { namespace: ns, strategy: 'blue-green', 'scale-down-delay': '3s', 'pre-promotion-analysis': '- http: {service: "${preview}", port: 80, path: /version, expect-status: 200}' };
    expect((await run(deploy, workspace(files(V1)), settings)).outcome.result).toBe('deployed');
    await serving(url(ns), 'v1');
    const loop = new RequestLoop(url(ns));
    loop.start();
    await new Promise((r) => setTimeout(r, 1000));
    const { outcome } = await run(deploy, workspace(files(V2)), settings);
    await new Promise((r) => setTimeout(r, 1000));
    const results = await loop.stop();
    expect(outcome.result, outcome.reason).toBe('deployed');
    const failures = results.filter((r) => r.error !== undefined);
    console.log(`[measure] blue-green switch: ${results.length} requests, ${failures.length} failed${failures.length ? ` (first: ${JSON.stringify(failures[0])}, ${JSON.stringify(switches(results))})` : ''}`);
    expect(failures).toEqual([]);
    expect(switches(results)).toEqual(['v1', 'v2']);
    expect(kubectl('get', 'deployments', '-n', ns, '-o', 'jsonpath={.items[*].metadata.name}')).toBe('web-r2');
  }, 300_000);

  it('a failing post-promotion gate puts traffic back on the old pods within 2 s, and the new pods go', async () => {
    const ns = namespace('bgfail');
    const settings = { namespace: ns, strategy: 'blue-green', 'scale-down-delay': '30s' };
    expect((await run(deploy, workspace(files(V1)), settings)).outcome.result).toBe('deployed');
    await serving(url(ns), 'v1');
    const loop = new RequestLoop(url(ns));
    loop.start();
    const { outcome, reporter } = await run(deploy, workspace(files(V2)), {
      // Three looks a second apart (two failures tolerated), so v2 serves for a while before the decision.
      ...settings, 'post-promotion-analysis': '- http: {service: "${active}", port: 80, path: /version, body-contains: v9}\n  count: 3\n  interval: 1s\n  failure-limit: 2',
    });
    await new Promise((r) => setTimeout(r, 2500));
    const results = await loop.stop();
    expect(outcome.result).toBe('rolled-back');
    expect(outcome.reason).toMatch(/post-promotion analysis failed/);
    const decided = reporter.times.find((t) => /progressing → aborting|promoting → aborting/.test(t.line))!.at;
    const lastV2 = Math.max(...results.filter((r) => r.answer === 'v2').map((r) => r.at));
    console.log(`[measure] blue-green switch back: last v2 answer ${lastV2 - decided} ms after the decision; ${results.filter((r) => r.error).length} failed requests of ${results.length}`);
    expect(lastV2 - decided).toBeLessThan(2000);
    expect(results.filter((r) => r.at > decided + 2000).every((r) => r.answer === 'v1')).toBe(true);
    expect(kubectl('get', 'deployments', '-n', ns, '-o', 'jsonpath={.items[*].metadata.name}')).toBe('web-r1');
  }, 300_000);
});

describe('canary', () => {
  const pausedSteps = '- setWeight: 10\n- pause: {}\n- setWeight: 50\n- pause: {}\n- setWeight: 100\n- pause: {}\n';

  it('replica ratio: the share of v2 answers follows the effective weight at 10, 50 and 100 %, then only v2 remains at full scale', async () => {
    const ns = namespace('canary');
    expect((await run(deploy, workspace(files(V1)), { namespace: ns })).outcome.result).toBe('deployed');
    await serving(url(ns), 'v1');
    const ws = workspace(files(V2));
    const settings = { namespace: ns, strategy: 'canary', steps: pausedSteps };
    let { outcome } = await run(deploy, ws, settings);
    // 3 stable pods: 10 % → 1 canary pod (25 %), 50 % → 2 (40 %), 100 % → 3 (50 %).
    for (const [requested, effective] of [[10, 25], [50, 40], [100, 50]] as const) {
      expect(outcome.result, outcome.reason).toBe('paused');
      // The Service lists the canary's pods when the step ends; kube-proxy on the node programs them a moment later.
      await new Promise((r) => setTimeout(r, 1500));
      const shares = await sampleShares(url(ns), { n: 400 });
      const v2 = (shares.counts.v2 ?? 0) / shares.n;
      console.log(`[measure] canary replica-ratio: requested ${requested} %, effective ${effective} %, measured ${(100 * v2).toFixed(1)} % of ${shares.n} (tolerance ±${(100 * tolerance(effective / 100, shares.n)).toFixed(1)})`);
      expect(shares.failures).toBe(0);
      expect(Math.abs(v2 - effective / 100)).toBeLessThanOrEqual(tolerance(effective / 100, shares.n));
      ({ outcome } = await run(promote, ws, { namespace: ns }));
    }
    expect(outcome.result, outcome.reason).toBe('deployed');
    await serving(url(ns), 'v2');
    const shares = await sampleShares(url(ns), { n: 100 });
    expect(shares.counts).toEqual({ v2: 100 });
    expect(kubectl('get', 'deployment', 'web', '-n', ns, '-o', 'jsonpath={.status.readyReplicas}')).toBe('3');
    expect(kubectl('get', 'deployments', '-n', ns, '-o', 'jsonpath={.items[*].metadata.name}')).toBe('web');
  }, 400_000);

  it('a 3-step canary takes the sum of its pauses plus the time its pods need to start', async () => {
    const ns = namespace('canarytime');
    expect((await run(deploy, workspace(files(V1)), { namespace: ns })).outcome.result).toBe('deployed');
    const steps = '- setWeight: 20\n- pause: {duration: 5s}\n- setWeight: 50\n- pause: {duration: 5s}\n- setWeight: 80\n- pause: {duration: 5s}\n';
    const started = Date.now();
    const { outcome } = await run(deploy, workspace(files(V2)), { namespace: ns, strategy: 'canary', steps });
    const wall = Date.now() - started;
    expect(outcome.result, outcome.reason).toBe('deployed');
    console.log(`[measure] 3-step canary: ${(wall / 1000).toFixed(1)} s wall for 15.0 s of configured pauses (${((wall - 15_000) / 1000).toFixed(1)} s for canary pods, endpoints and the promotion)`);
  }, 300_000);

  it('a bad version is aborted by its failing gate; stable answers 100 % afterwards and was never scaled down', async () => {
    const ns = namespace('canarybad');
    expect((await run(deploy, workspace(files(V1)), { namespace: ns })).outcome.result).toBe('deployed');
    const client = ApiClient.fromConfig();
    const seen: { replicas?: number; available?: number }[] = [];
    const list = await client.list<KubeObject & { spec?: { replicas?: number }; status?: { availableReplicas?: number } }>('apps/v1', 'Deployment', ns, { fieldSelector: 'metadata.name=web' });
    seen.push(...list.items.map((d) => ({ replicas: d.spec?.replicas, available: d.status?.availableReplicas })));
    const watch = client.watch('apps/v1', 'Deployment', { namespace: ns, resourceVersion: list.resourceVersion, fieldSelector: 'metadata.name=web' }, (e) => {
      const d = e.object as KubeObject & { spec?: { replicas?: number }; status?: { availableReplicas?: number } };
      seen.push({ replicas: d.spec?.replicas, available: d.status?.availableReplicas });
    });
    const { outcome } = await run(deploy, workspace(files(V2, { env: { ERROR_RATE: '1' } })), {
      namespace: ns, strategy: 'canary',
      steps: '- setWeight: 30\n- analysis:\n  - http: {service: "${canary}", port: 80, path: /version, expect-status: 200}\n    count: 3\n    interval: 500ms\n- setWeight: 100\n',
    });
    watch.stop();
    client.close();
    expect(outcome.result).toBe('rolled-back');
    expect(outcome.reason).toMatch(/analysis failed/);
    const ended = Date.now();
    await serving(url(ns), 'v1');
    console.log(`[measure] canary abort (replica ratio): rollback took ${outcome.timings.rollbackMs} ms; stable answered steadily ${Date.now() - ended} ms after the deploy returned`);
    const shares = await sampleShares(url(ns), { n: 200 });
    expect(shares.counts, JSON.stringify(shares.errors)).toEqual({ v1: 200 });
    expect(kubectl('get', 'deployments', '-n', ns, '-o', 'jsonpath={.items[*].metadata.name}')).toBe('web');
    console.log(`[measure] stable Deployment observed during the canary: ${JSON.stringify(seen)}`);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => s.replicas === 3 && s.available === 3)).toBe(true);
  }, 300_000);

  it('Gateway API: the share of v2 through the real Gateway follows 10/50/100 %, and goes back to 0 on abort', async () => {
    const ns = namespace('gw');
    const host = `${ns}.gantry.test`;
    const route = `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: web\nspec:\n  parentRefs:\n  - name: ${env.gatewayName}\n    namespace: ${env.gatewayNamespace}\n  hostnames: ["${host}"]\n  rules:\n  - backendRefs:\n    - name: web\n      port: 80\n`;
    const base = { ...files(V1), 'k8s/route.yaml': route };
    expect((await run(deploy, workspace(base), { namespace: ns })).outcome.result).toBe('deployed');
    await serving(`${env.gatewayUrl}/version`, 'v1', host);
    const ws = workspace({ ...files(V2), 'k8s/route.yaml': route });
    const settings = { namespace: ns, strategy: 'canary', steps: pausedSteps, 'traffic-router': 'gateway-httproute', route: 'web' };
    const gateway = `${env.gatewayUrl}/version`;
    let { outcome } = await run(deploy, ws, settings);
    for (const weight of [10, 50, 100]) {
      expect(outcome.result, outcome.reason).toBe('paused');
      // Traefik applies an accepted route a second or so after it reports Accepted (its config reload):
      // the share is measured once the data plane has it.
      await new Promise((r) => setTimeout(r, 3000));
      const shares = await sampleShares(gateway, { n: 400, host });
      const v2 = (shares.counts.v2 ?? 0) / shares.n;
      console.log(`[measure] canary gateway-httproute: requested ${weight} %, measured ${(100 * v2).toFixed(1)} % of ${shares.n}`);
      expect(shares.failures).toBe(0);
      expect(Math.abs(v2 - weight / 100)).toBeLessThanOrEqual(tolerance(weight / 100, shares.n));
      if (weight < 100) ({ outcome } = await run(promote, ws, { namespace: ns }));
    }
    const started = Date.now();
    const aborted = await run(abort, ws, { namespace: ns });
    expect(aborted.outcome.result, aborted.outcome.reason).toBe('aborted');
    console.log(`[measure] gateway canary abort to stable: ${Date.now() - started} ms`);
    const after = await sampleShares(gateway, { n: 200, host });
    expect(after.counts).toEqual({ v1: 200 });
  }, 400_000);
});

/** The CLI bundle as a user runs it, in its own process. */
/** Run from the temp directory: the test workspaces live there, and manifests must be inside the workspace. */
function cli(args: string[], onStart?: (pid: number) => void, cwd = tmpdir()): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`${REPO_ROOT}/dist/cli/index.js`, ...args], { cwd, env: process.env });
    onStart?.(child.pid!);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), out }));
  });
}

describe('across runs', () => {
  it('run A pauses and exits paused; run B, a separate process, promotes; run C aborts another canary during its pause', async () => {
    const ns = namespace('runs');
    const ws = workspace(files(V1));
    const common = ['--app', 'web', '--namespace', ns, '--timeout', '2m'];
    expect((await cli(['deploy', ...common, '--manifests', `${ws}/k8s`])).code).toBe(0);
    await serving(url(ns), 'v1');
    const canary = (image: string) => ['deploy', ...common, '--manifests', `${workspace(files(image))}/k8s`, '--strategy', 'canary', '--steps', '- setWeight: 30\n- pause: {}\n- setWeight: 60\n'];
    const a = await cli(canary(V2));
    expect(a.code, a.out).toBe(0);
    expect(a.out).toContain('result=paused');
    expect(a.out).toMatch(/Promote it with the promote action/);
    const status = await cli(['status', ...common]);
    expect(status.out).toMatch(/canary web-canary beside web: 2\/3 steps done, weight 30 %/);
    const b = await cli(['promote', ...common]);
    expect(b.code, b.out).toBe(0);
    expect(b.out).toContain('result=deployed');
    await serving(url(ns), 'v2');
    expect((await sampleShares(url(ns), { n: 60 })).counts).toEqual({ v2: 60 });

    const c1 = await cli(canary(V1));
    expect(c1.out).toContain('result=paused');
    const c = await cli(['abort', ...common]);
    expect(c.code, c.out).toBe(0);
    expect(c.out).toContain('result=aborted');
    await serving(url(ns), 'v2');
    expect((await sampleShares(url(ns), { n: 60 })).counts).toEqual({ v2: 60 });
    expect((await cli(['status', ...common])).code).not.toBe(0);
  }, 400_000);

  it('a run killed between steps resumes from the recorded step when run again', async () => {
    const ns = namespace('resume');
    const common = ['--app', 'web', '--namespace', ns, '--timeout', '2m', '--holder', 'the-same-run'];
    expect((await cli(['deploy', ...common, '--manifests', `${workspace(files(V1))}/k8s`])).code).toBe(0);
    const args = ['deploy', ...common, '--manifests', `${workspace(files(V2))}/k8s`, '--strategy', 'canary', '--steps', '- setWeight: 30\n- pause: {duration: 20s}\n- setWeight: 60\n- pause: {duration: 2s}\n'];
    let killed = false;
    const first = await cli(args, (pid) => {
      const poll = setInterval(() => {
        const secret = kubectl('get', 'secret', 'gantry-web-rollout', '-n', ns, '--ignore-not-found', '-o', 'jsonpath={.data.record}');
        if (!secret) return;
        const record = JSON.parse(Buffer.from(secret, 'base64').toString()) as { phase: string; progress?: { step: number; pausedUntil?: number } };
        if (record.phase === 'progressing' && record.progress?.step === 1 && record.progress.pausedUntil) {
          clearInterval(poll);
          killed = true;
          process.kill(pid, 'SIGKILL');
        }
      }, 300);
    });
    expect(killed, first.out).toBe(true);
    const second = await cli(args);
    expect(second.code, second.out).toBe(0);
    expect(second.out).toMatch(/resuming r2: the same set is already being rolled out \(canary, progressing\)/);
    expect(second.out).not.toMatch(/step 1\/4: weight 30/);
    expect(second.out).toMatch(/step 3\/4: weight 60/);
    expect(second.out).toContain('result=deployed');
  }, 400_000);

  it('a cancelled canary (SIGTERM) is aborted by the post step, and stable serves 100 %', async () => {
    const ns = namespace('cancel');
    const inputs = { manifests: 'k8s', namespace: ns, app: 'web', timeout: '120s' };
    const runEnv = (ws: string, id: string) => ({ GITHUB_WORKSPACE: ws, GITHUB_RUN_ID: id, GITHUB_REPOSITORY: 'acme/web', GITHUB_JOB: 'deploy' });
    const v1 = workspace(files(V1));
    expect((await runBundle('deploy', { inputs, env: runEnv(v1, '701'), timeoutMs: 170_000 })).outputs.result).toBe('deployed');
    await serving(url(ns), 'v1');
    const v2 = workspace(files(V2));
    const canaryInputs = { ...inputs, strategy: 'canary', steps: '- setWeight: 30\n- pause: {duration: 5m}\n' };
    const killed = await runBundle('deploy', {
      inputs: canaryInputs, env: runEnv(v2, '702'), timeoutMs: 170_000,
      onStart: (pid) => {
        const poll = setInterval(() => {
          if (kubectl('get', 'deployment', 'web-canary', '-n', ns, '--ignore-not-found', '-o', 'jsonpath={.status.readyReplicas}') === '1') {
            clearInterval(poll);
            setTimeout(() => process.kill(pid, 'SIGTERM'), 1500);
          }
        }, 300);
      },
    });
    expect(killed.exitCode).not.toBe(0);
    const post = await runBundle('deploy-post', { inputs: canaryInputs, env: runEnv(v2, '702'), state: killed.state, timeoutMs: 170_000 });
    expect(post.exitCode, post.stdout + post.stderr).toBe(0);
    expect(post.stdout).toMatch(/abort .*\/web r2 \(canary/);
    const ended = Date.now();
    await serving(url(ns), 'v1');
    console.log(`[measure] cancelled canary: stable answered steadily ${Date.now() - ended} ms after the post step ended`);
    const after = await sampleShares(url(ns), { n: 100 });
    expect(after.counts, post.stdout).toEqual({ v1: 100 });
    expect(kubectl('get', 'deployments', '-n', ns, '-o', 'jsonpath={.items[*].metadata.name}')).toBe('web');
  }, 400_000);

  it('with an HPA on the stable Deployment, the canary follows the HPA\'s replicas and the HPA is untouched', async () => {
    const ns = namespace('hpa');
    const hpa = `apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  minReplicas: 4\n  maxReplicas: 6\n  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}\n`;
    expect((await run(deploy, workspace({ ...files(V1, { replicas: 2 }), 'k8s/hpa.yaml': hpa }), { namespace: ns })).outcome.result).toBe('deployed');
    for (let i = 0; i < 120 && kubectl('get', 'hpa', 'web', '-n', ns, '-o', 'jsonpath={.status.currentReplicas}') !== '4'; i++) await new Promise((r) => setTimeout(r, 500));
    const before = kubectl('get', 'hpa', 'web', '-n', ns, '-o', 'jsonpath={.spec}');
    const { outcome, reporter } = await run(deploy, workspace({ ...files(V2, { replicas: 2 }), 'k8s/hpa.yaml': hpa }), { namespace: ns, strategy: 'canary', steps: '- setWeight: 50\n- pause: {}\n' });
    expect(outcome.result, outcome.reason).toBe('paused');
    expect(reporter.lines.some((l) => /weight 50 %.*HPA web current replicas/.test(l))).toBe(true);
    expect(kubectl('get', 'deployment', 'web-canary', '-n', ns, '-o', 'jsonpath={.spec.replicas}')).toBe('2');
    expect(kubectl('get', 'hpa', 'web', '-n', ns, '-o', 'jsonpath={.spec}')).toBe(before);
    expect((await run(abort, workspace(files(V2)), { namespace: ns })).outcome.result).toBe('aborted');
  }, 300_000);
});
