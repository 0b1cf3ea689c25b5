// The rollout ledger: one entry per finished rollout, whichever run finished it, kept in
// the cluster and bounded, so the summary's delivery metrics need nothing but the cluster.
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/kube/client.js';
import { LEDGER_LIMIT, LEDGER_MAX_AGE_MS, Ledger, addEntry, type LedgerEntry } from '../../src/kube/ledger.js';
import { rollout } from '../../src/strategies/basic.js';
import { canaryDeliver } from '../../src/strategies/canary.js';
import { control } from '../../src/strategies/control.js';
import type { GateRunner } from '../../src/strategies/progressive.js';
import type { Router } from '../../src/traffic/router.js';
import { configMap, deployment, fakeEngine } from '../fixtures/deploy/fake-cluster.js';

const DAY = 24 * 3600_000;
const NOW = Date.parse('2026-11-20T12:00:00Z');
const entry = (revision: number, finishedMsAgo: number, result: LedgerEntry['result'] = 'deployed'): LedgerEntry => ({
  revision, strategy: 'basic', result,
  startedAt: new Date(NOW - finishedMsAgo - 60_000).toISOString(), finishedAt: new Date(NOW - finishedMsAgo).toISOString(),
});

const v = (tag: string): KubeObject[] => [deployment('web', `localhost:5000/app:${tag}`), configMap('web-config', { mode: tag })];
const service: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } };

const router: Router = {
  kind: 'replica-ratio',
  prepare: async () => undefined,
  setWeight: async (_t, weight) => ({ requested: weight, effective: weight, detail: 'test', canaryReplicas: 1 }),
  reset: async () => undefined,
};
const passingGates: GateRunner = { run: async () => ({ passed: true, verdicts: [] }), background: () => ({ failed: new Promise(() => undefined), stop: async () => [] }) };

const ledgerOf = (engine: ReturnType<typeof fakeEngine>['engine']) => new Ledger(engine.client, engine.target).list();

describe('ledger bounds', () => {
  it(`keeps the newest ${LEDGER_LIMIT} entries, newest first`, () => {
    let entries: LedgerEntry[] = [];
    for (let r = 1; r <= LEDGER_LIMIT + 50; r++) entries = addEntry(entries, entry(r, (LEDGER_LIMIT + 50 - r) * 60_000), NOW);
    expect(entries).toHaveLength(LEDGER_LIMIT);
    expect(entries[0]!.revision).toBe(LEDGER_LIMIT + 50);
    expect(entries.at(-1)!.revision).toBe(51);
  });

  it('drops entries older than 90 days, and replaces an entry of the same revision', () => {
    const old = entry(1, LEDGER_MAX_AGE_MS + DAY);
    const kept = entry(2, 89 * DAY);
    const entries = addEntry([kept, old], { ...entry(2, 0), result: 'rolled-back' }, NOW);
    expect(entries.map((e) => [e.revision, e.result])).toEqual([[2, 'rolled-back']]);
    expect(addEntry([kept, old], entry(3, 0), NOW).map((e) => e.revision)).toEqual([3, 2]);
  });
});

describe('ledger written when a rollout settles', () => {
  it('records a deployed rollout and a rolled-back one with the first line of its reason', async () => {
    const { cluster, engine } = fakeEngine();
    await rollout(engine, () => ({ objects: v('v1') }));
    cluster.controller = (c) => {
      const d = c.get('Deployment', 'web')!;
      const image = (d.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image;
      if (image.endsWith(':v2')) c.failingPod('web', { waiting: { reason: 'CrashLoopBackOff' } }, { restartCount: 2 });
      else c.markAllReady();
    };
    const failed = await rollout(engine, () => ({ objects: v('v2') }));
    expect(failed.result).toBe('rolled-back');
    const entries = await ledgerOf(engine);
    expect(entries.map((e) => [e.revision, e.strategy, e.result])).toEqual([[2, 'basic', 'rolled-back'], [1, 'basic', 'deployed']]);
    expect(entries[0]!.reason).toBe(failed.reason!.split('\n')[0]);
    expect(entries[1]!.reason).toBeUndefined();
    expect(Date.parse(entries[0]!.finishedAt)).toBeGreaterThanOrEqual(Date.parse(entries[0]!.startedAt));
  });

  it('records a failed rollout left in place (rollback-on-failure off)', async () => {
    const { cluster, engine } = fakeEngine();
    cluster.controller = (c) => c.failingPod('web', { waiting: { reason: 'CrashLoopBackOff' } }, { restartCount: 2 });
    await rollout({ ...engine, rollbackOnFailure: false }, () => ({ objects: v('v1') }));
    expect((await ledgerOf(engine)).map((e) => e.result)).toEqual(['failed']);
  });

  it('records nothing for a rollout the dry run refused: nothing changed', async () => {
    const { cluster, engine } = fakeEngine();
    cluster.reject = (o) => (o.kind === 'ConfigMap' ? 'data.mode: Invalid value' : undefined);
    await expect(rollout(engine, () => ({ objects: v('v1') }))).rejects.toThrow(/Invalid value/);
    expect(await ledgerOf(engine)).toEqual([]);
  });

  it('records a rollback to an older revision as such', async () => {
    const { engine } = fakeEngine();
    await rollout(engine, () => ({ objects: v('v1') }));
    await rollout(engine, () => ({ objects: v('v2') }));
    await rollout(engine, () => ({ objects: v('v1'), rollbackOf: 1 }));
    expect((await ledgerOf(engine)).map((e) => [e.revision, e.result, e.rollbackOf])).toEqual([[3, 'deployed', 1], [2, 'deployed', undefined], [1, 'deployed', undefined]]);
  });

  it('a paused canary is not in the ledger until a later run promotes it; an abort from another run is recorded as aborted', async () => {
    const { cluster, engine } = fakeEngine();
    cluster.endpointController = true;
    const canary = { ...engine, strategy: 'canary' as const, deliver: canaryDeliver({ router, gates: passingGates, routerKind: 'replica-ratio', steps: [{ setWeight: 25 }, { pause: {} }, { setWeight: 100 }], analysis: [] }) };
    await rollout(engine, () => ({ objects: [...v('v1'), service] }));
    expect((await rollout(canary, () => ({ objects: [...v('v2'), service] }))).result).toBe('paused');
    expect((await ledgerOf(engine)).map((e) => e.revision)).toEqual([1]);
    const later = fakeEngineFor(engine, 'run-2');
    expect((await control(later, 'promote', { gates: passingGates, routerFor: () => router }, { anyHolder: true }))!.result).toBe('deployed');
    expect((await ledgerOf(engine)).map((e) => [e.revision, e.strategy, e.result])).toEqual([[2, 'canary', 'deployed'], [1, 'basic', 'deployed']]);

    expect((await rollout(canary, () => ({ objects: [...v('v3'), service] }))).result).toBe('paused');
    expect((await control(later, 'abort', { gates: passingGates, routerFor: () => router }, { anyHolder: true }))!.result).toBe('aborted');
    const [aborted] = await ledgerOf(engine);
    expect(aborted).toMatchObject({ revision: 3, strategy: 'canary', result: 'aborted', reason: 'aborted by https://github.com/o/r/actions/runs/run-2' });
  });

  it('a ledger that cannot be written is a warning; the rollout still deploys', async () => {
    const { cluster, engine, reporter } = fakeEngine();
    cluster.reject = (o) => (o.metadata.name === 'gantry-web-ledger' ? 'secrets "gantry-web-ledger" is forbidden' : undefined);
    const outcome = await rollout(engine, () => ({ objects: v('v1') }));
    expect(outcome.result).toBe('deployed');
    expect(reporter.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/could not add r1 to the rollout ledger: .*forbidden/)]);
  });
});

/** The same cluster and clock, as a later run sees them. */
function fakeEngineFor(engine: ReturnType<typeof fakeEngine>['engine'], holder: string): ReturnType<typeof fakeEngine>['engine'] {
  return { ...engine, holder: { id: holder, runUrl: `https://github.com/o/r/actions/runs/${holder}` } };
}
