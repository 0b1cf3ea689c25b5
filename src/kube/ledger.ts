// The rollout ledger: one line per finished rollout of a target (deployed, rolled back,
// aborted or failed), newest first, in one Secret per target beside the history. The
// history keeps only what was deployed, for rollbacks; the ledger keeps every outcome, for
// the delivery metrics of the job summary (report/metrics.ts). Bounded by count and age.
import { GantryError } from '../errors.js';
import type { Target } from '../shared/target.js';
import { KubeClient, KubeObject, describeProblems } from './client.js';
import type { RolloutRecord } from './state.js';

export type LedgerResult = 'deployed' | 'rolled-back' | 'aborted' | 'failed';

export interface LedgerEntry {
  revision: number;
  strategy: RolloutRecord['strategy'];
  result: LedgerResult;
  /** ISO times: when the rollout started, and when it reached its result. */
  startedAt: string;
  finishedAt: string;
  /** Set when the rollout restored an older revision on demand (the rollback action). */
  rollbackOf?: number;
  /** The first line of why it did not deploy. */
  reason?: string;
}

/** At most this many entries… */
export const LEDGER_LIMIT = 200;
/** …none older than this. */
export const LEDGER_MAX_AGE_MS = 90 * 24 * 3600_000;
const REASON_LIMIT = 200;

export function ledgerName(target: Target): string {
  return `gantry-${target.app}-ledger`;
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (data: string): string => Buffer.from(data, 'base64').toString('utf8');

/** The entry a finished record makes; undefined while the rollout is not over. */
export function ledgerEntry(record: RolloutRecord, finishedAt: string): LedgerEntry | undefined {
  const result = record.phase;
  if (result !== 'deployed' && result !== 'rolled-back' && result !== 'aborted' && result !== 'failed') return undefined;
  const reason = record.reason?.split('\n')[0];
  return {
    revision: record.revision, strategy: record.strategy, result, startedAt: record.startedAt, finishedAt,
    ...(record.rollbackOf !== undefined ? { rollbackOf: record.rollbackOf } : {}),
    ...(result !== 'deployed' && reason ? { reason: reason.length > REASON_LIMIT ? `${reason.slice(0, REASON_LIMIT - 1)}…` : reason } : {}),
  };
}

/** Adds an entry (replacing one of the same revision) and drops what is beyond the bounds; newest first. */
export function addEntry(entries: LedgerEntry[], entry: LedgerEntry, now: number): LedgerEntry[] {
  const oldest = now - LEDGER_MAX_AGE_MS;
  return [entry, ...entries.filter((e) => e.revision !== entry.revision)]
    .filter((e) => Date.parse(e.finishedAt) >= oldest)
    .slice(0, LEDGER_LIMIT);
}

export class Ledger {
  constructor(private readonly client: KubeClient, readonly target: Target) {}

  /** Newest first. */
  async list(): Promise<LedgerEntry[]> {
    return Ledger.decode(await this.client.get<KubeObject>(this.ref()));
  }

  ref(): KubeObject {
    return { apiVersion: 'v1', kind: 'Secret', metadata: { name: ledgerName(this.target), namespace: this.target.namespace } };
  }

  static decode(object: KubeObject | undefined): LedgerEntry[] {
    const secret = object as (KubeObject & { data?: Record<string, string> }) | undefined;
    if (!secret?.data?.entries) return [];
    return JSON.parse(unb64(secret.data.entries)) as LedgerEntry[];
  }

  /**
   * Records a finished rollout. Callers hold the target's lock, so the read and the write
   * see no other writer. A Secret rather than a ConfigMap: the credentials Gantry already
   * needs for its record and history are enough.
   */
  async record(entry: LedgerEntry, now: number): Promise<LedgerEntry[]> {
    const all = addEntry(await this.list(), entry, now);
    const secret: KubeObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'gantry.dev/ledger',
      metadata: {
        name: ledgerName(this.target),
        namespace: this.target.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'gantry', 'gantry.dev/app': this.target.app },
      },
      data: { entries: b64(JSON.stringify(all)) },
    };
    const result = await this.client.apply([secret], { fieldManager: 'gantry-state' });
    if (!result.ok) {
      throw new GantryError(`Could not record the outcome of r${entry.revision} in Secret ${ledgerName(this.target)}: ${describeProblems(result.problems)}`, { title: 'Ledger not saved' });
    }
    return all;
  }
}
