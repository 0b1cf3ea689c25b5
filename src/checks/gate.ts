// Gates: the one interface every health judgement goes through. A gate measures and says
// pass, fail, inconclusive or error with the value, the condition and one line of
// explanation. Gates judge; they never steer (the strategy turns a failed verdict into an abort).
import type { KubeClient } from '../kube/client.js';
import type { Clock } from '../kube/wait.js';
import type { CommandRunner } from '../shared/process.js';

export type VerdictStatus = 'pass' | 'fail' | 'inconclusive' | 'error';

export interface Verdict {
  gate: string;
  status: VerdictStatus;
  /** What was measured, as shown to people, e.g. "503" or "0.12". Undefined when nothing could be measured. */
  value?: string;
  /** The condition it was held to, e.g. "status == 200". */
  condition: string;
  /** One line: why this verdict. */
  message: string;
  /** Longer evidence kept with the verdict, e.g. a Job's log or a command's output (its tail). */
  detail?: string;
  /** When it was taken (ms since epoch). */
  at: number;
  /** The number behind the verdict over time, from gates that measure a metric (prometheus, judge): the summary charts it. */
  series?: MeasuredSeries;
}

/** A metric as a gate saw it: [ms since epoch, value] pairs. */
export interface MeasuredSeries {
  name: string;
  unit?: string;
  /** The side judged: the canary for a judge, the query's one number for a prometheus gate. */
  points: Array<[number, number]>;
  /** The judge's baseline over the same window. */
  stable?: Array<[number, number]>;
}

export interface GateContext {
  client: KubeClient;
  namespace: string;
  /** Names the strategy fills in: the preview/canary/active Service a gate may refer to as ${preview}, ${canary}, ${active}, ${stable}. */
  services: Record<string, string>;
  /** The Deployments behind the same roles, for gates that pick pods (PromQL's \`pod\` label, a Job's target). */
  workloads?: Record<string, string>;
  /** The version being rolled out: the app container's image tag, or its digest. */
  version?: string;
  /** Where Prometheus gates and the judge ask when a gate names no address of its own. */
  prometheus?: PrometheusEndpoint;
  /** Runs the command gate's processes (default the real one); tests pass a fake. */
  runner?: CommandRunner;
  /** The directory the command gate runs in (default the working directory): the checkout. */
  workspace?: string;
  /** Where a gate that looks for long says how it is going (the run's log). */
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Time for verdicts and for gates that wait (default the system clock); tests pass a fake one. */
  clock?: Clock;
}

export interface Gate {
  readonly name: string;
  measure(ctx: GateContext): Promise<Verdict>;
}

/** A Prometheus HTTP API and how to authenticate to it. */
export interface PrometheusEndpoint {
  /** The base URL, e.g. http://prometheus.monitoring:9090 (the API is under /api/v1). */
  url: string;
  bearerToken?: string;
  username?: string;
  password?: string;
}

/** What a verdict may carry besides its status and message. */
export interface VerdictEvidence {
  value?: string;
  detail?: string;
  series?: MeasuredSeries;
}

/**
 * The one way gates build verdicts: the gate's name and condition and the time (`at`, or the
 * clock's now at each call) filled in, empty evidence left out.
 */
export function verdictOf(gate: { readonly name: string; readonly condition: string }, at: number | { now(): number }) {
  return (status: VerdictStatus, message: string, evidence: VerdictEvidence = {}): Verdict => ({
    gate: gate.name,
    status,
    condition: gate.condition,
    message,
    at: typeof at === 'number' ? at : at.now(),
    ...(evidence.value === undefined ? {} : { value: evidence.value }),
    ...(evidence.detail ? { detail: evidence.detail } : {}),
    ...(evidence.series ? { series: evidence.series } : {}),
  });
}
