// The judge as users write it: metrics (each a PromQL query sampled once per side), which way
// each gets worse and by how much it matters, and how long to look: a fixed duration, or
// `auto`, which looks between `min` and `max` until the samples suffice. Pure: parsing only;
// the judge itself is checks/judge.ts, its statistics checks/stats.ts.
import type { Direction } from '../stats.js';
import { Fields, isMapping, show, type GateSpecError } from './fields.js';
import { JUDGE_VARIABLES, parseAddress, parseQuery } from './prometheus.js';

export interface JudgeMetric {
  name: string;
  /** Sampled once per side, with `{{pods}}` the side's pods; it must return one series. */
  query: string;
  direction: Direction;
  /** The ratio of means that matters, ≥ 1: with `increase` and 1.2, a canary 20 % higher fails when the difference is significant. */
  effect: number;
  weight: number;
  /** A critical metric that fails fails the judge, whatever the score. */
  critical: boolean;
  /** Shown after values, e.g. `ms`. */
  unit: string;
}

export interface JudgeCheckSpec {
  kind: 'judge';
  address?: string;
  metrics: JudgeMetric[];
  /** A fixed look, or undefined for `auto`. */
  durationMs?: number;
  /** auto: the shortest and the longest look. */
  minMs: number;
  maxMs: number;
  /** The resolution of the samples; at least the scrape interval, or samples repeat. */
  stepMs: number;
  /** The level of the U test. */
  alpha: number;
  /** The chance of catching the configured effect that `auto` waits for. */
  power: number;
  /** Samples per side below which nothing is judged. */
  minSamples: number;
  /** Score thresholds (0..100): at least `pass` passes, at least `marginal` is inconclusive, below fails. */
  passScore: number;
  marginalScore: number;
  timeoutMs: number;
}

const JUDGE_FIELDS = ['address', 'metrics', 'duration', 'min', 'max', 'step', 'alpha', 'power', 'min-samples', 'pass', 'marginal', 'timeout'] as const;
const METRIC_FIELDS = ['name', 'query', 'direction', 'effect', 'weight', 'critical', 'unit'] as const;
const DIRECTIONS: readonly Direction[] = ['increase', 'decrease', 'either'];

export const JUDGE_DEFAULTS = {
  minMs: 30_000,
  maxMs: 300_000,
  stepMs: 5_000,
  alpha: 0.05,
  power: 0.8,
  minSamples: 8,
  passScore: 90,
  marginalScore: 75,
  effect: 1.2,
} as const;

/** A number in [min, max]. */
function fraction(f: Fields, key: string, fallback: number, min: number, max: number, exclusive = false): number {
  if (!f.has(key)) return fallback;
  const v = f.value[key];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  const inside = exclusive ? n > min && n < max : n >= min && n <= max;
  if (!Number.isFinite(n) || !inside) {
    f.problem(key, `must be a number ${exclusive ? 'between' : 'from'} ${min} ${exclusive ? 'and' : 'to'} ${max}${exclusive ? ' (exclusive)' : ''}, got ${show(v)}`);
    return fallback;
  }
  return n;
}

function parseMetric(item: unknown, path: string, errors: GateSpecError[], names: Set<string>): JudgeMetric | undefined {
  const before = errors.length;
  const f = new Fields(isMapping(item) ? item : {}, path, errors);
  if (!isMapping(item)) {
    f.problem(undefined, `must be a mapping {name, query, direction, ...}, got ${show(item)}`);
    return undefined;
  }
  f.onlyKnown(METRIC_FIELDS, 'a judge metric');
  const name = f.string('name');
  if (!f.has('name')) f.problem('name', 'is required: the metric as verdicts name it, e.g. p95 latency');
  else if (name !== undefined && names.has(name)) f.problem('name', `"${name}" names another metric too`);
  if (name !== undefined) names.add(name);
  const query = parseQuery(f, 'query', JUDGE_VARIABLES);
  if (query !== undefined && !/\{\{\s*pods\s*\}\}/.test(query)) {
    f.problem('query', 'does not use {{pods}}: the judge runs it once per side, and {{pods}} selects the side', 'e.g. ...{namespace="{{namespace}}", pod=~"{{pods}}"}...');
  }
  let direction: Direction = 'increase';
  if (f.has('direction')) {
    const v = f.value.direction;
    if ((DIRECTIONS as readonly unknown[]).includes(v)) direction = v as Direction;
    else f.problem('direction', `must be increase, decrease or either (the way the metric gets worse), got ${show(v)}`);
  }
  const effect = fraction(f, 'effect', JUDGE_DEFAULTS.effect, 1, 1000);
  const weight = fraction(f, 'weight', 1, 0, 1000);
  let critical = false;
  if (f.has('critical')) {
    if (typeof f.value.critical === 'boolean') critical = f.value.critical;
    else f.problem('critical', `must be true or false, got ${show(f.value.critical)}`);
  }
  const unit = f.has('unit') ? (typeof f.value.unit === 'string' ? f.value.unit : (f.problem('unit', `must be a string, got ${show(f.value.unit)}`), '')) : '';
  if (errors.length > before || name === undefined || query === undefined) return undefined;
  return { name, query, direction, effect, weight, critical, unit };
}

export function parseJudge(f: Fields): JudgeCheckSpec | undefined {
  const before = f.errors.length;
  f.onlyKnown(JUDGE_FIELDS, 'a judge');
  const address = parseAddress(f, 'address');
  const metrics: JudgeMetric[] = [];
  const raw = f.value.metrics;
  if (!Array.isArray(raw) || raw.length === 0) {
    f.problem('metrics', `must be a list of at least one metric, got ${show(raw)}`, 'e.g. - {name: p95 latency, query: "...pod=~\\"{{pods}}\\"...", direction: increase, effect: 1.2}');
  } else {
    const names = new Set<string>();
    raw.forEach((item, i) => {
      const m = parseMetric(item, f.at(`metrics[${i}]`), f.errors, names);
      if (m) metrics.push(m);
    });
    if (metrics.length > 0 && metrics.every((m) => m.weight === 0)) f.problem('metrics', 'every metric has weight 0: the score would mean nothing');
  }
  let durationMs: number | undefined;
  if (f.has('duration') && f.value.duration !== 'auto') durationMs = f.duration('duration', 60_000, 1_000);
  const minMs = f.duration('min', JUDGE_DEFAULTS.minMs, 0);
  const maxMs = f.duration('max', JUDGE_DEFAULTS.maxMs, 1_000);
  if (durationMs !== undefined && (f.has('min') || f.has('max'))) f.problem(f.has('min') ? 'min' : 'max', 'only goes with duration: auto (a fixed duration looks exactly that long)');
  if (durationMs === undefined && minMs > maxMs) f.problem('min', `is longer than max (${show(f.value.min)} > ${show(f.value.max ?? '5m')})`);
  const stepMs = f.duration('step', JUDGE_DEFAULTS.stepMs, 1_000);
  const alpha = fraction(f, 'alpha', JUDGE_DEFAULTS.alpha, 0, 0.5, true);
  const power = fraction(f, 'power', JUDGE_DEFAULTS.power, 0.5, 1, true);
  const minSamples = f.wholeNumber('min-samples', JUDGE_DEFAULTS.minSamples, 3, 10_000);
  const passScore = fraction(f, 'pass', JUDGE_DEFAULTS.passScore, 0, 100);
  const marginalScore = fraction(f, 'marginal', JUDGE_DEFAULTS.marginalScore, 0, 100);
  if (marginalScore > passScore) f.problem('marginal', `is above pass (${marginalScore} > ${passScore})`);
  const timeoutMs = f.duration('timeout', 10_000, 100);
  if (f.errors.length > before) return undefined;
  return {
    kind: 'judge', ...(address === undefined ? {} : { address }), metrics,
    ...(durationMs === undefined ? {} : { durationMs }),
    minMs, maxMs, stepMs, alpha, power, minSamples, passScore, marginalScore, timeoutMs,
  };
}
