// The rollout record: where a target's current rollout stands (its phase) and the
// snapshot to restore, kept in the cluster in one Secret per target so that a post
// step, a re-run or another machine can finish or undo what a dead run started.
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
