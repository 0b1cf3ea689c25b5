// The canary and blue-green state machines on the in-memory cluster, with a router and a
// gate runner that record what they were asked: steps in order, pauses that end the run,
// promote and abort from a later "run", and the stable version never touched until promotion.
import { describe, expect, it } from 'vitest';
import type { CanaryStep, GateSpecs } from '../../src/config/progressive.js';
import type { Verdict } from '../../src/checks/gate.js';
import { parseGateSpecs } from '../../src/checks/spec.js';
import type { KubeObject } from '../../src/kube/client.js';
import { RolloutStore } from '../../src/kube/state.js';
import { rollout } from '../../src/strategies/basic.js';
import { blueGreenDeliver } from '../../src/strategies/blue-green.js';
import { canaryDeliver } from '../../src/strategies/canary.js';
import { control } from '../../src/strategies/control.js';
import type { GateRunner } from '../../src/strategies/progressive.js';
import type { AppliedWeight, Router, RouteTarget } from '../../src/traffic/router.js';
import { FakeCluster, deployment, fakeEngine } from '../fixtures/deploy/fake-cluster.js';

const gate = (name: string) => parseGateSpecs([{ name, http: { service: 'web', port: 80, path: '/' } }], 'test').specs[0]!;

class RecordingRouter implements Router {
  readonly kind = 'replica-ratio' as const;
  readonly calls: string[] = [];
  async prepare(): Promise<void> {
    this.calls.push('prepare');
  }
  async setWeight(_t: RouteTarget, weight: number): Promise<AppliedWeight> {
    this.calls.push(`weight ${weight}`);
    return { requested: weight, effective: weight, detail: 'test', canaryReplicas: 1 };
  }
  async reset(): Promise<void> {
    this.calls.push('reset');
  }
}

/** Gates that pass unless `failing` names them; background gates fail when `backgroundFails` is set. */
class FakeGates implements GateRunner {
  failing = new Set<string>();
  backgroundFails?: string;
  readonly runs: string[] = [];
  async run(specs: GateSpecs): Promise<{ passed: boolean; verdicts: Verdict[]; reason?: string }> {
    const names = specs.map((s) => s.name!);
    this.runs.push(...names);
    const bad = names.find((n) => this.failing.has(n));
    return { passed: !bad, verdicts: names.map((gate) => ({ gate, status: this.failing.has(gate) ? 'fail' : 'pass', condition: 'test', message: 'test', at: 0 })), reason: bad ? `gate ${bad} failed` : undefined };
  }
  background(): { failed: Promise<string>; stop(): Promise<Verdict[]> } {
    return { failed: this.backgroundFails ? Promise.resolve(this.backgroundFails) : new Promise(() => undefined), stop: async () => [] };
  }
}

const service: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } };
const set = (image: string): KubeObject[] => [{ ...deployment('web', image), spec: { ...(deployment('web', image).spec as object), replicas: 3 } } as KubeObject, service];

function setup(holder = 'run-1') {
  const { cluster, reporter, engine } = fakeEngine(holder);
  cluster.endpointController = true;
  const router = new RecordingRouter();
  const gates = new FakeGates();
  /** Every replica count the stable Deployment was seen with. */
  const stableReplicas = new Set<number>();
  const observe = cluster.controller;
  cluster.controller = (c) => {
    observe(c);
    const stable = c.get('Deployment', 'web');
    if (stable) stableReplicas.add((stable.spec as { replicas: number }).replicas);
  };
  return { cluster, reporter, engine, router, gates, stableReplicas };
}

const image = (cluster: FakeCluster, name: string): string | undefined =>
  (cluster.get('Deployment', name)?.spec as { template: { spec: { containers: { image: string }[] } } } | undefined)?.template.spec.containers[0]!.image;

function canary(env: ReturnType<typeof setup>, steps: CanaryStep[], analysis: GateSpecs = []) {
  return { ...env.engine, strategy: 'canary' as const, deliver: canaryDeliver({ router: env.router, gates: env.gates, routerKind: 'replica-ratio', steps, analysis }) };
}

describe('canary', () => {
  it('walks the steps in order, then promotes: the stable Deployment takes the new spec and the canary goes', async () => {
    const env = setup();
    await rollout(env.engine, () => ({ objects: set('app:v1') }));
    const steps: CanaryStep[] = [{ setWeight: 10 }, { pause: { durationMs: 5000 } }, { setWeight: 50 }, { analysis: [gate('smoke')] }, { setWeight: 100 }];
    const outcome = await rollout(canary(env, steps), () => ({ objects: set('app:v2') }));
    expect(outcome.result, outcome.reason).toBe('deployed');
    expect(env.router.calls).toEqual(['prepare', 'weight 10', 'weight 50', 'weight 100', 'reset']);
    expect(env.gates.runs).toEqual(['smoke']);
    expect(image(env.cluster, 'web')).toBe('app:v2');
    expect(env.cluster.get('Deployment', 'web-canary')).toBeUndefined();
    expect([...env.stableReplicas]).toEqual([3]);
    const record = (await new RolloutStore(env.cluster, env.engine.target).read())!.record;
    expect(record).toMatchObject({ strategy: 'canary', phase: 'deployed' });
    expect(env.reporter.lines).toContain('rollout default/web r2: progressing → promoting');
  });

  it('aborts on a failed analysis step: traffic back to stable and the canary removed, the stable spec untouched', async () => {
    const env = setup();
    await rollout(env.engine, () => ({ objects: set('app:v1') }));
    env.gates.failing.add('errors');
    const outcome = await rollout(canary(env, [{ setWeight: 20 }, { analysis: [gate('errors')] }, { setWeight: 100 }]), () => ({ objects: set('app:v2') }));
    expect(outcome.result).toBe('rolled-back');
    expect(outcome.reason).toMatch(/step 2\/3 analysis failed: gate errors failed/);
    expect(env.router.calls).toEqual(['prepare', 'weight 20', 'reset']);
    expect(env.cluster.get('Deployment', 'web-canary')).toBeUndefined();
    expect(image(env.cluster, 'web')).toBe('app:v1');
    expect([...env.stableReplicas]).toEqual([3]);
  });

  it('aborts when background analysis fails during a pause', async () => {
    const env = setup();
    await rollout(env.engine, () => ({ objects: set('app:v1') }));
    env.gates.backgroundFails = 'gate error-rate: 0.31 > 0.05';
    const outcome = await rollout(canary(env, [{ setWeight: 20 }, { pause: { durationMs: 60_000 } }, { setWeight: 100 }], [gate('error-rate')]), () => ({ objects: set('app:v2') }));
    expect(outcome.result).toBe('rolled-back');
    expect(outcome.reason).toMatch(/background analysis failed: gate error-rate/);
  });

  it('stops at pause {} with result paused; a later run promotes it, and another rollout is refused meanwhile', async () => {
    const env = setup();
    await rollout(env.engine, () => ({ objects: set('app:v1') }));
    const first = await rollout(canary(env, [{ setWeight: 25 }, { pause: {} }, { setWeight: 100 }]), () => ({ objects: set('app:v2') }));
    expect(first.result).toBe('paused');
    expect(env.reporter.lines.some((l) => /paused at step 2\/3 with 25 % of traffic on the canary\. Promote it/.test(l))).toBe(true);
    expect((await new RolloutStore(env.cluster, env.engine.target).read())!.record.phase).toBe('paused');
    expect(env.cluster.get('Lease', 'gantry-web')).toBeUndefined();

    const later = setup('run-2');
    Object.assign(later, { cluster: env.cluster });
    const promoted = await control({ ...env.engine, holder: { id: 'run-2', runUrl: 'u2' } }, 'promote', { gates: env.gates, routerFor: () => env.router });
    expect(promoted?.result).toBe('deployed');
    expect(image(env.cluster, 'web')).toBe('app:v2');
    expect(env.router.calls.slice(-2)).toEqual(['weight 100', 'reset']);
  });

  it('promote --full skips the remaining steps; abort restores stable', async () => {
    const env = setup();
    await rollout(env.engine, () => ({ objects: set('app:v1') }));
    await rollout(canary(env, [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: {} }]), () => ({ objects: set('app:v2') }));
    const full = await control(env.engine, 'promote', { gates: env.gates, routerFor: () => env.router }, { full: true });
    expect(full?.result).toBe('deployed');
    expect(env.router.calls).not.toContain('weight 50');

    const third = await rollout(canary(env, [{ setWeight: 10 }, { pause: {} }]), () => ({ objects: set('app:v3') }));
    expect(third.result, third.reason).toBe('paused');
    const aborted = await control(env.engine, 'abort', { gates: env.gates, routerFor: () => env.router });
    expect(aborted?.result).toBe('aborted');
    expect(image(env.cluster, 'web')).toBe('app:v2');
    expect(env.cluster.get('Deployment', 'web-canary')).toBeUndefined();
    expect((await new RolloutStore(env.cluster, env.engine.target).read())!.record.phase).toBe('aborted');
  });

  it('deploys the first version directly when nothing is live yet', async () => {
    const env = setup();
    const outcome = await rollout(canary(env, [{ setWeight: 50 }]), () => ({ objects: set('app:v1') }));
    expect(outcome.result).toBe('deployed');
    expect(env.router.calls).toEqual([]);
    expect(env.reporter.lines).toContain('no live web yet: the first version is deployed directly, then judged');
  });

  it('says there is nothing to promote when no rollout is in progress', async () => {
    const env = setup();
    await rollout(env.engine, () => ({ objects: set('app:v1') }));
    await expect(control(env.engine, 'promote', { gates: env.gates, routerFor: () => env.router })).rejects.toThrow(/no progressive rollout of default\/web in progress to promote: the last rollout, r1 \(basic\), is deployed/);
  });
});

describe('blue-green', () => {
  const bg = (env: ReturnType<typeof setup>, post: GateSpecs = [], pre: GateSpecs = []) => ({
    ...env.engine, strategy: 'blue-green' as const, deliver: blueGreenDeliver({ gates: env.gates, prePromotion: pre, postPromotion: post, scaleDownDelayMs: 10_000 }),
  });
  const selector = (cluster: FakeCluster) => (cluster.get('Service', 'web')!.spec as { selector: Record<string, string> }).selector;

  it('first deploy: the new revision is judged through its preview Service and made active', async () => {
    const env = setup();
    const outcome = await rollout(bg(env, [], [gate('smoke')]), () => ({ objects: set('app:v1') }));
    expect(outcome.result, outcome.reason).toBe('deployed');
    expect(selector(env.cluster)).toEqual({ app: 'web', 'gantry.dev/revision': '1' });
    expect(image(env.cluster, 'web-r1')).toBe('app:v1');
    expect((env.cluster.get('Service', 'web-preview')!.spec as { selector: unknown }).selector).toEqual({ app: 'web', 'gantry.dev/revision': '1' });
  });

  it('switches the active Service only after the new version is ready and judged, then removes the old one after the delay', async () => {
    const env = setup();
    await rollout(bg(env), () => ({ objects: set('app:v1') }));
    const outcome = await rollout(bg(env, [gate('after')], [gate('before')]), () => ({ objects: set('app:v2') }));
    expect(outcome.result, outcome.reason).toBe('deployed');
    expect(env.gates.runs).toEqual(['before', 'after']);
    expect(selector(env.cluster)).toEqual({ app: 'web', 'gantry.dev/revision': '2' });
    expect(env.cluster.get('Deployment', 'web-r1')).toBeUndefined();
    expect(env.reporter.lines).toContain('switched Service web to web-r2');
  });

  it('a failed post-promotion gate switches back to the old version at once and removes the new one', async () => {
    const env = setup();
    await rollout(bg(env), () => ({ objects: set('app:v1') }));
    env.gates.failing.add('after');
    const outcome = await rollout(bg(env, [gate('after')]), () => ({ objects: set('app:v2') }));
    expect(outcome.result).toBe('rolled-back');
    expect(selector(env.cluster)).toEqual({ app: 'web', 'gantry.dev/revision': '1' });
    expect(env.cluster.get('Deployment', 'web-r2')).toBeUndefined();
    expect(image(env.cluster, 'web-r1')).toBe('app:v1');
    expect(env.reporter.lines).toContain('switched Service web back to web-r1');
  });

  it('takes over a version deployed by the basic strategy by pinning the Service to its pods first', async () => {
    const env = setup();
    await rollout(env.engine, () => ({ objects: set('app:v1') }));
    env.cluster.get('ReplicaSet', 'web-rs1')!.metadata.labels = { 'pod-template-hash': 'abc123' };
    for (let i = 0; i < 3; i++) env.cluster.get('Pod', `web-rs1-${i}`)!.metadata.labels!['pod-template-hash'] = 'abc123';
    env.gates.failing.add('before');
    const outcome = await rollout(bg(env, [], [gate('before')]), () => ({ objects: set('app:v2') }));
    expect(outcome.result).toBe('rolled-back');
    expect(selector(env.cluster)).toEqual({ app: 'web' });
    expect(image(env.cluster, 'web')).toBe('app:v1');
  });
});

describe('basic strategy with gates', () => {
  it('runs the gates once the new version is ready, and a failed gate rolls back to the previous version', async () => {
    const env = setup();
    await rollout(env.engine, () => ({ objects: set('app:v1') }));
    const judged: string[] = [];
    const outcome = await rollout({ ...env.engine, afterReady: async (live) => {
      judged.push(...live.filter((o) => o.kind === 'Deployment').map((o) => image(env.cluster, o.metadata.name)!));
      return 'analysis failed: gate smoke: status 503 != 200';
    } }, () => ({ objects: set('app:v2') }));
    expect(judged).toEqual(['app:v2']);
    expect(outcome.result).toBe('rolled-back');
    expect(outcome.reason).toBe('analysis failed: gate smoke: status 503 != 200');
    expect(image(env.cluster, 'web')).toBe('app:v1');
  });

  it('a passing analysis leaves the new version deployed', async () => {
    const env = setup();
    const outcome = await rollout({ ...env.engine, afterReady: async () => undefined }, () => ({ objects: set('app:v2') }));
    expect(outcome.result).toBe('deployed');
    expect(image(env.cluster, 'web')).toBe('app:v2');
  });
});
