// The Prometheus gate: one instant query, its one number held to a CEL condition. The
// honest part is what counts as a number: a query that matches nothing, a NaN (0/0 when
// there were no requests) or several series are inconclusive unless the gate says
// otherwise; Prometheus unreachable, slow or refusing the query is an error. Neither is a pass.
import { systemClock } from '../kube/wait.js';
import { verdictOf, type Gate, type GateContext, type PrometheusEndpoint, type Verdict, type VerdictStatus } from './gate.js';
import { PrometheusApi, PrometheusError } from './prometheus-api.js';
import { CONDITION_ENV, renderTemplate, type PrometheusCheckSpec } from './spec/prometheus.js';

/** `web-canary-[a-z0-9]+-[a-z0-9]+`: the pods of a Deployment, by name, as a PromQL regex (fully anchored there). */
export function podPattern(workload: string): string {
  return `${workload.replace(/[.]/g, '\\\\.')}-[a-z0-9]+-[a-z0-9]+`;
}

/** A duration as PromQL writes it: `10s`, `1m30s`, `500ms`. */
export function promDuration(ms: number): string {
  if (ms % 1000 !== 0) return `${ms}ms`;
  const s = ms / 1000;
  return s >= 60 && s % 60 === 0 ? `${s / 60}m` : `${s}s`;
}

/** The values of a query's template variables at this point of the rollout. */
export function templateValues(ctx: GateContext, intervalMs: number): Record<string, string | undefined> {
  const workloads = ctx.workloads ?? {};
  const canary = workloads.canary ?? workloads.preview;
  const stable = workloads.stable ?? workloads.active;
  return {
    namespace: ctx.namespace,
    service: ctx.services.stable ?? ctx.services.active,
    version: ctx.version,
    canary: canary === undefined ? undefined : podPattern(canary),
    stable: stable === undefined ? undefined : podPattern(stable),
    interval: promDuration(intervalMs),
  };
}

/** The endpoint a gate asks: the configured one, with its credentials, unless the gate names another address (asked without them). */
export function endpointFor(address: string | undefined, ctx: GateContext): PrometheusEndpoint | undefined {
  if (address === undefined || address === ctx.prometheus?.url) return ctx.prometheus ?? (address === undefined ? undefined : { url: address });
  return { url: address };
}

/** A number as a verdict shows it: four significant digits, no exponent for everyday sizes. */
export function showNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  if (n === 0) return '0';
  const abs = Math.abs(n);
  if (abs >= 1e-4 && abs < 1e9) return String(Number(n.toPrecision(4)));
  return n.toPrecision(4);
}

const showLabels = (metric: Record<string, string>): string => `{${Object.entries(metric).filter(([k]) => k !== '__name__').map(([k, v]) => `${k}="${v}"`).join(', ')}}`;

export class PrometheusGate implements Gate {
  constructor(readonly spec: PrometheusCheckSpec, readonly name: string, private readonly intervalMs: number) {}

  get condition(): string {
    return this.spec.condition;
  }

  async measure(ctx: GateContext): Promise<Verdict> {
    const at = (ctx.clock ?? systemClock).now();
    const made = verdictOf(this, at);
    // The one number a query returns: shown, and charted when it is finite.
    const verdict = (status: VerdictStatus, message: string, value?: number, detail?: string): Verdict =>
      made(status, message, {
        detail,
        ...(value === undefined ? {} : { value: showNumber(value) }),
        ...(value !== undefined && Number.isFinite(value) ? { series: { name: this.name, points: [[at, value]] } } : {}),
      });
    const endpoint = endpointFor(this.spec.address, ctx);
    if (!endpoint) return verdict('error', 'no Prometheus to ask: set the prometheus-url input, or address on the gate');
    const query = renderTemplate(this.spec.query, templateValues(ctx, this.intervalMs));
    let result;
    try {
      result = await new PrometheusApi(endpoint).query(query, { timeoutMs: this.spec.timeoutMs, signal: ctx.signal });
    } catch (err) {
      const message = err instanceof PrometheusError ? err.message : `could not query Prometheus: ${(err as Error).message}`;
      return verdict('error', message, undefined, query);
    }
    let value: number;
    if (result.type === 'scalar') value = result.value;
    else if (result.type === 'vector') {
      if (result.series.length === 0) {
        const status: VerdictStatus = this.spec.onEmpty;
        return verdict(status, `the query returned no data${status === 'inconclusive' ? ' (no data is never a pass; on-empty can say otherwise)' : ` (on-empty: ${status})`}`, undefined, query);
      }
      if (result.series.length > 1) {
        const shown = result.series.slice(0, 3).map((s) => showLabels(s.metric)).join(', ');
        return verdict('inconclusive', `the query returned ${result.series.length} series (${shown}${result.series.length > 3 ? ', …' : ''}); it must return one: aggregate with sum() or max()`, undefined, query);
      }
      value = result.series[0]!.value;
    } else {
      return verdict('error', `the query returned a ${result.resultType}; a gate needs a number (a scalar or one series)`, undefined, query);
    }
    if (Number.isNaN(value)) return verdict('inconclusive', 'the query returned NaN (0/0: most likely no requests in the window)', value, query);
    if (!Number.isFinite(value)) return verdict('inconclusive', `the query returned ${showNumber(value)} (a division by zero?)`, value, query);
    let ok: unknown;
    try {
      ok = CONDITION_ENV.evaluate(this.spec.condition, { result: value });
    } catch (err) {
      return verdict('error', `the condition could not be evaluated: ${(err as Error).message.split('\n')[0]}`, value, query);
    }
    return ok === true
      ? verdict('pass', `result ${showNumber(value)}: ${this.spec.condition} holds`, value)
      : verdict('fail', `result ${showNumber(value)}: ${this.spec.condition} does not hold`, value, query);
  }
}

/** `prometheus result < 0.01`: a gate written without a name is named after its condition. */
export const prometheusGateName = (spec: PrometheusCheckSpec): string => `prometheus ${spec.condition}`;
