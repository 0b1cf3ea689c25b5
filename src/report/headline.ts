// The one line that says what a rollout came to and why: the job summary's first line, a
// GitHub deployment status's description and the webhook message all start with it.
import type { Command } from '../config/deploy.js';
import type { Target } from '../shared/target.js';
import type { RolloutOutcome } from '../strategies/basic.js';

/** Where a paused canary waits: after `step` of `steps` steps, with `weight` % of traffic on it. */
export interface PausedAt {
  step: number;
  steps: number;
  weight: number;
}

export interface HeadlineContext {
  /** The command that produced the outcome; a promote's success reads "Promoted". Default deploy. */
  command?: Command;
  pausedAt?: PausedAt;
  /** rollback: the revision that was restored. */
  restored?: number;
}

/** Longest reason kept on the line; the full one is in the log and the summary. */
const REASON_LIMIT = 300;

export function headline(outcome: RolloutOutcome, target: Target, context: HeadlineContext = {}): string {
  const r = outcome.revision === undefined ? '' : ` r${outcome.revision}`;
  const why = firstLine(outcome.reason);
  switch (outcome.result) {
    case 'deployed':
      return context.command === 'promote' ? `Promoted${r}` : `Deployed${r}`;
    case 'paused': {
      const at = context.pausedAt;
      return at ? `Paused at step ${at.step}/${at.steps} with ${at.weight} % — awaiting promote` : `Paused${r} — awaiting promote`;
    }
    case 'rolled-back':
      // An on-demand rollback is a success with nothing to explain; a failed rollout's is all about why.
      if (context.command === 'rollback') return `Rolled back ${target.namespace}/${target.app} to ${context.restored === undefined ? 'the last good revision' : `r${context.restored}`}${r ? ` (now${r})` : ''}`;
      return `Rolled back: ${why ?? 'the rollout failed'}`;
    case 'aborted':
      return `Aborted${r}${why && !why.startsWith('aborted by') ? `: ${why}` : ''}`;
    case 'failed':
      return `Failed: ${why ?? 'unknown reason'}`;
  }
}

function firstLine(text: string | undefined): string | undefined {
  const found = text?.split('\n').find((l) => l.trim() !== '')?.trim();
  if (!found) return undefined;
  const line = gist(found);
  return line.length > REASON_LIMIT ? `${line.slice(0, REASON_LIMIT - 1)}…` : line;
}

/**
 * A gate's failure as a person reads it first: which gate, and what it measured. The run
 * loop's bookkeeping (where the gate ran, its limits, the judge's score and sample counts)
 * stays in the full reason below. `step 2/2 analysis failed: gate judge: 1 failed
 * measurement, failure-limit 0: score 0/100, p95 latency: canary 212 ms vs stable 48 ms (U
 * p=0.001, ×4.4) → fail (8 samples per side in 20s, power 0.98)` reads `judge: p95 latency:
 * canary 212 ms vs stable 48 ms (U p=0.001, ×4.4)`.
 */
export function gist(reason: string): string {
  const gate = /^(?:(?:step \d+\/\d+|background|pre-promotion|post-promotion) )?analysis failed: gate ([^:]+): (?:\d+ (?:failed|inconclusive) measurements?, (?:failure|inconclusive)-limit \d+: |\d+ errors? in a row, consecutive-error-limit \d+: )?(.*)$/.exec(reason);
  if (!gate) return reason;
  const [, name, said] = gate as unknown as [string, string, string];
  const measured = said.replace(/^score \d+\/100, /, '').replace(/ → fail \(\d+ samples per side[^)]*\)$/, '').replace(/ → fail(?=;|$)/g, '');
  return `${name}: ${measured}`;
}
