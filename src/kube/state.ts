// The rollout record: where a target's current rollout stands (its phase) and the
// snapshot to restore, kept in the cluster in one Secret per target so that a post
// step, a re-run or another machine can finish or undo what a dead run started.
import type { MeasuredSeries, Verdict, VerdictStatus } from '../checks/gate.js';
import { GantryError } from '../errors.js';
import type { Holder, Target } from '../shared/target.js';
import { KubeClient, KubeObject, describeProblems } from './client.js';
import { Snapshot, decodeObjects, encodeObjects } from './snapshot.js';

/**
 * Every state a rollout can be in. The basic strategy uses the first eight (see
 * strategies/basic.ts); the progressive ones add the steps of a canary or a blue-green
 * switch (strategies/canary.ts, strategies/blue-green.ts).
 */
export type Phase =
  | 'validating' | 'snapshotting' | 'applying' | 'waiting' | 'deployed' | 'rolling-back' | 'rolled-back' | 'failed'
  | 'progressing' | 'paused' | 'promoting' | 'aborting' | 'aborted';

/** Phases in which the target may be half-changed: a run that finds one of these must restore the snapshot. */
export const UNFINISHED: readonly Phase[] = ['applying', 'waiting', 'rolling-back'];

/** Phases of a progressive rollout that a later run may resume, promote or abort. */
export const IN_PROGRESS: readonly Phase[] = ['progressing', 'paused', 'promoting', 'aborting'];

export interface RolloutRecord {
  app: string;
  namespace: string;
  strategy: 'basic' | 'blue-green' | 'canary';
  phase: Phase;
  /** The revision this rollout would create. */
  revision: number;
  previousRevision?: number;
  holder: Holder;
  commit?: string;
  startedAt: string;
  updatedAt: string;
  /** Why the rollout failed or was rolled back. */
  reason?: string;
  /** kind/name of each object the rollout changes. */
  changed: string[];
  /** Where a progressive rollout stands (its step, weights, verdicts); owned by the strategy that wrote it. */
  progress?: unknown;
  /** Set when the rollout restores an older revision on demand (the rollback action). */
  rollbackOf?: number;
  /**
   * What happened when, oldest first, for the job summary: kept with the record so that a
   * promote from a later run shows the whole rollout. Bounded by TIMELINE_LIMIT.
   */
  timeline?: TimelineEvent[];
}

/** A phase entered (RolloutMachine.to). */
export interface PhaseEvent {
  type: 'phase';
  /** ms since epoch */
  at: number;
  phase: Phase;
  /** Its first line only: the full reason is the record's. */
  reason?: string;
}

/** A canary step started, or a blue-green switch: where traffic goes from here on. */
export interface StepEvent {
  type: 'step';
  at: number;
  /** `step 2/5: setWeight 25`, `switch to web-r3`. */
  label: string;
  /** Percent of traffic meant for the new version from here on, when the step sets it. */
  weight?: number;
  /** The weight the router achieved, when it differs (1 of 4 pods is 25 %). */
  effective?: number;
}

/** One gate's verdict on one point of the rollout: its last measurement, with how many were taken. */
export interface GateEvent {
  type: 'gate';
  at: number;
  gate: string;
  status: VerdictStatus;
  value?: string;
  message: string;
  /** Measurements taken in this run of the gate. */
  measurements: number;
  /** A background gate (the whole canary) rather than one at a step. */
  background?: boolean;
  series?: MeasuredSeries;
}

export type TimelineEvent = PhaseEvent | StepEvent | GateEvent;

/**
 * The most events a record keeps: a long canary with many steps stays well within the
 * Secret's 1 MiB. Past it the oldest gate events go first; phases and steps outline the
 * rollout and are dropped only when nothing else is left to drop.
 */
export const TIMELINE_LIMIT = 120;
/** Points kept per series side: enough for a chart, small enough for the record. */
export const SERIES_LIMIT = 60;
/** Longest message a gate event keeps; the full verdicts are in the run's log. */
const MESSAGE_LIMIT = 300;

/** Evenly spaced points of a series, the first and last always among them. */
export function thinPoints(points: Array<[number, number]>, limit = SERIES_LIMIT): Array<[number, number]> {
  if (points.length <= limit) return points;
  return Array.from({ length: limit }, (_, i) => points[Math.round((i * (points.length - 1)) / (limit - 1))]!);
}

/** Appends an event to the record's timeline, keeping it within TIMELINE_LIMIT. */
export function appendTimeline(record: RolloutRecord, event: TimelineEvent): TimelineEvent {
  const kept: TimelineEvent = event.type === 'gate'
    ? { ...event, message: clip(event.message, MESSAGE_LIMIT), ...(event.series ? { series: { ...event.series, points: thinPoints(event.series.points), ...(event.series.stable ? { stable: thinPoints(event.series.stable) } : {}) } } : {}) }
    : event.type === 'phase' && event.reason !== undefined ? { ...event, reason: clip(event.reason.split('\n')[0]!, MESSAGE_LIMIT) } : event;
  const timeline = [...(record.timeline ?? []), kept];
  while (timeline.length > TIMELINE_LIMIT) {
    const oldestGate = timeline.findIndex((e) => e.type === 'gate');
    timeline.splice(oldestGate >= 0 ? oldestGate : 0, 1);
  }
  record.timeline = timeline;
  return kept;
}

/**
 * One event per gate from the verdicts of one run of gates: the gate's last verdict (the one
 * that decided it), how many measurements were taken, and every measured number in order.
 */
export function verdictEvents(verdicts: Verdict[], options: { background?: boolean } = {}): GateEvent[] {
  const byGate = new Map<string, Verdict[]>();
  for (const v of verdicts) byGate.set(v.gate, [...(byGate.get(v.gate) ?? []), v]);
  return [...byGate].map(([gate, all]) => {
    const last = all[all.length - 1]!;
    const measured = all.flatMap((v) => (v.series ? [v.series] : []));
    const byTime = (a: [number, number], b: [number, number]): number => a[0] - b[0];
    const series: MeasuredSeries | undefined = measured.length === 0 ? undefined : {
      name: measured[0]!.name,
      ...(measured[0]!.unit ? { unit: measured[0]!.unit } : {}),
      points: measured.flatMap((m) => m.points).sort(byTime),
      ...(measured.some((m) => m.stable) ? { stable: measured.flatMap((m) => m.stable ?? []).sort(byTime) } : {}),
    };
    return {
      type: 'gate', at: last.at, gate, status: last.status, message: last.message, measurements: all.length,
      ...(last.value !== undefined ? { value: last.value } : {}),
      ...(options.background ? { background: true } : {}),
      ...(series ? { series } : {}),
    };
  });
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export interface StoredRollout {
  record: RolloutRecord;
  snapshot?: Snapshot;
}

export function recordName(target: Target): string {
  return `gantry-${target.app}-rollout`;
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (data: string): string => Buffer.from(data, 'base64').toString('utf8');

export class RolloutStore {
  constructor(private readonly client: KubeClient, readonly target: Target) {}

  async read(): Promise<StoredRollout | undefined> {
    return RolloutStore.decode(await this.client.get<KubeObject>(this.ref()));
  }

  /** A reference to the record's Secret, for reading it together with others in one call. */
  ref(): KubeObject {
    return { apiVersion: 'v1', kind: 'Secret', metadata: { name: recordName(this.target), namespace: this.target.namespace } };
  }

  static decode(object: KubeObject | undefined): StoredRollout | undefined {
    const secret = object as (KubeObject & { data?: Record<string, string> }) | undefined;
    if (!secret?.data?.record) return undefined;
    const record = JSON.parse(unb64(secret.data.record)) as RolloutRecord;
    const snapshot = secret.data.existing !== undefined && secret.data.created !== undefined
      ? { existing: decodeObjects(secret.data.existing), created: decodeObjects(secret.data.created) }
      : undefined;
    return { record, snapshot };
  }

  /** Writes the record (and the snapshot while one is needed) in one server-side apply. */
  async write(record: RolloutRecord, snapshot?: Snapshot): Promise<void> {
    const data: Record<string, string> = { record: b64(JSON.stringify(record)) };
    if (snapshot) {
      data.existing = encodeObjects(snapshot.existing);
      data.created = encodeObjects(snapshot.created);
    }
    const secret: KubeObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'gantry.dev/rollout',
      metadata: {
        name: recordName(this.target),
        namespace: this.target.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'gantry', 'gantry.dev/app': this.target.app },
      },
      data,
    };
    // Same field manager every time, so a write without the snapshot removes the old one.
    const result = await this.client.apply([secret], { fieldManager: 'gantry-state' });
    if (!result.ok) {
      throw new GantryError(`Could not record the rollout state in Secret ${recordName(this.target)}: ${describeProblems(result.problems)}`, {
        title: 'State not saved',
        hint: 'Gantry keeps its rollout state in the target namespace; the credentials need to create and update Secrets there.',
      });
    }
  }
}
