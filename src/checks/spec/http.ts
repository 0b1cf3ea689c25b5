// The http check as users write it: a target (a Service through the API server's proxy, or a
// URL fetched from the runner), the request, and what the answer must be: status, body, JSON
// values and latency, with retries inside one measurement. Pure: parsing only; the gate
// that measures is checks/http.ts.
import { JSONPath } from 'jsonpath-plus';
import { Fields, isMapping, show, toWholeNumber } from './fields.js';

/** The Services a strategy names for its gates, written `${preview}` and so on in a gate's target. */
export const SERVICE_PLACEHOLDERS = ['preview', 'canary', 'active', 'stable'] as const;

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** Accepted HTTP status codes, inclusive: 200-200, or 200-299 for "2xx". */
export interface StatusRange {
  from: number;
  to: number;
}

/** A Service port through the API server's service proxy: reaches ClusterIP Services with only a kubeconfig. */
export interface ServiceTarget {
  /** A Service name, possibly with placeholders: `${preview}`, `${canary}`, `${active}`, `${stable}`. */
  service: string;
  /** The Service port, by number or by name. */
  port: number | string;
  /** The path with its query, e.g. `/healthz?full=1`. */
  path: string;
}

/** An http(s) URL asked directly from the runner, e.g. a public ingress. */
export interface UrlTarget {
  url: string;
}

export type HttpTarget = ServiceTarget | UrlTarget;

/** A value of the JSON answer, as data (YAML gives the same types JSON does). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * One check of the JSON answer: what a JSONPath selects must equal a value, match a pattern
 * (strings as they are, other values as JSON), or exist (select anything, null included).
 * `equals` and `matches` hold for every value selected, and fail when nothing is.
 */
export type JsonCheck = { path: string } & ({ equals: JsonValue } | { matches: string } | { exists: boolean });

export interface HttpCheckSpec {
  kind: 'http';
  target: HttpTarget;
  method: HttpMethod;
  /** Sent as they are. Their values may hold credentials: they never appear in a verdict or a log. */
  headers: Record<string, string>;
  body?: string;
  /** Any of these passes; default 2xx. */
  expectStatus: StatusRange[];
  bodyContains?: string;
  /** A regular expression (JavaScript syntax), checked to compile. */
  bodyMatches?: string;
  json: JsonCheck[];
  /** The longest a whole answer may take; longer is a fail. */
  maxLatencyMs?: number;
  /** A request with no whole answer by then has measured nothing: an error. */
  timeoutMs: number;
  /** Tries after the first, within one measurement, when a try does not pass. */
  retries: number;
  /** The wait before the first retry; it doubles for each next one, up to MAX_BACKOFF_MS. */
  backoffMs: number;
}

export const HTTP_DEFAULTS = { method: 'GET', timeoutMs: 10_000, retries: 0, backoffMs: 1_000 } as const;
/** Retries stay within one measurement: the interval between measurements is the longer wait. */
export const MAX_RETRIES = 10;
export const MAX_BACKOFF_MS = 30_000;

const HTTP_FIELDS = [
  'service', 'port', 'path', 'url', 'method', 'headers', 'body', 'expect-status', 'body-contains', 'body-matches', 'json',
  'max-latency', 'timeout', 'retries', 'backoff',
] as const;
const JSON_CHECK_FIELDS = ['path', 'equals', 'matches', 'exists'] as const;
const JSON_TESTS = ['equals', 'matches', 'exists'] as const;

/** A Service name: a DNS-1035 label, where `${role}` placeholders stand for parts of it. */
const SERVICE_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** A port name as Kubernetes allows it (IANA_SVC_NAME): lowercase, a letter somewhere, at most 15. */
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A header name: an RFC 9110 token. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Framing headers the HTTP client writes itself; a second, different one would corrupt the request. */
const CLIENT_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection']);

export function parseHttp(f: Fields): HttpCheckSpec | undefined {
  f.onlyKnown(HTTP_FIELDS, 'an http');
  const target = httpTarget(f);
  const method = httpMethod(f);
  const headers = httpHeaders(f, target !== undefined && 'service' in target);
  const body = httpBody(f, method);
  const expectStatus = f.has('expect-status') ? statusRanges(f) : [{ from: 200, to: 299 }];
  const bodyContains = f.string('body-contains');
  const bodyMatches = f.string('body-matches');
  if (bodyMatches !== undefined) regex(f, 'body-matches', bodyMatches);
  const json = f.has('json') ? jsonChecks(f) : [];
  if (method === 'HEAD') {
    // A HEAD answer has no body by definition, so these could never pass.
    for (const key of ['body-contains', 'body-matches', 'json'] as const) if (f.has(key)) f.problem(key, 'cannot hold for a HEAD request: its answer has no body; use GET');
  }
  const maxLatencyMs = f.has('max-latency') ? f.duration('max-latency', 0, 1) : undefined;
  const timeoutMs = f.duration('timeout', HTTP_DEFAULTS.timeoutMs, 10);
  if (maxLatencyMs !== undefined && maxLatencyMs >= timeoutMs) {
    // A slower answer would time out (an error) before it could fail the budget.
    f.problem('max-latency', `must be shorter than timeout (${timeoutMs} ms), got ${show(f.value['max-latency'])}`, 'raise timeout, or lower max-latency');
  }
  const retries = f.wholeNumber('retries', HTTP_DEFAULTS.retries, 0, MAX_RETRIES);
  const backoffMs = f.duration('backoff', HTTP_DEFAULTS.backoffMs, 0);
  if (target === undefined || method === undefined || headers === undefined || expectStatus === undefined || json === undefined) return undefined;
  const spec: HttpCheckSpec = { kind: 'http', target, method, headers, expectStatus, json, timeoutMs, retries, backoffMs };
  if (body !== undefined) spec.body = body;
  if (bodyContains !== undefined) spec.bodyContains = bodyContains;
  if (bodyMatches !== undefined) spec.bodyMatches = bodyMatches;
  if (maxLatencyMs !== undefined) spec.maxLatencyMs = maxLatencyMs;
  return spec;
}

/** Exactly one target: `service` + `port` (+ `path`), or `url`. */
function httpTarget(f: Fields): HttpTarget | undefined {
  if (f.has('url')) {
    const serviceFields = (['service', 'port', 'path'] as const).filter((k) => f.has(k));
    if (serviceFields.length > 0) {
      f.problem(undefined, `has url and ${serviceFields.join(', ')}; give one target: service and port (through the API server's service proxy) or url (asked from the runner)`,
        'a url holds its own path');
      return undefined;
    }
    return httpUrl(f);
  }
  if (!f.has('service') && !f.has('port')) {
    f.problem(undefined, 'has no target; give service and port (through the API server\'s service proxy) or url (asked from the runner)',
      'e.g. {service: "${preview}", port: 80, path: /healthz} or {url: https://example.com/healthz}');
    return undefined;
  }
  const service = httpService(f);
  const port = httpPort(f);
  const path = f.string('path') ?? '/';
  // A . or .. step would be resolved away before the request, out of the Service's proxy path.
  const pathOk = path.startsWith('/') && !path.split(/[?#]/)[0]!.split('/').some((step) => step === '.' || step === '..');
  if (!path.startsWith('/')) f.problem('path', `must start with /, got ${show(path)}`);
  else if (!pathOk) f.problem('path', `must not have . or .. steps, got ${show(path)}`);
  if (service === undefined || port === undefined || !pathOk) return undefined;
  return { service, port, path };
}

function httpUrl(f: Fields): UrlTarget | undefined {
  const text = f.string('url');
  if (text === undefined) return undefined;
  if (text.includes('${')) {
    f.problem('url', `cannot use placeholders, got ${show(text)}`, 'placeholders name Services: use service: "${canary}" and port to ask the canary through the API server\'s proxy');
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    f.problem('url', `must be an absolute http(s) URL, got ${show(text)}`, 'e.g. https://example.com/healthz');
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    f.problem('url', `must be an http or https URL, got ${show(text)}`);
    return undefined;
  }
  if (url.username !== '' || url.password !== '') {
    // The URL is shown as the gate's name in every log line: credentials go in headers, whose values are never shown.
    f.problem('url', 'must not hold credentials (user:password@)', 'send them in headers, e.g. Authorization, whose values are never shown');
    return undefined;
  }
  return { url: url.href };
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

function httpMethod(f: Fields): HttpMethod | undefined {
  const text = f.string('method');
  if (text === undefined) return f.has('method') ? undefined : HTTP_DEFAULTS.method;
  const method = HTTP_METHODS.find((m) => m === text.trim().toUpperCase());
  if (method === undefined) f.problem('method', `must be one of ${HTTP_METHODS.join(', ')}, got ${show(text)}`);
  return method;
}

/**
 * `headers`: a mapping of names to string values. A value is never quoted back in an error
 * (it may be a token); only its name is. Through the service proxy, the API server reads
 * Authorization and Impersonate-* itself and does not pass them on to the pods.
 */
function httpHeaders(f: Fields, throughProxy: boolean): Record<string, string> | undefined {
  if (!f.has('headers')) return {};
  const v = f.value.headers;
  if (!isMapping(v)) {
    f.problem('headers', `must be a mapping of header names to values, got ${Array.isArray(v) ? 'a list' : typeof v}`, 'e.g. headers: {Accept: application/json}');
    return undefined;
  }
  const headers: Record<string, string> = {};
  const seen = new Map<string, string>();
  let ok = true;
  for (const [name, value] of Object.entries(v)) {
    const at = `headers.${name}`;
    const lower = name.toLowerCase();
    const problem = (detail: string, hint?: string): void => {
      f.problem(at, detail, hint);
      ok = false;
    };
    if (!HEADER_NAME.test(name)) problem('is not a valid header name (letters, digits and !#$%&\'*+-.^_`|~)');
    else if (seen.has(lower)) problem(`is the same header as ${seen.get(lower)}; header names ignore case`);
    else if (CLIENT_HEADERS.has(lower)) problem('is written by the HTTP client itself; remove it');
    else if (throughProxy && (lower === 'authorization' || lower.startsWith('impersonate-'))) {
      problem('is read by the API server for its own credentials and not passed on to the pods',
        'ask the endpoint with url: from the runner to send it, or use another header the app reads');
    } else if (typeof value !== 'string') problem(`must be a string, got ${value === null ? 'nothing' : typeof value}`, 'quote it: values such as 1 or true are read as numbers and booleans');
    else if (/[\r\n\0]/.test(value)) problem('must be one line (no line breaks)');
    if (typeof value === 'string') headers[name] = value;
    seen.set(lower, name);
  }
  return ok ? headers : undefined;
}

function httpBody(f: Fields, method: HttpMethod | undefined): string | undefined {
  if (!f.has('body')) return undefined;
  const v = f.value.body;
  if (isMapping(v) || Array.isArray(v)) {
    f.problem('body', 'must be a string', 'write a JSON body as a string, e.g. body: \'{"dryRun": true}\', and set headers: {Content-Type: application/json}');
    return undefined;
  }
  const body = f.string('body');
  if (body !== undefined && (method === 'GET' || method === 'HEAD')) {
    f.problem('body', `cannot be sent with ${method}`, 'set method: POST (or PUT, PATCH, DELETE)');
    return undefined;
  }
  return body;
}

function regex(f: Fields, key: string, pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch (err) {
    f.problem(key, `is not a valid regular expression: ${(err as Error).message}`);
    return false;
  }
}

/** `json`: a list of `{path, equals | matches | exists}`. */
function jsonChecks(f: Fields): JsonCheck[] | undefined {
  const v = f.value.json;
  if (!Array.isArray(v) || v.length === 0) {
    f.problem('json', `must be a non-empty list of checks, got ${show(v)}`, 'e.g. json: [{path: $.status, equals: ok}]');
    return undefined;
  }
  const checks: JsonCheck[] = [];
  v.forEach((item, i) => {
    if (!isMapping(item)) {
      f.problem(`json[${i}]`, `must be a mapping such as {path: $.status, equals: ok}, got ${show(item)}`);
      return;
    }
    const check = jsonCheck(new Fields(item, f.at(`json[${i}]`), f.errors));
    if (check) checks.push(check);
  });
  return checks.length === v.length ? checks : undefined;
}

function jsonCheck(f: Fields): JsonCheck | undefined {
  const unknown = f.onlyKnown(JSON_CHECK_FIELDS, 'a json check');
  const path = jsonPath(f);
  const tests = JSON_TESTS.filter((k) => f.has(k));
  if (tests.length > 1) f.problem(undefined, `has ${tests.join(' and ')}; give exactly one test`);
  // With an unknown key, that key is most likely the test, misspelt, and already reported.
  else if (tests.length === 0 && unknown === 0) f.problem(undefined, 'has no test; give one of equals, matches, exists');
  if (tests.length !== 1) return undefined;
  const test = jsonTest(f, tests[0]!);
  return path !== undefined && test !== undefined && unknown === 0 ? { path, ...test } : undefined;
}

function jsonPath(f: Fields): string | undefined {
  if (!f.has('path')) {
    f.problem('path', 'is required: a JSONPath such as $.status');
    return undefined;
  }
  const path = f.string('path');
  if (path === undefined) return undefined;
  const problem = jsonPathProblem(path);
  if (problem === undefined) return path;
  f.problem('path', problem, 'e.g. $.status, $.items.length, $.checks[?(@.name == "db")].ok');
  return undefined;
}

function jsonTest(f: Fields, test: (typeof JSON_TESTS)[number]): { equals: JsonValue } | { matches: string } | { exists: boolean } | undefined {
  if (test === 'matches') {
    const pattern = f.string('matches');
    return pattern !== undefined && regex(f, 'matches', pattern) ? { matches: pattern } : undefined;
  }
  if (test === 'exists') {
    const exists = f.value.exists;
    if (typeof exists === 'boolean') return { exists };
    f.problem('exists', `must be true or false, got ${show(exists)}`);
    return undefined;
  }
  const equals = f.value.equals;
  if (isJsonValue(equals)) return { equals };
  f.problem('equals', `must be a JSON value (a string, number, boolean, null, list or mapping), got ${show(equals)}`);
  return undefined;
}

function isJsonValue(v: unknown): v is JsonValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(isJsonValue);
  return isMapping(v) && Object.getPrototypeOf(v) === Object.prototype && Object.values(v).every(isJsonValue);
}

/**
 * What is wrong with a JSONPath, if anything. jsonpath-plus reads almost any text as some
 * path (`$.items[0` as `$.items[0]`), so the structure is checked here, and each filter or
 * script expression is compiled once on a probe document, as it would be on the answer.
 */
export function jsonPathProblem(path: string): string | undefined {
  if (!path.startsWith('$')) return `must start with $ (the document's root), got ${show(path)}`;
  const open: string[] = [];
  let quote: string | undefined;
  for (const c of path) {
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '(') open.push(c);
    else if (c === ']' || c === ')') {
      if (open.pop() !== (c === ']' ? '[' : '(')) return `has an unmatched ${c}: ${show(path)}`;
    }
  }
  if (quote !== undefined) return `has an unclosed ${quote}: ${show(path)}`;
  if (open.length > 0) return `has an unclosed ${open.at(-1)}: ${show(path)}`;
  if (/\.$|\[\s*\]/.test(path) || path.includes('...')) return `has an empty step: ${show(path)}`;
  for (const step of JSONPath.toPathArray(path)) {
    if (!step.startsWith('?(') && !step.startsWith('(')) continue;
    try {
      // Compile errors are thrown even with ignoreEvalErrors, which only forgives evaluation
      // errors (a filter reading a field some elements lack), as it will on the answer.
      JSONPath({ path: `$[${step}]`, json: [{}], eval: 'safe', ignoreEvalErrors: true, wrap: true });
    } catch (err) {
      return `has an expression that does not compile: ${step}: ${(err as Error).message}`;
    }
  }
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
