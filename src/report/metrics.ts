// Delivery metrics of one target, computed from the rollout ledger kept in the cluster
// (kube/ledger.ts), so every run shows them next to its own outcome without any service.
//
// Definitions (also in the README):
// - A *deploy* is a finished rollout of a new revision: every ledger entry except those of
//   the rollback action (entries with `rollbackOf`), which restore an older revision.
// - A deploy *failed* when it was rolled back, aborted or left failed, or when it deployed
//   and the next entry in the ledger is the rollback action undoing it.
// - *Deploys (30 d)*: deploys that finished in the 30 days before now.
// - *Change-failure rate*: failed deploys / deploys, both over those 30 days.
// - *Time to restore* of a failed deploy: from when it began to affect the target (its
//   start; for a deploy undone later, its finish, when it took all the traffic) until the
//   target ran a good version again: the finish of its own rollback or abort, otherwise the
//   finish of the next entry that deployed (a fix, or the rollback action). A failure with
//   no such entry yet is *not restored* and left out of the median.
// - *Median time to restore*: the median over the failed deploys of the 30 days.
// - *Time since the last failure*: from the moment the newest failure in the whole ledger
//   was known (the finish of a failed rollout, the start of the rollback that undid a deploy)
//   until now; "none" when the ledger holds no failure.
import type { LedgerEntry } from '../kube/ledger.js';

export const WINDOW_DAYS = 30;
const WINDOW_MS = WINDOW_DAYS * 24 * 3600_000;

export interface Failure {
  revision: number;
  /** When it began to affect the target (ms). */
  from: number;
  /** When it was known to have failed (ms). */
  knownAt: number;
  /** When a good version ran again (ms); undefined while it has not. */
  restoredAt?: number;
}

export interface DeliveryMetrics {
  deploys: number;
  succeeded: number;
  failed: number;
  /** failed / deploys; undefined without deploys. */
  changeFailureRate?: number;
  /** Undefined when no failure of the window was restored. */
  medianTimeToRestoreMs?: number;
  /** Failures of the window that no later rollout restored yet. */
  unrestored: number;
  /** The newest failure of the whole ledger; undefined when there is none. */
  lastFailure?: Failure;
  /** now − lastFailure.knownAt. */
  sinceLastFailureMs?: number;
}

const time = (iso: string): number => Date.parse(iso);

/** Every failed deploy of the ledger, oldest first. */
export function failures(ledger: LedgerEntry[]): Failure[] {
  const entries = [...ledger].sort((a, b) => time(a.finishedAt) - time(b.finishedAt));
  const out: Failure[] = [];
  entries.forEach((e, i) => {
    if (e.rollbackOf !== undefined) return;
    const later = entries.slice(i + 1);
    const nextDeployed = later.find((n) => n.result === 'deployed');
    if (e.result === 'rolled-back' || e.result === 'aborted') {
      out.push({ revision: e.revision, from: time(e.startedAt), knownAt: time(e.finishedAt), restoredAt: time(e.finishedAt) });
    } else if (e.result === 'failed') {
      out.push({ revision: e.revision, from: time(e.startedAt), knownAt: time(e.finishedAt), restoredAt: nextDeployed ? time(nextDeployed.finishedAt) : undefined });
    } else if (later[0]?.rollbackOf !== undefined) {
      const undo = later[0];
      const restored = undo.result === 'deployed' ? undo : nextDeployed;
      out.push({ revision: e.revision, from: time(e.finishedAt), knownAt: time(undo.startedAt), restoredAt: restored ? time(restored.finishedAt) : undefined });
    }
  });
  return out;
}

export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function deliveryMetrics(ledger: LedgerEntry[], now: number): DeliveryMetrics {
  const since = now - WINDOW_MS;
  const deploys = ledger.filter((e) => e.rollbackOf === undefined && time(e.finishedAt) >= since && time(e.finishedAt) <= now);
  const all = failures(ledger);
  const inWindow = new Set(deploys.map((d) => d.revision));
  const windowFailures = all.filter((f) => inWindow.has(f.revision));
  const restored = windowFailures.filter((f) => f.restoredAt !== undefined);
  const last = [...all].sort((a, b) => a.knownAt - b.knownAt).at(-1);
  return {
    deploys: deploys.length,
    succeeded: deploys.length - windowFailures.length,
    failed: windowFailures.length,
    ...(deploys.length > 0 ? { changeFailureRate: windowFailures.length / deploys.length } : {}),
    ...(restored.length > 0 ? { medianTimeToRestoreMs: median(restored.map((f) => f.restoredAt! - f.from)) } : {}),
    unrestored: windowFailures.length - restored.length,
    ...(last ? { lastFailure: last, sinceLastFailureMs: Math.max(0, now - last.knownAt) } : {}),
  };
}
