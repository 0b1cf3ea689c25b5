// Gate specs as users write them (a step's analysis, pre-/post-promotion, background), checked
// field by field into typed specs before anything runs. Pure: no cluster and no gate code,
// so config/ can validate gates while it parses. Every problem names its exact YAML path.
//
// A gate is a mapping with exactly one kind of check as a key (`http: {...}`) beside the
// fields every kind shares (name, interval, count and the limits). A new kind (job, command,
// prometheus, judge) is one more member of CheckSpec and one more entry in CHECK_PARSERS.
import { Fields, GateSpecError, isMapping, show } from './spec/fields.js';
import { parseCommand, type CommandCheckSpec } from './spec/command.js';
import { parseHttp, type HttpCheckSpec } from './spec/http.js';
import { parseJob, type JobCheckSpec } from './spec/job.js';
import { parseJudge, type JudgeCheckSpec } from './spec/judge.js';
import { parsePrometheus, type PrometheusCheckSpec } from './spec/prometheus.js';

export { GateSpecError } from './spec/fields.js';
export { SERVICE_PLACEHOLDERS } from './spec/http.js';
export type { CommandCheckSpec } from './spec/command.js';
export type { HttpCheckSpec, StatusRange } from './spec/http.js';
export type { JobCheckSpec } from './spec/job.js';
export type { JudgeCheckSpec, JudgeMetric } from './spec/judge.js';
export type { PrometheusCheckSpec } from './spec/prometheus.js';

/** One kind of check per gate. */
export type CheckSpec = HttpCheckSpec | PrometheusCheckSpec | JudgeCheckSpec | JobCheckSpec | CommandCheckSpec;
export type CheckKind = CheckSpec['kind'];

export interface GateSpec {
  /** As written; when absent the gate is named after its target once placeholders are known. */
  name?: string;
  /** Where it was written, e.g. `steps[2].analysis[0]`. */
  path: string;
  check: CheckSpec;
  /** Before the first measurement, e.g. for metrics to gather: rates need a window of samples. */
  initialDelayMs: number;
  /** Between measurements (and between the tries of a measurement that errored). */
  intervalMs: number;
  /** Measurements that count; a background gate repeats until stopped instead. */
  count: number;
  /** Failed measurements tolerated; one more fails the gate. */
  failureLimit: number;
  /** Inconclusive measurements tolerated; one more fails the gate. */
  inconclusiveLimit: number;
  /** Errors in a row tolerated (each is tried again after `interval`); one more fails the gate. */
  consecutiveErrorLimit: number;
}

/**
 * The defaults, chosen so that a clearly broken version is caught within 30 s: the first
 * failed measurement fails the gate, and a target that cannot be measured at all fails it
 * after 5 tries 5 s apart (20 s).
 */
export const GATE_DEFAULTS = {
  initialDelayMs: 0,
  intervalMs: 5_000,
  count: 1,
  failureLimit: 0,
  inconclusiveLimit: 0,
  consecutiveErrorLimit: 4,
} as const;

/** A shorter interval would have background gates hammer the API server. */
const MIN_INTERVAL_MS = 100;

const COMMON_FIELDS = ['name', 'initial-delay', 'interval', 'count', 'failure-limit', 'inconclusive-limit', 'consecutive-error-limit'] as const;

type CheckParser = (fields: Fields) => CheckSpec | undefined;

/** The kinds of check, each a sibling key of a gate. */
const CHECK_PARSERS: Record<CheckKind, CheckParser> = {
  http: parseHttp,
  prometheus: parsePrometheus,
  judge: parseJudge,
  job: parseJob,
  command: parseCommand,
};

export const CHECK_KINDS = Object.keys(CHECK_PARSERS) as CheckKind[];

/**
 * Parses a list of gates, already read from YAML or JSON, written at `path` (e.g.
 * `steps[2].analysis` or `pre-promotion-analysis`). Returns the gates that are valid and a
 * problem for every bad field, so a user fixes them all at once.
 */
export function parseGateSpecs(value: unknown, path: string): { specs: GateSpec[]; errors: GateSpecError[] } {
  const errors: GateSpecError[] = [];
  if (value === undefined || value === null) return { specs: [], errors };
  if (!Array.isArray(value)) {
    errors.push(new GateSpecError(path, `must be a list of gates, got ${show(value)}`, 'e.g. - http: {service: "${preview}", port: 80, path: /healthz}'));
    return { specs: [], errors };
  }
  const specs: GateSpec[] = [];
  const names = new Map<string, string>();
  value.forEach((item, i) => {
    const before = errors.length;
    const spec = parseGate(item, `${path}[${i}]`, errors);
    if (spec?.name !== undefined) {
      const first = names.get(spec.name);
      if (first !== undefined) errors.push(new GateSpecError(`${path}[${i}].name`, `"${spec.name}" is also the name of ${first}; each gate's lines and verdicts go by its name`));
      else names.set(spec.name, `${path}[${i}]`);
    }
    if (spec && errors.length === before) specs.push(spec);
  });
  return { specs, errors };
}

function parseGate(item: unknown, path: string, errors: GateSpecError[]): GateSpec | undefined {
  if (!isMapping(item)) {
    errors.push(new GateSpecError(path, `must be a mapping such as {http: {...}}, got ${show(item)}`));
    return undefined;
  }
  const f = new Fields(item, path, errors);
  const unknown = f.onlyKnown([...COMMON_FIELDS, ...CHECK_KINDS], 'a gate');
  const kinds = CHECK_KINDS.filter((k) => f.has(k));
  let check: CheckSpec | undefined;
  if (kinds.length === 1) {
    const kind = kinds[0]!;
    const body = item[kind];
    if (isMapping(body)) check = CHECK_PARSERS[kind](new Fields(body, f.at(kind), errors));
    else f.problem(kind, `must be a mapping of ${kind} fields, got ${show(body)}`);
  } else if (kinds.length > 1) {
    f.problem(undefined, `has ${kinds.join(' and ')}; a gate has exactly one kind of check`);
  } else if (unknown === 0) {
    // With an unknown key, that key is most likely the check (misspelt, or a kind not built yet), already reported.
    f.problem(undefined, `has no check; give one of ${CHECK_KINDS.join(', ')}`);
  }
  const name = f.string('name');
  const spec: Omit<GateSpec, 'check'> = {
    name,
    path,
    initialDelayMs: f.duration('initial-delay', GATE_DEFAULTS.initialDelayMs, 0),
    intervalMs: f.duration('interval', GATE_DEFAULTS.intervalMs, MIN_INTERVAL_MS),
    count: f.wholeNumber('count', GATE_DEFAULTS.count, 1),
    failureLimit: f.wholeNumber('failure-limit', GATE_DEFAULTS.failureLimit, 0),
    inconclusiveLimit: f.wholeNumber('inconclusive-limit', GATE_DEFAULTS.inconclusiveLimit, 0),
    consecutiveErrorLimit: f.wholeNumber('consecutive-error-limit', GATE_DEFAULTS.consecutiveErrorLimit, 0),
  };
  return check ? { ...spec, check } : undefined;
}

