// The basic strategy: validate → snapshot → apply → wait → deployed, or roll back to the
// snapshot. An explicit state machine whose state lives in the cluster (kube/state.ts),
// so a post step, a re-run or `gantry rollback` can finish what a dead run started.
import { isClusterScoped } from '../kube/manifests.js';
import { GantryError, GantryErrors } from '../errors.js';
import { History, Revision, imagesOf, resolvedDigests } from '../kube/history.js';
import { KubeClient, KubeObject, ObjectProblem } from '../kube/client.js';
import { applySet, forNewCrd } from '../kube/apply.js';
import { ErrorLocation } from '../errors.js';
import { DeployLock } from '../kube/lock.js';
import type { Holder, Target } from '../shared/target.js';
import { Snapshot, changedObjects, displayName, identity, restoreSnapshot, takeSnapshot } from '../kube/snapshot.js';
import { IN_PROGRESS, Phase, RolloutRecord, RolloutStore, StoredRollout, StepEvent, UNFINISHED, appendTimeline, verdictEvents } from '../kube/state.js';
import { Ledger, ledgerEntry } from '../kube/ledger.js';
import type { Verdict } from '../checks/gate.js';
import { Clock, formatSeconds, isWorkload, systemClock, waitForReady } from '../kube/wait.js';
import { Reporter } from '../report/reporter.js';

/** How a rollout ended: `paused` waits for a promote from a later run; `aborted` was stopped on request and restored. */
export type Result = 'deployed' | 'rolled-back' | 'failed' | 'paused' | 'aborted';

export interface RolloutOutcome {
  result: Result;
  revision?: number;
  previousRevision?: number;
  /** kind/name of each object that differed from the live state (or did not exist). */
  changed: string[];
  /** Why the rollout did not deploy. */
  reason?: string;
  /** The object that failed, e.g. Deployment/web. */
  failedObject?: string;
  timings: { totalMs: number; waitMs?: number; detectMs?: number; rollbackMs?: number };
}

/** What every engine operation needs from its caller; the adapters build it from Config. */
export interface Engine {
  client: KubeClient;
  reporter: Reporter;
  target: Target;
  holder: Holder;
  commit?: string;
  timeoutMs: number;
  lockTtlMs: number;
  historyLimit: number;
  rollbackOnFailure: boolean;
  clock?: Clock;
  /** How often a wait looks at the clock when nothing changes; tests shorten it. */
  pollMs?: number;
  /** Called once the rollout is recorded in the cluster, before anything is applied (the action saves post-step state here). */
  onRecorded?: (record: RolloutRecord) => void;
  /** How the validated, snapshotted set reaches the cluster; the basic strategy's apply-and-wait when absent. */
  deliver?: Deliver;
  /** The strategy `deliver` implements, as the record names it. */
  strategy?: RolloutRecord['strategy'];
  /** The basic strategy's gates: judged once the set is ready; a reason fails (and rolls back) the rollout. `record` puts verdicts on the timeline. */
  afterReady?: (live: KubeObject[], record: (verdicts: Verdict[]) => void) => Promise<string | undefined>;
}

/** What a strategy gets once the set is validated, snapshotted and recorded. */
export interface DeliverContext {
  engine: Engine;
  machine: RolloutMachine;
  /** The whole set, namespaced, namespaces first. */
  objects: KubeObject[];
  /** Objects the dry run could not check yet (custom resources of a CRD in the set, objects in a new namespace). */
  deferred: KubeObject[];
  /** Objects of the previous revision to remove. */
  pruned: KubeObject[];
  snapshot: Snapshot;
  renew: () => Promise<void>;
  locate: (p: ObjectProblem) => ErrorLocation | undefined;
  outcome: RolloutOutcome;
}

export type Delivered =
  | { status: 'deployed'; /** Objects and pods as last seen, for the digests the pods run. */ live: KubeObject[] }
  | { status: 'paused' }
  | { status: 'failed'; reason: string; object?: string; /** Undoes what the strategy created beside the set (canary, routes) before the snapshot is restored. */ cleanup?: () => Promise<void> };

export type Deliver = (ctx: DeliverContext) => Promise<Delivered>;

/** What one rollout applies: the desired objects and, for a rollback to an older revision, objects to remove. */
export interface Plan {
  objects: KubeObject[];
  prune?: KubeObject[];
  /** Set when the plan restores an older revision. */
  rollbackOf?: number;
  /** Where each object came from (by `identity()`), so a rejected object is named with its file:line. */
  locations?: Map<string, ErrorLocation>;
}

/** Allowed transitions. Rolling back is a transition like any other, reachable from every phase that changed the cluster. */
export const TRANSITIONS: Record<Phase, readonly Phase[]> = {
  validating: ['snapshotting', 'failed'],
  snapshotting: ['applying', 'failed'],
  applying: ['waiting', 'progressing', 'rolling-back', 'failed'],
  waiting: ['deployed', 'rolling-back', 'failed'],
  // rolling-back → rolling-back: a new run resumes an interrupted restore.
  'rolling-back': ['rolled-back', 'rolling-back', 'failed'],
  // Progressive strategies: steps (progressing) and waits for a promote (paused), from one run or several.
  progressing: ['progressing', 'paused', 'promoting', 'aborting', 'rolling-back', 'failed'],
  paused: ['progressing', 'promoting', 'aborting'],
  promoting: ['promoting', 'deployed', 'aborting', 'rolling-back', 'failed'],
  aborting: ['aborting', 'aborted', 'rolled-back', 'failed'],
  deployed: [],
  'rolled-back': [],
  aborted: [],
  failed: [],
};

/** Phases worth a write to the cluster: from the first change on, a dead run must be recoverable. */
const PERSISTED: readonly Phase[] = ['applying', 'waiting', 'rolling-back', 'deployed', 'rolled-back', 'failed', 'progressing', 'paused', 'promoting', 'aborting', 'aborted'];

export const REVISION_ANNOTATION = 'gantry.dev/revision';

/** Phases before anything was applied: a rollout that ends there changed nothing, and is no delivery to count. */
const BEFORE_CHANGE: readonly Phase[] = ['validating', 'snapshotting'];

/** One rollout's state, its transitions and their log lines, and its timeline for the summary. */
export class RolloutMachine {
  constructor(
    private readonly engine: Engine,
    private readonly store: RolloutStore,
    readonly record: RolloutRecord,
    private snapshot?: Snapshot,
  ) {}

  /** Writes the record as it is now (a progressive strategy's step or weight changed) without a transition. */
  async save(): Promise<void> {
    this.record.updatedAt = new Date((this.engine.clock ?? systemClock).now()).toISOString();
    await this.store.write(this.record, this.snapshot);
  }

  get phase(): Phase {
    return this.record.phase;
  }

  private now(): number {
    return (this.engine.clock ?? systemClock).now();
  }

  /** Puts a step or a switch on the timeline, now; saved with the next write. Returns the stored event, whose effective weight may still be filled in. */
  note(step: Omit<StepEvent, 'type' | 'at'>): StepEvent {
    const event: StepEvent = { type: 'step', at: this.now(), ...step };
    appendTimeline(this.record, event);
    return event;
  }

  /** Puts the verdicts of one run of gates on the timeline, one event per gate; saved with the next write. */
  noteVerdicts(verdicts: Verdict[], options: { background?: boolean } = {}): void {
    for (const event of verdictEvents(verdicts, options)) appendTimeline(this.record, event);
  }

  /** Moves to `next`, logs one line and, once the cluster may change, records it there. */
  async to(next: Phase, reason?: string, snapshot?: Snapshot): Promise<void> {
    if (!TRANSITIONS[this.record.phase].includes(next)) {
      throw new GantryError(`Internal error: a rollout cannot go from ${this.record.phase} to ${next}`);
    }
    const from = this.record.phase;
    this.record.phase = next;
    this.record.updatedAt = new Date(this.now()).toISOString();
    if (reason !== undefined) this.record.reason = reason;
    appendTimeline(this.record, { type: 'phase', at: this.now(), phase: next, ...(reason !== undefined ? { reason } : {}) });
    if (snapshot) this.snapshot = snapshot;
    const { namespace, app } = this.engine.target;
    this.engine.reporter.info(`rollout ${namespace}/${app} r${this.record.revision}: ${from} → ${next}${reason ? ` (${firstLine(reason)})` : ''}`);
    if (!PERSISTED.includes(next)) return;
    // The snapshot stays in the record until the rollout is over; a finished rollout has nothing to restore.
    const terminal = TRANSITIONS[next].length === 0;
    if (terminal && next !== 'failed') this.snapshot = undefined;
    await this.store.write(this.record, terminal && next !== 'failed' ? undefined : this.snapshot);
    if (terminal && !BEFORE_CHANGE.includes(from)) await this.recordOutcome();
  }

  /**
   * Adds the finished rollout to the target's ledger, whichever run finished it (this one, a
   * promote or abort from a later run, a recovery). The ledger only feeds the summary's
   * metrics: a failure to write it is a warning, never a failed rollout.
   */
  private async recordOutcome(): Promise<void> {
    const entry = ledgerEntry(this.record, this.record.updatedAt);
    if (!entry) return;
    try {
      await new Ledger(this.engine.client, this.engine.target).record(entry, this.now());
    } catch (err) {
      this.engine.reporter.warning(`could not add r${entry.revision} to the rollout ledger: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** The reason as it fits on one log line; the full text follows in the failure itself. */
function firstLine(text: string, max = 160): string {
  const line = text.split('\n')[0]!;
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * The lock and the rollout record live in the target namespace. When it does not exist
 * yet and the set itself creates it (the commonest first-deploy layout), it is applied
 * before the lock is taken. It stays if the rollout is rolled back: it then holds the
 * record of what happened. A concurrent deploy is still refused, by the lock.
 */
async function createTargetNamespace(engine: Engine, objects: KubeObject[]): Promise<void> {
  const { client, target, reporter } = engine;
  const own = objects.find((o) => o.kind === 'Namespace' && o.metadata.name === target.namespace);
  if (!own) return;
  if (await client.get({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: target.namespace } })) return;
  const checked = await client.apply([own], { dryRun: true });
  if (!checked.ok) throw validationError(checked.problems, 1);
  const created = await client.apply([own]);
  if (!created.ok) throw validationError(created.problems, 1);
  reporter.info(`namespace ${target.namespace} created first: the deploy lock and the rollout record live there`);
}

/** Namespaces first, so one apply can create a namespace and then what goes into it. */
export function namespacesFirst(objects: KubeObject[]): KubeObject[] {
  return [...objects.filter((o) => o.kind === 'Namespace'), ...objects.filter((o) => o.kind !== 'Namespace')];
}

/**
 * A dry-run complaint that only says a namespace is missing which this very set creates:
 * the server cannot check objects in a namespace before it exists, so they are checked
 * by the apply itself (and a failure there is rolled back like any other).
 */
export function inNewNamespace(problem: ObjectProblem, objects: KubeObject[]): boolean {
  const missing = /namespaces "([^"]+)" not found/.exec(problem.message)?.[1];
  return missing !== undefined && objects.some((o) => o.kind === 'Namespace' && o.metadata.name === missing);
}

/** Objects without a namespace go to the target's; cluster-scoped kinds keep none. */
export function inNamespace(objects: KubeObject[], namespace: string): KubeObject[] {
  const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
  return objects.map((o) => (o.metadata.namespace || isClusterScoped(o, crds) ? o : { ...o, metadata: { ...o.metadata, namespace } }));
}

/** Turns the server's dry-run complaints into one error per object, each naming it and, when known, its file:line. */
export function validationError(problems: ObjectProblem[], count: number, locate: (p: ObjectProblem) => ErrorLocation | undefined = () => undefined): GantryError {
  const errors = problems.map((p) => new GantryError(`${p.object ? `${p.object} was rejected by the server: ` : ''}${p.message}`, {
    title: 'Invalid manifest',
    hint: 'Nothing was applied. Fix the manifest and deploy again.',
    location: locate(p),
  }));
  if (errors.length === 0) errors.push(new GantryError(`The server rejected the manifests (${count} objects) in the dry run`, { title: 'Invalid manifest', hint: 'Nothing was applied.' }));
  return errors.length === 1 ? errors[0]! : new GantryErrors(errors);
}

function startRecord(engine: Engine, revision: number, previousRevision: number | undefined, rollbackOf: number | undefined): RolloutRecord {
  const at = (engine.clock ?? systemClock).now();
  const now = new Date(at).toISOString();
  return {
    app: engine.target.app,
    namespace: engine.target.namespace,
    strategy: engine.strategy ?? 'basic',
    phase: 'validating',
    revision,
    previousRevision,
    holder: { id: engine.holder.id, runUrl: engine.holder.runUrl },
    commit: engine.commit,
    startedAt: now,
    updatedAt: now,
    changed: [],
    ...(rollbackOf !== undefined ? { rollbackOf } : {}),
    timeline: [{ type: 'phase', at, phase: 'validating' }],
  };
}

/**
 * Runs one rollout of `plan` under the target's lock. Before it starts, an unfinished
 * rollout left by a dead run is rolled back, so the target is never left half-changed.
 * `prepare` receives the new revision number so the caller can stamp it on the objects.
 */
export async function rollout(engine: Engine, prepare: (revision: number) => Plan): Promise<RolloutOutcome> {
  const clock = engine.clock ?? systemClock;
  const started = clock.now();
  const { client, reporter, target } = engine;
  const lock = new DeployLock(client, target, engine.holder, engine.lockTtlMs, clock);
  const store = new RolloutStore(client, target);
  const history = new History(client, target, engine.historyLimit);
  // Renewing the lock must never fail a healthy rollout: the lease outlives a short outage.
  const renew = (): Promise<void> => lock.renew().catch((err: unknown) => reporter.warning(`could not renew the deploy lock: ${err instanceof Error ? err.message : String(err)}`));

  const plan = prepare(0);
  await createTargetNamespace(engine, plan.objects);
  const how = await lock.acquire();
  if (how !== 'taken') reporter.info(`lock ${target.namespace}/${target.app}: ${how === 'reclaimed' ? 'reclaimed from an earlier attempt of this run' : 'took over a stale lock'}`);
  try {
    const { stored, revisions } = await readTarget(client, store, history);
    if (stored && UNFINISHED.includes(stored.record.phase)) {
      await reporter.group(`Finish the interrupted rollout r${stored.record.revision}`, () => recoverStored(engine, store, stored));
    }
    const previousRevision = revisions[0]?.revision;
    const revision = Math.max(previousRevision ?? 0, stored?.record.revision ?? 0) + 1;
    Object.assign(plan, prepare(revision));
    const objects = namespacesFirst(inNamespace(plan.objects, target.namespace));
    const locate = (p: ObjectProblem): ErrorLocation | undefined => {
      const o = p.index === undefined ? undefined : objects[p.index];
      return o ? plan.locations?.get(identity(o, target.namespace)) : undefined;
    };
    const prune = inNamespace(plan.prune ?? [], target.namespace);
    const machine = new RolloutMachine(engine, store, startRecord(engine, revision, previousRevision, plan.rollbackOf));
    const outcome: RolloutOutcome = { result: 'failed', revision, previousRevision, changed: [], timings: { totalMs: 0 } };
    const finish = (): RolloutOutcome => ({ ...outcome, timings: { ...outcome.timings, totalMs: clock.now() - started } });

    // validating: the whole set in one server-side dry run; nothing changes unless every object passes.
    const { dryRun, blocking, deferred } = await reporter.group(`Validate ${objects.length} objects (server-side dry run)`, async () => {
      const result = await client.apply(objects, { dryRun: true });
      const excused = result.problems.filter((p) => inNewNamespace(p, objects) || forNewCrd(p, objects));
      const problems = result.problems.filter((p) => !excused.includes(p));
      // A failure that names no object still blocks: there is nothing to excuse it by.
      const passed = result.ok || (result.problems.length > 0 && problems.length === 0);
      if (result.ok) reporter.info(`${objects.length} objects accepted by the server`);
      else if (passed) reporter.info(`${result.objects.length} objects accepted by the server; ${excused.length} go into namespaces or are of kinds this rollout creates, and are checked as soon as those exist, before they are applied`);
      const later = excused.map((p) => objects[p.index ?? -1]).filter((o): o is KubeObject => o !== undefined);
      return { dryRun: result, blocking: passed ? undefined : problems, deferred: later };
    });
    if (blocking) {
      const error = validationError(blocking, objects.length, locate);
      await machine.to('failed', error.message).catch(() => undefined);
      throw error;
    }

    // snapshotting: what exists now (restorable) and what this rollout will create.
    await machine.to('snapshotting');
    const snapshot = await takeSnapshot(client, [...objects, ...prune], target.namespace);
    const changed = changedObjects(snapshot, dryRun.objects, target.namespace);
    const pruneIds = new Set(prune.map((o) => identity(o, target.namespace)));
    const pruned = snapshot.existing.filter((o) => pruneIds.has(identity(o, target.namespace)));
    snapshot.created = snapshot.created.filter((o) => !pruneIds.has(identity(o, target.namespace)));
    outcome.changed = [...changed, ...pruned].map((o) => displayName(o, target.namespace));
    machine.record.changed = outcome.changed;
    reporter.info(`snapshot: ${snapshot.existing.length} existing objects saved, ${snapshot.created.length} new; ${outcome.changed.length} will change${outcome.changed.length ? `: ${outcome.changed.join(', ')}` : ''}`);

    // applying: recorded with the snapshot first, so a run killed during apply can be undone.
    await machine.to('applying', undefined, snapshot);
    engine.onRecorded?.(machine.record);
    const deliver = engine.deliver ?? basicDeliver;
    let delivered: Delivered;
    try {
      delivered = await deliver({ engine, machine, objects, deferred, pruned, snapshot, renew, locate, outcome });
    } catch (err) {
      // An unexpected error after the apply (API unreachable for good) is a failure like any other: roll back.
      delivered = { status: 'failed', reason: `The rollout was interrupted: ${err instanceof Error ? err.message : String(err)}` };
    }
    await settle(engine, machine, delivered, { objects, revisions, rollbackOf: plan.rollbackOf, snapshot, renew, outcome, history });
    return finish();
  } finally {
    await lock.release().catch((err: unknown) => reporter.warning(`could not release the lock: ${String(err)}`));
  }
}

/** What `settle` needs to finish a rollout, whichever run delivered it. */
export interface SettleContext {
  objects: KubeObject[];
  revisions: Revision[];
  rollbackOf?: number;
  snapshot: Snapshot;
  renew: () => Promise<void>;
  outcome: RolloutOutcome;
  history: History;
}

/**
 * The end of every rollout, basic or progressive, in this run or a later one: a delivered
 * set is recorded as a revision; a paused one waits in the cluster; a failed one is
 * rolled back to its snapshot (after the strategy's own cleanup).
 */
export async function settle(engine: Engine, machine: RolloutMachine, delivered: Delivered, ctx: SettleContext & { aborted?: boolean }): Promise<void> {
  const clock = engine.clock ?? systemClock;
  const { reporter, target } = engine;
  const { outcome } = ctx;
  const revision = machine.record.revision;
  if (delivered.status === 'deployed') {
    const images = imagesOf(ctx.objects);
    const entry: Revision = {
      revision, commit: machine.record.commit, images, digests: resolvedDigests(Object.values(images), delivered.live), deployedAt: new Date(clock.now()).toISOString(),
      runUrl: machine.record.holder.runUrl, objects: ctx.objects, ...(ctx.rollbackOf ? { rollbackOf: ctx.rollbackOf } : {}),
    };
    // Both before the lock goes: another run must never see this rollout unfinished and undo it.
    await Promise.all([ctx.history.record(entry, ctx.revisions), machine.to('deployed')]);
    outcome.result = 'deployed';
    return;
  }
  if (delivered.status === 'paused') {
    outcome.result = 'paused';
    return;
  }
  outcome.reason = delivered.reason;
  outcome.failedObject = delivered.object;
  if (!engine.rollbackOnFailure && !IN_PROGRESS.includes(machine.record.phase)) {
    await machine.to('failed', delivered.reason);
    reporter.warning(`rollback-on-failure is off: ${target.namespace}/${target.app} is left at the failed revision r${revision}. Run the rollback action to restore it.`);
    return;
  }
  const rollbackStarted = clock.now();
  await machine.to(IN_PROGRESS.includes(machine.record.phase) ? 'aborting' : 'rolling-back', delivered.reason);
  try {
    await delivered.cleanup?.();
  } catch (err) {
    reporter.warning(`could not remove everything the strategy created: ${err instanceof Error ? err.message : String(err)}`);
  }
  const restored = await reporter.group('Roll back to the snapshot', () => restoreAndWait(engine, ctx.snapshot, clock, ctx.renew));
  outcome.timings.rollbackMs = clock.now() - rollbackStarted;
  if (restored.ok) {
    await machine.to(ctx.aborted ? 'aborted' : 'rolled-back');
    reporter.info(`${ctx.aborted ? 'aborted and restored' : 'rolled back'} in ${formatSeconds(outcome.timings.rollbackMs)}`);
    outcome.result = ctx.aborted ? 'aborted' : 'rolled-back';
  } else {
    await machine.to('failed', `${delivered.reason}\nThe rollback did not become healthy: ${restored.message}`);
    outcome.reason = machine.record.reason;
  }
}

/** The basic strategy: apply the whole set, wait for every workload, fail fast. */
const basicDeliver: Deliver = async ({ engine, machine, objects, deferred, pruned, renew, locate, outcome }) => {
  const { client, reporter, target } = engine;
  const clock = engine.clock ?? systemClock;
  const applied = await reporter.group(`Apply ${objects.length} objects (server-side apply, field manager gantry)`, async () => {
    const result = await applySet(client, objects, { timeoutMs: engine.timeoutMs, deferred });
    const removed = result.ok ? await client.delete(pruned) : { ok: true, problems: [] };
    return { ok: result.ok && removed.ok, problems: [...result.problems, ...removed.problems], objects: result.objects };
  });
  if (!applied.ok) {
    return { status: 'failed', reason: `The apply failed: ${applied.problems.map((p) => { const at = locate(p); return `${at ? `${at.file}${at.line ? `:${at.line}` : ''}: ` : ''}${p.message}`; }).join('; ')}` };
  }
  await machine.to('waiting');
  const waitStarted = clock.now();
  const waited = await reporter.group(`Wait for ${objects.filter(isWorkload).length} workloads to be ready (timeout ${formatSeconds(engine.timeoutMs)})`, () =>
    waitForReady(client, applied.objects.length > 0 ? applied.objects : objects, reporter, {
      namespace: target.namespace, timeoutMs: engine.timeoutMs, pollMs: engine.pollMs, clock, onTick: renew,
    }));
  outcome.timings.waitMs = clock.now() - waitStarted;
  if (waited.ready) {
    if (engine.afterReady) machine.note({ label: 'analysis after the rollout' });
    const failed = await engine.afterReady?.(waited.live, (verdicts) => machine.noteVerdicts(verdicts));
    if (failed !== undefined) {
      reporter.error(failed);
      return { status: 'failed', reason: failed };
    }
    return { status: 'deployed', live: waited.live };
  }
  outcome.timings.detectMs = waited.elapsedMs;
  reporter.error(waited.message);
  reporter.info(`${waited.timedOut ? 'timed out' : `detected ${waited.reason}`} after ${formatSeconds(waited.elapsedMs)}`);
  return { status: 'failed', reason: waited.message, object: waited.object };
};

/** Restores a snapshot and waits for what it restored to be ready again. */
async function restoreAndWait(engine: Engine, snapshot: Snapshot, clock: Clock, onTick: () => Promise<void>): Promise<{ ok: boolean; message: string }> {
  const { restored, deleted } = await restoreSnapshot(engine.client, snapshot);
  engine.reporter.info(`restored ${restored} objects to their previous spec, deleted ${deleted} created by the rollout`);
  const waited = await waitForReady(engine.client, snapshot.existing, engine.reporter, {
    namespace: engine.target.namespace, timeoutMs: engine.timeoutMs, pollMs: engine.pollMs, clock, onTick,
  });
  return waited.ready ? { ok: true, message: '' } : { ok: false, message: waited.message };
}

/** Rolls back a rollout a dead run left unfinished (the caller holds the lock). */
async function recoverStored(engine: Engine, store: RolloutStore, stored: StoredRollout): Promise<RolloutOutcome> {
  const clock = engine.clock ?? systemClock;
  const started = clock.now();
  const { record, snapshot } = stored;
  engine.reporter.info(`found rollout r${record.revision} unfinished in phase ${record.phase}, started by ${record.holder.runUrl}; restoring its snapshot`);
  const machine = new RolloutMachine(engine, store, record);
  if (!snapshot) {
    await machine.to('failed', 'the record has no snapshot to restore');
    return { result: 'failed', revision: record.revision, previousRevision: record.previousRevision, changed: record.changed, reason: record.reason, timings: { totalMs: clock.now() - started } };
  }
  await machine.to('rolling-back', record.reason ?? 'the run that started it did not finish', snapshot);
  const restored = await restoreAndWait(engine, snapshot, clock, async () => undefined);
  await machine.to(restored.ok ? 'rolled-back' : 'failed', restored.ok ? undefined : `The restore did not become healthy: ${restored.message}`);
  return {
    result: restored.ok ? 'rolled-back' : 'failed', revision: record.revision, previousRevision: record.previousRevision,
    changed: record.changed, reason: machine.record.reason, timings: { totalMs: clock.now() - started, rollbackMs: clock.now() - started },
  };
}

/**
 * The post step and `gantry rollback` of an interrupted rollout: if the record shows an
 * unfinished rollout started by `holder` (or any holder, when `anyHolder`), restore its snapshot.
 * Returns undefined when there is nothing to do.
 */
export async function recoverInterrupted(engine: Engine, options: { anyHolder?: boolean } = {}): Promise<RolloutOutcome | undefined> {
  const store = new RolloutStore(engine.client, engine.target);
  const stored = await store.read();
  if (!stored || !UNFINISHED.includes(stored.record.phase)) return undefined;
  if (!options.anyHolder && stored.record.holder.id !== engine.holder.id) return undefined;
  const lock = new DeployLock(engine.client, engine.target, options.anyHolder ? stored.record.holder : engine.holder, engine.lockTtlMs, engine.clock);
  await lock.acquire();
  try {
    return await recoverStored(engine, store, stored);
  } finally {
    await lock.release().catch(() => undefined);
  }
}

/** Picks the revision `gantry rollback` restores: the requested one, or the newest before the current. */
export function pickRevision(revisions: Revision[], requested?: number): { target: Revision; current?: Revision } {
  const current = revisions[0];
  if (requested !== undefined) {
    const found = revisions.find((r) => r.revision === requested);
    if (!found) throw new GantryError(`Revision ${requested} is not in the history`, { title: 'Unknown revision', hint: `Known revisions: ${revisions.map((r) => r.revision).join(', ') || 'none'}.` });
    return { target: found, current };
  }
  // Skip revisions that only restored the same objects as the current one.
  const earlier = revisions.slice(1).find((r) => r.revision !== current?.rollbackOf);
  if (!earlier) {
    throw new GantryError('There is no earlier successful revision to roll back to', {
      title: 'Nothing to roll back to',
      hint: current ? `Only revision ${current.revision} is recorded.` : 'No revision of this target was deployed by Gantry yet.',
    });
  }
  return { target: earlier, current };
}

/** The rollout record and the history, read together. */
async function readTarget(client: KubeClient, store: RolloutStore, history: History): Promise<{ stored?: StoredRollout; revisions: Revision[] }> {
  const found = await client.getObjects([store.ref(), history.ref()]);
  const named = (ref: KubeObject) => found.find((o) => o.metadata.name === ref.metadata.name);
  return { stored: RolloutStore.decode(named(store.ref())), revisions: History.decode(named(history.ref())) };
}

/** Reads what `gantry status` shows. */
export async function readStatus(client: KubeClient, target: Target, historyLimit: number): Promise<{ record?: RolloutRecord; revisions: Revision[] }> {
  const { stored, revisions } = await readTarget(client, new RolloutStore(client, target), new History(client, target, historyLimit));
  return { record: stored?.record, revisions };
}
