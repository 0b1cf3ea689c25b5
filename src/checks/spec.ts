// Gate specs as users write them (a step's analysis, pre-/post-promotion, background), checked
// field by field into typed specs before anything runs. Pure: no cluster and no gate code,
// so config/ can validate gates while it parses. Every problem names its exact YAML path.
//
// A gate is a mapping with exactly one kind of check as a key (`http: {...}`) beside the
// fields every kind shares (name, interval, count and the limits). A new kind (job, command,
// prometheus, judge) is one more member of CheckSpec and one more entry in CHECK_PARSERS.
import { parseDuration } from '../config/source.js';
import { GantryError } from '../errors.js';

/** The Services a strategy names for its gates, written `${preview}` and so on in a gate's target. */
export const SERVICE_PLACEHOLDERS = ['preview', 'canary', 'active', 'stable'] as const;

/** Accepted HTTP status codes, inclusive: 200-200, or 200-299 for "2xx". */
export interface StatusRange {
  from: number;
  to: number;
}

export interface HttpCheckSpec {
  kind: 'http';
  /** A Service name, possibly with placeholders: `${preview}`, `${canary}`, `${active}`, `${stable}`. */
  service: string;
  /** The Service port, by number or by name. */
  port: number | string;
  path: string;
  /** Any of these passes; default 2xx. */
  expectStatus: StatusRange[];
  bodyContains?: string;
  /** A regular expression (JavaScript syntax), checked to compile. */
  bodyMatches?: string;
}

/** One kind of check per gate. */
export type CheckSpec = HttpCheckSpec;
export type CheckKind = CheckSpec['kind'];

export interface GateSpec {
  /** As written; when absent the gate is named after its target once placeholders are known. */
  name?: string;
  /** Where it was written, e.g. `steps[2].analysis[0]`. */
  path: string;
  check: CheckSpec;
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
  intervalMs: 5_000,
  count: 1,
  failureLimit: 0,
  inconclusiveLimit: 0,
  consecutiveErrorLimit: 4,
} as const;

/** A shorter interval would have background gates hammer the API server. */
const MIN_INTERVAL_MS = 100;

const COMMON_FIELDS = ['name', 'interval', 'count', 'failure-limit', 'inconclusive-limit', 'consecutive-error-limit'] as const;
const HTTP_FIELDS = ['service', 'port', 'path', 'expect-status', 'body-contains', 'body-matches'] as const;

/** A bad field of a gate: `path` is where (`steps[2].analysis[0].http.port`), `detail` what is wrong with it. */
export class GateSpecError extends GantryError {
  constructor(readonly path: string, readonly detail: string, hint?: string) {
    super(`${path}: ${detail}`, { title: 'Invalid gate', hint });
    this.name = 'GateSpecError';
  }
}

type Mapping = Record<string, unknown>;

const isMapping = (v: unknown): v is Mapping => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A mapping at one YAML path: each known field read once, every problem collected. */
class Fields {
  constructor(readonly value: Mapping, readonly path: string, readonly errors: GateSpecError[]) {}

  at(key: string): string {
    return `${this.path}.${key}`;
  }

  problem(key: string | undefined, detail: string, hint?: string): void {
    this.errors.push(new GateSpecError(key === undefined ? this.path : this.at(key), detail, hint));
  }

  has(key: string): boolean {
    return Object.hasOwn(this.value, key);
  }

  /** Reports every key not in `known` (a typo must not silently become a default); returns how many. */
  onlyKnown(known: readonly string[], what: string): number {
    const unknown = Object.keys(this.value).filter((key) => !known.includes(key));
    for (const key of unknown) this.problem(key, `is not ${what} field; expected one of ${known.join(', ')}`);
    return unknown.length;
  }

  string(key: string): string | undefined {
    if (!this.has(key)) return undefined;
    const v = this.value[key];
    if (typeof v === 'string' && v.trim() !== '') return v;
    this.problem(key, `must be a non-empty string, got ${show(v)}`);
    return undefined;
  }

  /** A whole number in [min, max]; YAML gives numbers, but a quoted "3" is read as 3 too. */
  wholeNumber(key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (!this.has(key)) return fallback;
    const n = toWholeNumber(this.value[key]);
    if (n === undefined || n < min || n > max) {
      this.problem(key, `must be a whole number${max === Number.MAX_SAFE_INTEGER ? ` of at least ${min}` : ` from ${min} to ${max}`}, got ${show(this.value[key])}`);
      return fallback;
    }
    return n;
  }

  /** A duration such as 500ms, 2s or 1m; a bare number means seconds, as in pause durations. */
  duration(key: string, fallbackMs: number, minMs: number): number {
    if (!this.has(key)) return fallbackMs;
    const v = this.value[key];
    const ms = typeof v === 'number' ? (v >= 0 ? Math.round(v * 1000) : undefined) : typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined) {
      this.problem(key, `must be a duration like 500ms, 2s or 1m, got ${show(v)}`);
      return fallbackMs;
    }
    if (ms < minMs) {
      this.problem(key, `must be at least ${minMs}ms, got ${show(v)}`);
      return fallbackMs;
    }
    return ms;
  }
}

function toWholeNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v === 'string' && /^\s*\d+\s*$/.test(v)) return Number(v);
  return undefined;
}

function show(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v);
}

type CheckParser = (fields: Fields) => CheckSpec | undefined;

/** The kinds of check, each a sibling key of a gate. */
const CHECK_PARSERS: Record<CheckKind, CheckParser> = {
  http: parseHttp,
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
    intervalMs: f.duration('interval', GATE_DEFAULTS.intervalMs, MIN_INTERVAL_MS),
    count: f.wholeNumber('count', GATE_DEFAULTS.count, 1),
    failureLimit: f.wholeNumber('failure-limit', GATE_DEFAULTS.failureLimit, 0),
    inconclusiveLimit: f.wholeNumber('inconclusive-limit', GATE_DEFAULTS.inconclusiveLimit, 0),
    consecutiveErrorLimit: f.wholeNumber('consecutive-error-limit', GATE_DEFAULTS.consecutiveErrorLimit, 0),
  };
  return check ? { ...spec, check } : undefined;
}

// ------------------------------------------------------------------ http

/** A Service name: a DNS-1035 label, where `${role}` placeholders stand for parts of it. */
const SERVICE_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** A port name as Kubernetes allows it (IANA_SVC_NAME): lowercase, a letter somewhere, at most 15. */
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function parseHttp(f: Fields): HttpCheckSpec | undefined {
  f.onlyKnown(HTTP_FIELDS, 'an http');
  const service = httpService(f);
  const port = httpPort(f);
  const path = f.string('path') ?? '/';
  if (!path.startsWith('/')) f.problem('path', `must start with /, got ${show(path)}`);
  const expectStatus = f.has('expect-status') ? statusRanges(f) : [{ from: 200, to: 299 }];
  const bodyContains = f.string('body-contains');
  const bodyMatches = f.string('body-matches');
  if (bodyMatches !== undefined) {
    try {
      new RegExp(bodyMatches);
    } catch (err) {
      f.problem('body-matches', `is not a valid regular expression: ${(err as Error).message}`);
    }
  }
  if (service === undefined || port === undefined || expectStatus === undefined) return undefined;
  const spec: HttpCheckSpec = { kind: 'http', service, port, path, expectStatus };
  if (bodyContains !== undefined) spec.bodyContains = bodyContains;
  if (bodyMatches !== undefined) spec.bodyMatches = bodyMatches;
  return spec;
}

function httpService(f: Fields): string | undefined {
  if (!f.has('service')) {
    f.problem('service', 'is required: the Service to ask, by name or as ${preview}, ${canary}, ${active} or ${stable}');
    return undefined;
  }
  const service = f.string('service');
  if (service === undefined) return undefined;
  const unknown = [...service.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]!).filter((p) => !(SERVICE_PLACEHOLDERS as readonly string[]).includes(p));
  if (unknown.length > 0) {
    f.problem('service', `uses \${${unknown[0]}}; the placeholders are ${SERVICE_PLACEHOLDERS.map((p) => `\${${p}}`).join(', ')}`);
    return undefined;
  }
  // Each placeholder stands for a valid name, so what is around it must fit into one.
  if (!SERVICE_NAME.test(service.replace(/\$\{[a-z]+\}/g, 'x'))) {
    f.problem('service', `must be a Service name (lowercase letters, digits and -) or a placeholder such as \${preview}, got ${show(service)}`);
    return undefined;
  }
  return service;
}

function httpPort(f: Fields): number | string | undefined {
  const v = f.value.port;
  const n = toWholeNumber(v);
  if (n !== undefined && n >= 1 && n <= 65535) return n;
  if (typeof v === 'string' && v.length <= 15 && PORT_NAME.test(v)) return v;
  f.problem('port', `must be a port number or name, got ${show(v)}`, 'the Service port (e.g. 80) or its name (e.g. http), not the container port');
  return undefined;
}

/** `expect-status`: a code (200), a class (2xx), a range (200-399), or a list of these. */
function statusRanges(f: Fields): StatusRange[] | undefined {
  const v = f.value['expect-status'];
  const items = Array.isArray(v) ? v : [v];
  if (items.length === 0) {
    f.problem('expect-status', 'must not be an empty list');
    return undefined;
  }
  const ranges: StatusRange[] = [];
  items.forEach((item, i) => {
    const range = statusRange(item);
    if (range) ranges.push(range);
    else f.problem(Array.isArray(v) ? `expect-status[${i}]` : 'expect-status', `must be a status code (200), a class (2xx) or a range (200-399), got ${show(item)}`);
  });
  return ranges.length === items.length ? ranges : undefined;
}

function statusRange(item: unknown): StatusRange | undefined {
  const code = (n: number): boolean => n >= 100 && n <= 599;
  const n = toWholeNumber(item);
  if (n !== undefined) return code(n) ? { from: n, to: n } : undefined;
  if (typeof item !== 'string') return undefined;
  const cls = /^\s*([1-5])xx\s*$/i.exec(item);
  if (cls) return { from: Number(cls[1]) * 100, to: Number(cls[1]) * 100 + 99 };
  const range = /^\s*(\d{3})\s*-\s*(\d{3})\s*$/.exec(item);
  if (!range) return undefined;
  const [from, to] = [Number(range[1]), Number(range[2])];
  return code(from) && code(to) && from <= to ? { from, to } : undefined;
}
