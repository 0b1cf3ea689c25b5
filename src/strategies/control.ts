// Promote, abort and resume: what a later, separate run does to a progressive rollout an
// earlier run started (a workflow_dispatch, a job after an environment approval, a re-run
// after the runner died, or the post step of a cancelled job). Everything it needs is in
// the rollout record in the cluster: the strategy's progress and the snapshot.
import { GantryError } from '../errors.js';
import { History } from '../kube/history.js';
import { DeployLock } from '../kube/lock.js';
import { IN_PROGRESS, RolloutRecord, RolloutStore } from '../kube/state.js';
import { systemClock } from '../kube/wait.js';
import type { Router } from '../traffic/router.js';
import { Delivered, Engine, RolloutMachine, RolloutOutcome, settle } from './basic.js';
import { BlueGreenProgress, afterReady, blueGreenCleanup } from './blue-green.js';
import { CanaryProgress, canaryCleanup, runSteps } from './canary.js';
import type { GateRunner } from './progressive.js';

export type Action = 'promote' | 'abort' | 'resume';

export type Progress = CanaryProgress | BlueGreenProgress;

export interface ControlDeps {
  gates: GateRunner;
  /** The router a canary was started with (the record names its kind). */
  routerFor: (progress: CanaryProgress) => Router;
}

export function progressOf(record: RolloutRecord | undefined): Progress | undefined {
  const p = record?.progress as Progress | undefined;
  return p && (p.kind === 'canary' || p.kind === 'blue-green') ? p : undefined;
}

/**
 * Acts on the target's progressive rollout in progress. `promote` continues past a pause
 * (`full`: past every remaining step), `abort` restores stable, `resume` continues a run
 * that died between steps. Returns undefined when there is nothing in progress and the
 * action is `resume` (the caller then starts a new rollout).
 */
export async function control(engine: Engine, action: Action, deps: ControlDeps, options: { full?: boolean; anyHolder?: boolean } = {}): Promise<RolloutOutcome | undefined> {
  const { client, reporter, target } = engine;
  const clock = engine.clock ?? systemClock;
  const started = clock.now();
  const store = new RolloutStore(client, target);
  const peek = await store.read();
  const progress = progressOf(peek?.record);
  if (!peek || !progress || !IN_PROGRESS.includes(peek.record.phase)) {
    if (action === 'resume') return undefined;
    throw new GantryError(`There is no progressive rollout of ${target.namespace}/${target.app} in progress to ${action}${peek ? `: the last rollout, r${peek.record.revision} (${peek.record.strategy}), is ${peek.record.phase}` : ''}`, {
      title: `Nothing to ${action}`,
      hint: 'Start one with the deploy action and strategy canary or blue-green.',
    });
  }
  const lock = new DeployLock(client, target, options.anyHolder ? peek.record.holder : engine.holder, engine.lockTtlMs, clock);
  await lock.acquire();
  const renew = (): Promise<void> => lock.renew().catch((err: unknown) => reporter.warning(`could not renew the deploy lock: ${err instanceof Error ? err.message : String(err)}`));
  try {
    // Read again under the lock: another run may have moved it meanwhile.
    const stored = await store.read();
    const record = stored?.record;
    const current = progressOf(record);
    if (!stored?.snapshot || !record || !current || !IN_PROGRESS.includes(record.phase)) {
      throw new GantryError(`The rollout of ${target.namespace}/${target.app} moved on while this run waited for the lock (now ${record?.phase ?? 'gone'})`, { title: 'Nothing to do' });
    }
    const machine = new RolloutMachine(engine, store, record, stored.snapshot);
    const outcome: RolloutOutcome = { result: 'failed', revision: record.revision, previousRevision: record.previousRevision, changed: record.changed, timings: { totalMs: 0 } };
    const history = new History(client, target, engine.historyLimit);
    reporter.info(`${action} ${target.namespace}/${target.app} r${record.revision} (${current.kind}, ${record.phase}${current.kind === 'canary' ? `, step ${current.step + 1}/${current.steps.length}, weight ${current.weight} %` : ''})`);

    let delivered: Delivered;
    if (action === 'abort' || record.phase === 'aborting') {
      const cleanup = current.kind === 'canary' ? canaryCleanup(engine, current, deps.routerFor(current)) : blueGreenCleanup(engine, current);
      delivered = { status: 'failed', reason: action === 'abort' ? `aborted by ${engine.holder.runUrl}` : record.reason ?? 'an earlier abort did not finish', cleanup };
    } else if (record.phase === 'paused' && action === 'resume') {
      reporter.info(`r${record.revision} is paused, waiting for a promote; nothing to resume`);
      return { ...outcome, result: 'paused', timings: { totalMs: clock.now() - started } };
    } else if (current.kind === 'canary') {
      if (options.full) current.full = true;
      if (record.phase === 'paused') await machine.to('progressing', `promoted by ${engine.holder.runUrl}${options.full ? ' (full)' : ''}`);
      delivered = await runSteps(engine, machine, current, { router: deps.routerFor(current), gates: deps.gates }, renew);
    } else {
      delivered = await afterReady(engine, machine, current, deps.gates, renew);
    }
    await settle(engine, machine, delivered, { objects: current.objects, revisions: await history.list(), snapshot: stored.snapshot, renew, outcome, history, aborted: action === 'abort' });
    return { ...outcome, timings: { ...outcome.timings, totalMs: clock.now() - started } };
  } finally {
    await lock.release().catch((err: unknown) => reporter.warning(`could not release the lock: ${String(err)}`));
  }
}
