// The judge: canary against stable over the same window, metric by metric, with the
// Mann-Whitney U test and a bound on the effect, weighed into a score from 0 to 100. With
// `duration: auto` it decides how long to look: it samples until each metric has enough
// samples to see the configured effect at the configured power, or until a critical
// metric has already failed beyond doubt, and says at `max` that it could not tell rather
// than pass. Samples come from Prometheus range queries, one series per side.
import { sleepUnless, systemClock } from '../kube/wait.js';
import { verdictOf, type Gate, type GateContext, type Verdict, type VerdictStatus } from './gate.js';
import { PrometheusApi, PrometheusError } from './prometheus-api.js';
import { endpointFor, podPattern, showNumber, templateValues } from './prometheus.js';
import type { JudgeCheckSpec, JudgeMetric } from './spec/judge.js';
import { renderTemplate } from './spec/prometheus.js';
import { achievedPower, effectIndex, mannWhitney, mean, ratioOfMeans, requiredPerSide } from './stats.js';

export interface Samples {
  canary: number[];
  stable: number[];
}

/** Samples as Prometheus returned them: [ms since epoch, value]. */
interface TimedSamples {
  canary: Array<[number, number]>;
  stable: Array<[number, number]>;
}

/** The metric a verdict charts: the first critical one, which can fail the judge alone, else the first. */
const keyMetric = (spec: JudgeCheckSpec): JudgeMetric => spec.metrics.find((m) => m.critical) ?? spec.metrics[0]!;

export type MetricState = 'pass' | 'fail' | 'pending';

export interface MetricJudgement {
  metric: JudgeMetric;
  state: MetricState;
  n: { canary: number; stable: number };
  /** Samples per side that the configured effect needs at the configured power. */
  needed: number;
  power: number;
  p?: number;
  ratio?: number;
  /** `p95 latency: canary 212 ms vs stable 48 ms (U p=0.001, ×4.4) → fail`. */
  line: string;
}

export interface Judgement {
  /** Every metric decided: passed or failed, none waiting for samples. */
  decided: boolean;
  /** A critical metric failed so clearly that more samples cannot change it. */
  certain: boolean;
  score: number;
  status: VerdictStatus;
  metrics: MetricJudgement[];
}

/** Stopping early on a failure takes a p this many times below alpha, against the chance of a fluke among repeated looks. */
const EARLY_FACTOR = 10;

const showValue = (v: number, unit: string): string => `${showNumber(v)}${unit === '' ? '' : unit === '%' ? '%' : ` ${unit}`}`;
const showP = (p: number): string => (p < 0.001 ? p.toExponential(0) : String(Number(p.toPrecision(2))));
const showRatio = (r: number): string => (Number.isFinite(r) ? `×${r.toPrecision(2)}` : '×∞');

/** One metric's verdict on its samples so far. */
export function judgeMetric(metric: JudgeMetric, samples: Samples, spec: Pick<JudgeCheckSpec, 'alpha' | 'power' | 'minSamples'>): MetricJudgement {
  const canary = samples.canary.filter(Number.isFinite);
  const stable = samples.stable.filter(Number.isFinite);
  const n = { canary: canary.length, stable: stable.length };
  const index = effectIndex(stable, metric.effect);
  const needed = Math.max(spec.minSamples, requiredPerSide(index, spec.alpha, spec.power, metric.direction));
  const base = { metric, n, needed };
  if (n.canary < spec.minSamples || n.stable < spec.minSamples) {
    return { ...base, state: 'pending', power: 0, line: `${metric.name}: ${n.canary} canary and ${n.stable} stable samples, judging from ${spec.minSamples} each → waiting` };
  }
  const test = mannWhitney(canary, stable, metric.direction);
  const ratio = ratioOfMeans(canary, stable);
  const worse = metric.direction === 'increase' ? ratio >= metric.effect : metric.direction === 'decrease' ? ratio <= 1 / metric.effect : ratio >= metric.effect || ratio <= 1 / metric.effect;
  const power = achievedPower(index, n.canary, n.stable, spec.alpha, metric.direction);
  const compared = `${metric.name}: canary ${showValue(mean(canary), metric.unit)} vs stable ${showValue(mean(stable), metric.unit)} (U p=${showP(test.p)}, ${showRatio(ratio)})`;
  if (test.p < spec.alpha && worse) return { ...base, state: 'fail', power, p: test.p, ratio, line: `${compared} → fail` };
  // Both sides the same constant (0 errors throughout): measured, and no difference.
  const constant = new Set([...canary, ...stable]).size === 1;
  if (constant || power >= spec.power) return { ...base, state: 'pass', power: constant ? 1 : power, p: test.p, ratio, line: `${compared} → pass` };
  const short = n.canary < needed || n.stable < needed ? `needs ${Number.isFinite(needed) ? needed : 'unboundedly many'} samples per side` : 'needs more samples';
  return { ...base, state: 'pending', power, p: test.p, ratio, line: `${compared} → ${short} (power ${power.toFixed(2)} of ${spec.power})` };
}

/** The metrics weighed into one score, and the verdict it gives once they are decided. */
export function judge(spec: JudgeCheckSpec, samples: Map<string, Samples>): Judgement {
  const metrics = spec.metrics.map((m) => judgeMetric(m, samples.get(m.name) ?? { canary: [], stable: [] }, spec));
  const total = spec.metrics.reduce((s, m) => s + m.weight, 0);
  const passed = metrics.filter((m) => m.state === 'pass').reduce((s, m) => s + m.metric.weight, 0);
  const criticalFail = metrics.some((m) => m.state === 'fail' && m.metric.critical);
  const score = criticalFail ? 0 : Math.round((100 * passed) / total);
  const decided = metrics.every((m) => m.state !== 'pending');
  const certain = metrics.some((m) => m.state === 'fail' && m.metric.critical && (m.p ?? 1) < spec.alpha / EARLY_FACTOR);
  const status: VerdictStatus = criticalFail || certain ? 'fail'
    : !decided ? 'inconclusive'
    : score >= spec.passScore ? 'pass'
    : score >= spec.marginalScore ? 'inconclusive'
    : 'fail';
  return { decided, certain, score, status, metrics };
}

export class JudgeGate implements Gate {
  /** Range queries made, for the note on how often an analysis asks. */
  queries = 0;

  constructor(readonly spec: JudgeCheckSpec, readonly name: string = 'judge') {}

  get condition(): string {
    const s = this.spec;
    return `score >= ${s.passScore} (marginal ${s.marginalScore}), U test at alpha ${s.alpha}${s.durationMs === undefined ? `, looking ${s.minMs / 1000}-${s.maxMs / 1000}s until power ${s.power}` : `, looking ${s.durationMs / 1000}s`}`;
  }

  async measure(ctx: GateContext): Promise<Verdict> {
    const clock = ctx.clock ?? systemClock;
    const start = clock.now();
    const verdict = verdictOf(this, clock);
    const endpoint = endpointFor(this.spec.address, ctx);
    if (!endpoint) return verdict('error', 'no Prometheus to ask: set the prometheus-url input, or address on the judge');
    const workloads = ctx.workloads ?? {};
    const sides = { canary: workloads.canary ?? workloads.preview, stable: workloads.stable ?? workloads.active };
    if (sides.canary === undefined || sides.stable === undefined || sides.canary === sides.stable) {
      return verdict('error', 'the judge needs a canary and a stable version running side by side; at this point of the rollout there is one version');
    }
    const api = new PrometheusApi(endpoint);
    const fixed = this.spec.durationMs;
    const firstLook = start + (fixed ?? this.spec.minMs);
    const end = start + (fixed ?? this.spec.maxMs);
    const stop = new Promise<void>((resolve) => ctx.signal?.addEventListener('abort', () => resolve(), { once: true }));
    let next = firstLook;
    for (;;) {
      while (clock.now() < next) {
        if (ctx.signal?.aborted) return verdict('error', 'stopped before the judge could decide');
        await sleepUnless(clock, next - clock.now(), stop);
      }
      if (ctx.signal?.aborted) return verdict('error', 'stopped before the judge could decide');
      let timed: Map<string, TimedSamples>;
      try {
        timed = await this.sample(api, ctx, { canary: sides.canary, stable: sides.stable }, start, clock.now());
      } catch (err) {
        return verdict(err instanceof JudgeQueryError ? 'inconclusive' : 'error', (err as Error).message);
      }
      const samples = new Map([...timed].map(([name, t]) => [name, { canary: t.canary.map(([, v]) => v), stable: t.stable.map(([, v]) => v) }]));
      const j = judge(this.spec, samples);
      const elapsed = Math.round((clock.now() - start) / 1000);
      const n = Math.min(...j.metrics.map((m) => Math.min(m.n.canary, m.n.stable)));
      const power = Math.min(...j.metrics.map((m) => m.power));
      const atEnd = fixed !== undefined || clock.now() >= end;
      ctx.log?.(`gate ${this.name}: ${elapsed}s of looking, ${j.metrics.map((m) => m.line).join('; ')}`);
      if (j.certain || j.decided || atEnd) {
        const lines = j.metrics.map((m) => m.line);
        const used = `${n} samples per side in ${elapsed}s, power ${power.toFixed(2)}`;
        const pending = j.status === 'inconclusive' && !j.decided;
        const why = pending ? `${fixed === undefined ? `reached max ${this.spec.maxMs / 1000}s` : `after ${fixed / 1000}s`} without enough samples (no data is never a pass): ${lines.filter((_, i) => j.metrics[i]!.state === 'pending').join('; ')}`
          : !j.decided ? `decided early: ${lines.filter((_, i) => j.metrics[i]!.state === 'fail').join('; ')}`
          : lines.join('; ');
        const status = j.status;
        const scored = pending ? '' : `score ${j.score}/100, `;
        const key = keyMetric(this.spec);
        const finite = (points: Array<[number, number]> = []): Array<[number, number]> => points.filter(([, v]) => Number.isFinite(v));
        const series = { name: key.name, unit: key.unit, points: finite(timed.get(key.name)?.canary), stable: finite(timed.get(key.name)?.stable) };
        return { ...verdict(status, `${scored}${why} (${used})`, { value: pending ? undefined : String(j.score), detail: lines.join('\n') }), series };
      }
      next = Math.min(end, clock.now() + this.spec.stepMs);
    }
  }

  /** Each metric's samples on each side since `start`. */
  private async sample(api: PrometheusApi, ctx: GateContext, sides: { canary: string; stable: string }, start: number, now: number): Promise<Map<string, TimedSamples>> {
    const out = new Map<string, TimedSamples>();
    const values = templateValues(ctx, this.spec.stepMs);
    await Promise.all(this.spec.metrics.map(async (metric) => {
      const [canary, stable] = await Promise.all((['canary', 'stable'] as const).map(async (side) => {
        const query = renderTemplate(metric.query, { ...values, pods: podPattern(sides[side]) });
        this.queries++;
        let series;
        try {
          series = await api.queryRange(query, start, now, this.spec.stepMs, { timeoutMs: this.spec.timeoutMs, signal: ctx.signal });
        } catch (err) {
          if (err instanceof PrometheusError) throw new Error(`${metric.name}, ${side}: ${err.message}`);
          throw err;
        }
        if (series.length > 1) throw new JudgeQueryError(`${metric.name}: the ${side} query returned ${series.length} series; it must return one per side: aggregate with sum() or max()`);
        return series[0]?.values ?? [];
      }));
      out.set(metric.name, { canary: canary!, stable: stable! });
    }));
    return out;
  }
}

/** The query itself cannot be judged (several series): inconclusive, like the Prometheus gate. */
class JudgeQueryError extends Error {}
