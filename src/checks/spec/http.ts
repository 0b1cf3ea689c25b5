// The http check as users write it: a Service (or placeholder) and port, a path, and what
// the answer must be. Pure: parsing only; the gate that measures is checks/http.ts.
import { Fields, show, toWholeNumber } from './fields.js';

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

const HTTP_FIELDS = ['service', 'port', 'path', 'expect-status', 'body-contains', 'body-matches'] as const;

/** A Service name: a DNS-1035 label, where `${role}` placeholders stand for parts of it. */
const SERVICE_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** A port name as Kubernetes allows it (IANA_SVC_NAME): lowercase, a letter somewhere, at most 15. */
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function parseHttp(f: Fields): HttpCheckSpec | undefined {
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
