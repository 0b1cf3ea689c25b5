// The rollout summary as a person reads it in the job summary: the headline first, the
// timeline the cluster recorded (across runs), the charts, and the delivery metrics from
// the ledger, with their definitions held to synthetic ledgers.
import { describe, expect, it } from 'vitest';
import type { Verdict } from '../../src/checks/gate.js';
import { parseGateSpecs } from '../../src/checks/spec.js';
import { parseConfig } from '../../src/config/deploy.js';
import type { GateSpecs } from '../../src/config/progressive.js';
import { MapSource } from '../../src/config/source.js';
import type { KubeObject } from '../../src/kube/client.js';
import type { LedgerEntry } from '../../src/kube/ledger.js';
import { TIMELINE_LIMIT, appendTimeline, type RolloutRecord } from '../../src/kube/state.js';
import { deliveryMetrics } from '../../src/report/metrics.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { readSummaryData, renderErrorSummary, renderSummary, type SummaryInput } from '../../src/report/summary.js';
import { rollout, type RolloutOutcome } from '../../src/strategies/basic.js';
import { blueGreenDeliver } from '../../src/strategies/blue-green.js';
import { canaryDeliver } from '../../src/strategies/canary.js';
import { reportOutcome } from '../../src/strategies/commands.js';
import { control } from '../../src/strategies/control.js';
import type { GateRunner } from '../../src/strategies/progressive.js';
import type { Router } from '../../src/traffic/router.js';
import { FakeCluster, deployment, fakeEngine } from '../fixtures/deploy/fake-cluster.js';

const target = { namespace: 'shop', app: 'web' };
const outcome = (o: Partial<RolloutOutcome>): RolloutOutcome => ({ result: 'deployed', revision: 3, previousRevision: 2, changed: ['Deployment/web'], timings: { totalMs: 42_000 }, ...o });
const base: Omit<SummaryInput, 'outcome'> = { command: 'deploy', target, ledger: [], now: Date.parse('2026-11-20T12:00:00Z') };
const firstLine = (md: string): string => md.split('\n')[0]!;

const service: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } };
const set = (image: string): KubeObject[] => [{ ...deployment('web', image), spec: { ...(deployment('web', image).spec as object), replicas: 3 } } as KubeObject, service];
const router: Router = {
  kind: 'replica-ratio',
  prepare: async () => undefined,
  setWeight: async (_t, weight) => ({ requested: weight, effective: weight === 25 ? 33 : weight, detail: 'test', canaryReplicas: 1 }),
  reset: async () => undefined,
};
const judgeSpec = parseGateSpecs([{ name: 'judge', http: { service: 'web', port: 80, path: '/' } }], 'test').specs[0]!;

/** A judge that looks for 40 s and says what it saw: p95 latency of both sides, canary worse when `canaryMs` says so. */
function judgeGates(clock: { now(): number; sleep(ms: number): Promise<void> }, canaryMs: number): GateRunner {
  return {
    run: async (specs: GateSpecs) => {
      const start = clock.now();
      await clock.sleep(40_000);
      const at = clock.now();
      const failed = canaryMs > 100;
      const verdict: Verdict = {
        gate: 'judge', status: failed ? 'fail' : 'pass', value: failed ? '0' : '100', condition: 'score >= 90', at,
        message: `score ${failed ? 0 : 100}/100, p95 latency: canary ${canaryMs} ms vs stable 48 ms (U p=${failed ? '2e-4' : '0.4'}, ×${(canaryMs / 48).toPrecision(2)}) → ${failed ? 'fail' : 'pass'}`,
        series: {
          name: 'p95 latency', unit: 'ms',
          points: Array.from({ length: 8 }, (_, i) => [start + i * 5000, canaryMs] as [number, number]),
          stable: Array.from({ length: 8 }, (_, i) => [start + i * 5000, 48] as [number, number]),
        },
      };
      const reason = failed ? `gate judge: 1 failed measurement, failure-limit 0: ${verdict.message}` : undefined;
      return { passed: !failed, verdicts: specs.map(() => verdict), ...(reason ? { reason } : {}) };
    },
    background: () => ({ failed: new Promise(() => undefined), stop: async () => [] }),
  };
}

async function canaryRun(canaryMs: number, steps = [{ setWeight: 25 }, { analysis: [judgeSpec] }, { pause: {} }, { setWeight: 100 }]) {
  const env = fakeEngine();
  env.cluster.endpointController = true;
  const gates = judgeGates(env.clock, canaryMs);
  await rollout(env.engine, () => ({ objects: set('app:v1') }));
  const first = await rollout({ ...env.engine, strategy: 'canary', deliver: canaryDeliver({ router, gates, routerKind: 'replica-ratio', steps, analysis: [] }) }, () => ({ objects: set('app:v2') }));
  return { ...env, gates, first };
}

const rowsOf = (md: string): string[] => md.split('\n').filter((l) => /^\| \d\d:\d\d:\d\d \|/.test(l));
const mermaid = (md: string): string[] => [...md.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('first line: what happened and why', () => {
  const paused: RolloutRecord = {
    app: 'web', namespace: 'shop', strategy: 'canary', phase: 'paused', revision: 3, holder: { id: 'r', runUrl: 'u' }, startedAt: '2026-11-20T11:00:00Z', updatedAt: '2026-11-20T11:01:00Z', changed: [],
    progress: { kind: 'canary', step: 2, steps: [{ setWeight: 25 }, { pause: {} }, { setWeight: 100 }], weight: 25 },
  };
  it.each([
    ['a deploy', base, outcome({}), '### Deployed r3'],
    ['a promote', { ...base, command: 'promote' as const }, outcome({}), '### Promoted r3'],
    ['a paused canary', { ...base, record: paused }, outcome({ result: 'paused' }), '### Paused at step 2/3 with 25 % — awaiting promote'],
    ['a rollout rolled back by its gate', base, outcome({ result: 'rolled-back', reason: 'step 2/4 analysis failed: gate judge: p95 latency canary 212 ms vs stable 48 ms\nmore' }), '### Rolled back: judge: p95 latency canary 212 ms vs stable 48 ms'],
    ['an abort', { ...base, command: 'abort' as const }, outcome({ result: 'aborted', reason: 'aborted by https://github.com/o/r/actions/runs/9' }), '### Aborted r3'],
    ['a failure', base, outcome({ result: 'failed', reason: 'Deployment/web failed: CrashLoopBackOff' }), '### Failed: Deployment/web failed: CrashLoopBackOff'],
    ['a rollback on demand', { ...base, command: 'rollback' as const, record: { ...paused, phase: 'deployed' as const, rollbackOf: 1, progress: undefined } }, outcome({ result: 'rolled-back' }), '### Rolled back shop/web to r1 (now r3)'],
  ])('%s', (_name, input, o, line) => {
    expect(firstLine(renderSummary({ ...input, outcome: o }))).toBe(line);
  });

  it('a run that ended before its rollout had an outcome says why', () => {
    const md = renderErrorSummary({ command: 'promote', target, message: 'There is no progressive rollout of shop/web in progress to promote: the last rollout, r3 (canary), is deployed\nmore', runUrl: 'https://github.com/o/r/actions/runs/7' });
    expect(firstLine(md)).toBe('### Failed: There is no progressive rollout of shop/web in progress to promote: the last rollout, r3 (canary), is deployed');
    expect(md.split('\n')[2]).toBe('❌ promote failed · `shop/web` · [run](https://github.com/o/r/actions/runs/7)');
  });

  it('links the run and the environment, and the result with the target under it', () => {
    const md = renderSummary({ ...base, outcome: outcome({}), runUrl: 'https://github.com/o/r/actions/runs/7', environmentUrl: 'https://shop.example.com' });
    expect(md.split('\n')[2]).toBe('✅ deployed · `shop/web` · r3 (previous r2) · this run 42 s · [run](https://github.com/o/r/actions/runs/7) · [environment](https://shop.example.com)');
    // A CLI run names a process, not a page.
    expect(renderSummary({ ...base, outcome: outcome({}), runUrl: 'gantry CLI, me@host pid 4' })).not.toContain('[run]');
  });
});

describe('timeline', () => {
  it('shows every phase and step of a canary promoted by a later run, with weights, durations and the judge\'s explanation', async () => {
    const env = await canaryRun(52);
    expect(env.first.result).toBe('paused');
    await env.clock.sleep(3600_000);
    const promoted = (await control({ ...env.engine, holder: { id: 'run-2', runUrl: 'https://github.com/o/r/actions/runs/2' } }, 'promote', { gates: env.gates, routerFor: () => router }, { anyHolder: true }))!;
    const md = renderSummary({ ...base, command: 'promote', target: env.engine.target, outcome: promoted, ...(await readSummaryData(env.cluster, env.engine.target, promoted.revision)), now: env.clock.now() });
    expect(firstLine(md)).toBe('### Promoted r2');
    const rows = rowsOf(md).map((r) => r.split(' | ').slice(1).map((c) => c.replace(/ \|$/, '')));
    expect(rows.map(([label, weight, took]) => [label, weight, took])).toEqual([
      ['**validating**', '0 %', '0 s'],
      ['**snapshotting**', '0 %', '0 s'],
      ['**applying**', '0 %', '0 s'],
      ['**progressing**', '0 %', '0 s'],
      ['step 1/4: setWeight 25', '25 % (effective 33 %)', '0 s'],
      ['step 2/4: analysis (judge)', '33 %', '40 s'],
      ['**paused**', '33 %', '1 h'],
      ['**progressing** — promoted by https://github.com/o/r/actions/runs/2', '33 %', '0 s'],
      ['step 4/4: setWeight 100', '100 %', expect.stringMatching(/^\d+ s$/)],
      ['**promoting**', '100 %', expect.stringMatching(/^\d+ s$/)],
      ['**deployed**', '100 %', ''],
    ]);
    expect(rows[5]![3]).toBe('✅ **judge**: pass (100) — score 100/100, p95 latency: canary 52 ms vs stable 48 ms (U p=0.4, ×1.1) → pass');
  });

  it('a rollout rolled back by its judge ends at weight 0, with the failing verdict in its step', async () => {
    const env = await canaryRun(212);
    expect(env.first.result).toBe('rolled-back');
    const md = renderSummary({ ...base, target: env.engine.target, outcome: env.first, ...(await readSummaryData(env.cluster, env.engine.target, env.first.revision)), now: env.clock.now() });
    const rows = rowsOf(md);
    expect(rows.find((r) => r.includes('step 2/4: analysis'))).toContain('❌ **judge**: fail (0) — score 0/100, p95 latency: canary 212 ms vs stable 48 ms');
    expect(rows.at(-2)).toMatch(/\*\*aborting\*\* — step 2\/4 analysis failed: gate judge: .* \| 0 % \|/);
    expect(rows.at(-1)).toMatch(/\*\*rolled-back\*\* \| 0 % \|/);
  });

  it('a blue-green rollout shows its judged preview, the switch and the scale-down delay', async () => {
    const env = fakeEngine();
    env.cluster.endpointController = true;
    const gates: GateRunner = {
      run: async (specs) => ({ passed: true, verdicts: specs.map((g) => ({ gate: g.name!, status: 'pass', value: '200', condition: 'status 2xx', message: 'status 200', at: env.clock.now() })) }),
      background: () => ({ failed: new Promise(() => undefined), stop: async () => [] }),
    };
    const smoke = parseGateSpecs([{ name: 'smoke', http: { service: 'web', port: 80, path: '/' } }], 'test').specs;
    const bg = { ...env.engine, strategy: 'blue-green' as const, deliver: blueGreenDeliver({ gates, prePromotion: smoke, postPromotion: [], scaleDownDelayMs: 30_000 }) };
    await rollout(bg, () => ({ objects: set('app:v1') }));
    const o = await rollout(bg, () => ({ objects: set('app:v2') }));
    expect(o.result, o.reason).toBe('deployed');
    const md = renderSummary({ ...base, target: env.engine.target, outcome: o, ...(await readSummaryData(env.cluster, env.engine.target, o.revision)), now: env.clock.now() });
    const rows = rowsOf(md).map((r) => r.split(' | ').slice(1, 4).join(' | '));
    expect(rows.slice(4)).toEqual([
      'pre-promotion analysis (web-preview) | 0 % | 0 s',
      'switch web to web-r2 | 100 % | 0 s',
      '**promoting** | 100 % | 0 s',
      'web-r1 kept for scale-down-delay | 100 % | 30 s',
      '**deployed** | 100 % | ',
    ]);
    expect(rowsOf(md)[4]).toContain('✅ **smoke**: pass (200) — status 200');
    expect(mermaid(md)).toHaveLength(1);
  });

  it('a basic rollout has no weight column and no charts; its gates sit in their own row', async () => {
    const env = fakeEngine();
    const verdicts: Verdict[] = [1, 2, 3].map((i) => ({ gate: 'smoke', status: 'pass', value: '200', condition: 'status == 200', message: 'status 200 | ok', at: env.clock.now() + i }));
    const o = await rollout({ ...env.engine, afterReady: async (_live, record) => { record(verdicts); return undefined; } }, () => ({ objects: set('app:v1') }));
    const md = renderSummary({ ...base, target: env.engine.target, outcome: o, ...(await readSummaryData(env.cluster, env.engine.target, o.revision)) });
    expect(md).toContain('| time (UTC) | phase or step | duration | gates |');
    expect(rowsOf(md).find((r) => r.includes('analysis after the rollout'))).toContain('✅ **smoke** (3 measurements): pass (200) — status 200 \\| ok');
    expect(mermaid(md)).toEqual([]);
  });

  it(`the record keeps at most ${TIMELINE_LIMIT} events: the oldest verdicts go first, phases and steps stay, long series are thinned`, () => {
    const record = { timeline: [] } as unknown as RolloutRecord;
    appendTimeline(record, { type: 'phase', at: 0, phase: 'progressing' });
    const points = Array.from({ length: 500 }, (_, i) => [i * 1000, i] as [number, number]);
    for (let i = 1; i <= 300; i++) appendTimeline(record, { type: 'gate', at: i, gate: `g${i}`, status: 'pass', message: 'x'.repeat(1000), measurements: 1, series: { name: 'm', points } });
    appendTimeline(record, { type: 'step', at: 301, label: 'step 2/2: setWeight 100', weight: 100 });
    const timeline = record.timeline!;
    expect(timeline).toHaveLength(TIMELINE_LIMIT);
    expect(timeline[0]).toEqual({ type: 'phase', at: 0, phase: 'progressing' });
    expect(timeline.at(-1)).toMatchObject({ type: 'step', weight: 100 });
    const gates = timeline.filter((e) => e.type === 'gate');
    expect(gates[0]!.gate).toBe(`g${300 - TIMELINE_LIMIT + 3}`);
    expect(gates.every((g) => g.message.length <= 300 && g.series!.points.length === 60 && g.series!.points.at(-1)![1] === 499)).toBe(true);
    // Well within a Secret's 1 MiB, beside the snapshot.
    expect(JSON.stringify(record).length).toBeLessThan(150_000);
  });

  it('leaves the timeline out when the record in the cluster is another rollout\'s', async () => {
    const env = await canaryRun(52);
    const data = await readSummaryData(env.cluster, env.engine.target, 1);
    expect(data.record).toBeUndefined();
    expect(renderSummary({ ...base, outcome: outcome({ revision: 1 }), ...data })).not.toContain('#### Timeline');
  });
});

describe('charts', () => {
  it('charts the canary weight over the rollout and the judge\'s metric, canary as a line against stable as bars', async () => {
    const env = await canaryRun(212);
    const md = renderSummary({ ...base, target: env.engine.target, outcome: env.first, ...(await readSummaryData(env.cluster, env.engine.target, env.first.revision)), now: env.clock.now() });
    const [weight, metric] = mermaid(md);
    expect(weight).toMatch(/^%%\{init: \{"themeVariables": \{"xyChart": \{"plotColorPalette": "#0969da"\}\}\}\}%%\nxychart-beta\n {2}title "Traffic on the new version \(%\)"\n {2}x-axis "seconds since the rollout started" 0 --> [\d.]+\n {2}y-axis "weight \(%\)" 0 --> 100\n {2}line \[[\d, ]+\]\n$/);
    const weights = /line \[([\d, ]+)\]/.exec(weight!)![1]!.split(', ').map(Number);
    expect(weights).toHaveLength(30);
    expect(new Set(weights)).toEqual(new Set([33, 0]));
    expect(weights.at(-1)).toBe(0);
    expect(metric).toContain('title "p95 latency (ms): canary (line) vs stable (bars)"');
    // The axis starts at 0, so 48 against 212 looks like what it is.
    expect(metric).toContain('y-axis "ms" 0 --> 233.2');
    expect(metric).toContain('bar [48, 48, 48, 48, 48, 48, 48, 48]');
    expect(metric).toContain('line [212, 212, 212, 212, 212, 212, 212, 212]');
  });
});

describe('delivery metrics from the ledger', () => {
  const NOW = Date.parse('2026-11-20T12:00:00Z');
  const MIN = 60_000;
  const DAY = 24 * 60 * MIN;
  /** An entry that started `startAgo` before NOW and took `took`. */
  const e = (revision: number, result: LedgerEntry['result'], startAgo: number, took = 2 * MIN, extra: Partial<LedgerEntry> = {}): LedgerEntry => ({
    revision, strategy: 'canary', result, startedAt: new Date(NOW - startAgo).toISOString(), finishedAt: new Date(NOW - startAgo + took).toISOString(), ...extra,
  });
  const table = (ledger: LedgerEntry[], revision = 99): string => renderSummary({ ...base, ledger, now: NOW, outcome: outcome({ revision }) }).split('\n').find((l) => l.startsWith('| ') && !l.startsWith('| deploys'))!;

  it('no deploys: 0, no rate, no time to restore, no failure', () => {
    expect(deliveryMetrics([], NOW)).toEqual({ deploys: 0, succeeded: 0, failed: 0, unrestored: 0 });
    expect(table([])).toBe('| 0 | – | – | none |');
  });

  it('no failures: a rate of 0 % and "none" since the last failure', () => {
    expect(table([e(3, 'deployed', 1 * DAY), e(2, 'deployed', 2 * DAY), e(1, 'deployed', 3 * DAY)])).toBe('| 3 (3 succeeded) | 0 % (0 of 3) | – | none |');
  });

  it('counts rolled-back, aborted and failed rollouts as failures, and restores by their rollback or the next deploy', () => {
    const ledger = [
      e(6, 'deployed', 1 * DAY),
      e(5, 'deployed', 2 * DAY), // restores r4: 2 days − 3 days + 2 min after r4 started
      e(4, 'failed', 3 * DAY, 5 * MIN),
      e(3, 'rolled-back', 4 * DAY, 10 * MIN),
      e(2, 'aborted', 5 * DAY, 30 * MIN),
      e(1, 'deployed', 6 * DAY),
    ];
    const m = deliveryMetrics(ledger, NOW);
    expect(m).toMatchObject({ deploys: 6, succeeded: 3, failed: 3, changeFailureRate: 0.5, unrestored: 0 });
    // Restore times: r2 30 m, r3 10 m, r4 1 d 2 m → median 30 m.
    expect(m.medianTimeToRestoreMs).toBe(30 * MIN);
    expect(m.lastFailure).toMatchObject({ revision: 4 });
    expect(m.sinceLastFailureMs).toBe(3 * DAY - 5 * MIN);
    expect(table(ledger)).toBe('| 6 (3 succeeded) | 50 % (3 of 6) | 30 m | 2 d 23 h (r4) |');
  });

  it('the median of an even count is the mean of the middle two', () => {
    expect(deliveryMetrics([e(2, 'rolled-back', 1 * DAY, 4 * MIN), e(1, 'rolled-back', 2 * DAY, 10 * MIN)], NOW).medianTimeToRestoreMs).toBe(7 * MIN);
  });

  it('a deploy undone by the rollback action is a failure, restored when the rollback finished; the rollback is no deploy', () => {
    const ledger = [e(3, 'deployed', 1 * DAY, 3 * MIN, { rollbackOf: 1 }), e(2, 'deployed', 1 * DAY + 60 * MIN), e(1, 'deployed', 2 * DAY)];
    const m = deliveryMetrics(ledger, NOW);
    expect(m).toMatchObject({ deploys: 2, succeeded: 1, failed: 1, changeFailureRate: 0.5 });
    // From r2's finish (it carried all traffic) to the rollback's finish: 60 − 2 + 3 minutes.
    expect(m.medianTimeToRestoreMs).toBe(61 * MIN);
    expect(m.sinceLastFailureMs).toBe(1 * DAY);
  });

  it('a failure nothing restored yet is left out of the median and counted apart', () => {
    const ledger = [e(2, 'failed', 30 * MIN, 5 * MIN), e(1, 'deployed', 1 * DAY)];
    expect(table(ledger)).toBe('| 2 (1 succeeded) | 50 % (1 of 2) | – (1 not restored yet) | 25 m (r2) |');
  });

  it('counts 30 days for deploys, the rate and time to restore, and the whole ledger for the last failure', () => {
    const ledger = [e(3, 'deployed', 10 * DAY), e(2, 'deployed', 20 * DAY), e(1, 'rolled-back', 40 * DAY, 10 * MIN)];
    expect(table(ledger)).toBe('| 2 (2 succeeded) | 0 % (0 of 2) | – | 39 d 23 h (r1) |');
  });

  it('says "this rollout" when this run is the last failure', () => {
    expect(table([e(7, 'rolled-back', 5 * MIN, 4 * MIN), e(6, 'deployed', 1 * DAY)], 7)).toBe('| 2 (1 succeeded) | 50 % (1 of 2) | 4 m | this rollout |');
  });
});

describe('reportOutcome', () => {
  const config = parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web', namespace: 'default', 'environment-url': 'https://shop.example.com' }), { GITHUB_RUN_ID: '7', GITHUB_REPOSITORY: 'o/r' });

  it('writes the outputs and a summary with the timeline and the delivery metrics read from the cluster', async () => {
    const { engine, cluster, clock } = fakeEngine();
    const o = await rollout(engine, () => ({ objects: set('app:v1') }));
    const reporter = new MemoryReporter();
    await reportOutcome(reporter, config, o, { client: cluster, now: clock.now() });
    expect(reporter.outputs).toMatchObject({ result: 'deployed', revision: '1', changed: '2' });
    const [md] = reporter.summaries;
    expect(firstLine(md!)).toBe('### Deployed r1');
    expect(md).toContain('[run](https://github.com/o/r/actions/runs/7) · [environment](https://shop.example.com)');
    expect(md).toContain('#### Timeline');
    expect(md).toContain('| 1 (1 succeeded) | 0 % (0 of 1) | – | none |');
  });

  it('a cluster it cannot read leaves the timeline and metrics out with a warning, never the outcome', async () => {
    const cluster = new FakeCluster();
    cluster.getObjects = async () => { throw new Error('connection refused'); };
    const reporter = new MemoryReporter();
    await reportOutcome(reporter, config, outcome({ result: 'rolled-back', reason: 'Deployment/web failed: CrashLoopBackOff' }), { client: cluster });
    expect(firstLine(reporter.summaries[0]!)).toBe('### Rolled back: Deployment/web failed: CrashLoopBackOff');
    expect(reporter.summaries[0]).not.toContain('#### Delivery');
    expect(reporter.warnings[0]!.message).toMatch(/leaves out the timeline and delivery metrics: connection refused/);
  });
});
