// The prometheus check as users write it: a PromQL query with template variables and a
// condition over its one number, `result`. Both are checked here, before anything runs: the
// query's variables must be known, and the condition must be a CEL expression that
// type-checks to a bool. Pure: parsing only; the gate that asks is checks/prometheus.ts.
import { Environment } from '@marcbachmann/cel-js';
import { Fields, show } from './fields.js';

/**
 * The variables a query may use, filled in when it runs:
 * - `{{namespace}}`: the target namespace;
 * - `{{service}}`: the app's Service (stable/active);
 * - `{{version}}`: the version being rolled out (the app container's image tag, or its digest);
 * - `{{canary}}` and `{{stable}}`: regular expressions matching the pod names of the new and
 *   the old version, for `pod=~"{{canary}}"` (a Deployment's pods are `<name>-<hash>-<id>`);
 * - `{{interval}}`: the gate's interval as a PromQL duration (`10s`), for `rate(...[{{interval}}])`.
 * The judge adds `{{pods}}`: the pods of the side being sampled.
 */
export const QUERY_VARIABLES = ['namespace', 'service', 'version', 'canary', 'stable', 'interval'] as const;
export const JUDGE_VARIABLES = [...QUERY_VARIABLES, 'pods'] as const;

export type OnEmpty = 'inconclusive' | 'pass' | 'fail';

export interface PrometheusCheckSpec {
  kind: 'prometheus';
  /** The Prometheus base URL; default the `prometheus-url` setting. */
  address?: string;
  query: string;
  /** CEL over `result` (a double), e.g. `result < 0.01`. */
  condition: string;
  /** What a query that returns nothing means; default inconclusive, since no data is never a pass. */
  onEmpty: OnEmpty;
  timeoutMs: number;
}

const PROMETHEUS_FIELDS = ['address', 'query', 'condition', 'on-empty', 'timeout'] as const;

/** The one CEL environment conditions are checked and run in: `result` is a double, nothing else exists. */
export const CONDITION_ENV = new Environment().registerVariable('result', 'double');

/** `{{name}}` occurrences that are not among `allowed`. */
export function unknownVariables(template: string, allowed: readonly string[]): string[] {
  return [...template.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)].map((m) => m[1]!).filter((v) => !allowed.includes(v));
}

/** Fills `{{name}}` from `values`; a name without a value stays as written, so Prometheus rejects the query visibly. */
export function renderTemplate(template: string, values: Record<string, string | undefined>): string {
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (whole, name: string) => values[name] ?? whole);
}

/** A query: present, and using only known variables. */
export function parseQuery(f: Fields, key: string, allowed: readonly string[]): string | undefined {
  if (!f.has(key)) {
    f.problem(key, 'is required: a PromQL query');
    return undefined;
  }
  const query = f.string(key);
  if (query === undefined) return undefined;
  const unknown = unknownVariables(query, allowed);
  if (unknown.length > 0) {
    f.problem(key, `uses {{${unknown[0]}}}; the variables are ${allowed.map((v) => `{{${v}}}`).join(', ')}`);
    return undefined;
  }
  return query;
}

/** An http(s) URL. */
export function parseAddress(f: Fields, key: string): string | undefined {
  const address = f.string(key);
  if (address === undefined) return undefined;
  try {
    const url = new URL(address);
    if (url.protocol === 'http:' || url.protocol === 'https:') return address.replace(/\/+$/, '');
  } catch {
    // reported below
  }
  f.problem(key, `must be an http(s) URL such as http://prometheus.monitoring:9090, got ${show(address)}`);
  return undefined;
}

/** A CEL condition over `result` that type-checks to a bool. */
function parseCondition(f: Fields): string | undefined {
  if (!f.has('condition')) {
    f.problem('condition', 'is required: a CEL expression over result, e.g. result < 0.01');
    return undefined;
  }
  const condition = f.string('condition');
  if (condition === undefined) return undefined;
  let checked: { valid: boolean; type?: string; error?: { message?: string } };
  try {
    checked = CONDITION_ENV.check(condition) as typeof checked;
  } catch (err) {
    checked = { valid: false, error: { message: (err as Error).message } };
  }
  if (!checked.valid) {
    const why = (checked.error?.message ?? 'invalid').split('\n')[0]!;
    f.problem('condition', `is not a valid condition: ${why}`, /overload/.test(why) ? 'result is a double: write numbers with a decimal point (100.0), as CEL does not mix int and double in arithmetic' : 'a CEL expression over result, e.g. result < 0.01 or result >= 0.99');
    return undefined;
  }
  if (checked.type !== 'bool') {
    f.problem('condition', `must be true or false, but ${show(condition)} is a ${checked.type}`, 'compare result with something, e.g. result < 0.01');
    return undefined;
  }
  return condition;
}

export function parsePrometheus(f: Fields): PrometheusCheckSpec | undefined {
  f.onlyKnown(PROMETHEUS_FIELDS, 'a prometheus');
  const address = parseAddress(f, 'address');
  const query = parseQuery(f, 'query', QUERY_VARIABLES);
  const condition = parseCondition(f);
  let onEmpty: OnEmpty = 'inconclusive';
  if (f.has('on-empty')) {
    const v = f.value['on-empty'];
    if (v === 'inconclusive' || v === 'pass' || v === 'fail') onEmpty = v;
    else f.problem('on-empty', `must be inconclusive, pass or fail, got ${show(v)}`);
  }
  const timeoutMs = f.duration('timeout', 10_000, 100);
  if (query === undefined || condition === undefined) return undefined;
  return { kind: 'prometheus', ...(address === undefined ? {} : { address }), query, condition, onEmpty, timeoutMs };
}
