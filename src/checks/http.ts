// The HTTP gate: a GET of a Service's path through the API server's service proxy, so a
// private ClusterIP Service can be judged from a runner that holds only a kubeconfig. The
// pods' answer is held to the expected status and body; what the proxy says when it cannot
// reach them (no endpoints, connection refused) is a fail, since that is the target's health;
// not reaching the API server at all is an error, since then nothing was measured.
import { systemClock } from '../kube/wait.js';
import type { Gate, GateContext, Verdict, VerdictStatus } from './gate.js';
import type { HttpCheckSpec, StatusRange } from './spec/http.js';

/** The longest excerpt of a body or a message quoted in a verdict, so the line stays one short line. */
const EXCERPT = 60;

/** `${preview}` and the like replaced by the Services the strategy named; the first placeholder it did not name, if any. */
export function resolveService(service: string, services: Record<string, string>): { name: string } | { missing: string } {
  const missing = [...service.matchAll(/\$\{([a-z]+)\}/g)].map((m) => m[1]!).find((role) => !services[role]);
  if (missing !== undefined) return { missing };
  return { name: service.replace(/\$\{([a-z]+)\}/g, (_, role: string) => services[role]!) };
}

/** `http web-preview:80/healthz`: the target, with placeholders resolved where they can be. */
export function httpGateName(spec: HttpCheckSpec, services: Record<string, string> = {}): string {
  const resolved = resolveService(spec.service, services);
  return `http ${'name' in resolved ? resolved.name : spec.service}:${spec.port}${spec.path}`;
}

/** `200`, `2xx` or `200-399`. */
function showRange(r: StatusRange): string {
  if (r.from === r.to) return String(r.from);
  if (r.from % 100 === 0 && r.to === r.from + 99) return `${r.from / 100}xx`;
  return `${r.from}-${r.to}`;
}

const exact = (ranges: StatusRange[]): boolean => ranges.length === 1 && ranges[0]!.from === ranges[0]!.to;

function showStatusSet(ranges: StatusRange[]): string {
  return ranges.length === 1 ? showRange(ranges[0]!) : `[${ranges.map(showRange).join(', ')}]`;
}

/** `status 200 == 200`, `status 503 not in 2xx`. */
function statusClause(status: number, ranges: StatusRange[], ok: boolean): string {
  const op = exact(ranges) ? (ok ? '==' : '!=') : ok ? 'in' : 'not in';
  return `status ${status} ${op} ${showStatusSet(ranges)}`;
}

/** One line of at most EXCERPT characters, quoted. */
export function excerpt(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(line.length > EXCERPT ? `${line.slice(0, EXCERPT - 1)}…` : line);
}

/**
 * The API server's own answer, when the proxy could not get one from the pods: a v1 Status
 * whose status is Failure. A pod answering with a Kubernetes Status of its own would be read
 * the same way; only API servers and their extensions do that, and they are not what gates smoke-test.
 */
function proxyStatus(body: string): { message: string; reason?: string; code?: number } | undefined {
  if (!body.trimStart().startsWith('{')) return undefined;
  try {
    const s = JSON.parse(body) as { kind?: unknown; apiVersion?: unknown; status?: unknown; message?: unknown; reason?: unknown; code?: unknown };
    if (s.kind !== 'Status' || s.apiVersion !== 'v1' || s.status !== 'Failure') return undefined;
    return {
      message: typeof s.message === 'string' && s.message !== '' ? s.message : 'no message',
      reason: typeof s.reason === 'string' ? s.reason : undefined,
      code: typeof s.code === 'number' ? s.code : undefined,
    };
  } catch {
    return undefined;
  }
}

/** Statuses that say Gantry may not ask, or must ask later: nothing was learnt about the target. */
const UNMEASURED = new Set([401, 403, 429]);

export class HttpGate implements Gate {
  private readonly bodyPattern?: RegExp;

  constructor(readonly spec: HttpCheckSpec, readonly name: string = httpGateName(spec)) {
    if (spec.bodyMatches !== undefined) this.bodyPattern = new RegExp(spec.bodyMatches);
  }

  /** `status == 200 and body contains "ok"`. */
  get condition(): string {
    return [`status ${exact(this.spec.expectStatus) ? '==' : 'in'} ${showStatusSet(this.spec.expectStatus)}`, ...this.bodyClauses()].join(' and ');
  }

  private bodyClauses(): string[] {
    return [
      ...(this.spec.bodyContains !== undefined ? [`body contains ${JSON.stringify(this.spec.bodyContains)}`] : []),
      ...(this.bodyPattern ? [`body matches ${this.bodyPattern}`] : []),
    ];
  }

  async measure(ctx: GateContext): Promise<Verdict> {
    const at = (ctx.clock ?? systemClock).now();
    const verdict = (status: VerdictStatus, message: string, value?: number): Verdict => ({
      gate: this.name, status, condition: this.condition, message, at, ...(value === undefined ? {} : { value: String(value) }),
    });
    const target = resolveService(this.spec.service, ctx.services);
    if ('missing' in target) {
      const named = Object.keys(ctx.services);
      return verdict('error', `no \${${target.missing}} Service at this point of the rollout (${named.length > 0 ? `there is ${named.map((r) => `\${${r}}`).join(', ')}` : 'none is named'})`);
    }
    let answer: { status: number; body: string };
    try {
      answer = await ctx.client.proxyGet(ctx.namespace, target.name, this.spec.port, this.spec.path);
    } catch (err) {
      return verdict('error', `no answer from the API server: ${oneLine(err instanceof Error ? err.message : String(err))}`);
    }
    const { status, body } = answer;
    const proxy = status >= 400 ? proxyStatus(body) : undefined;
    if (proxy) {
      const said = `${proxy.reason ?? `HTTP ${status}`}: ${oneLine(proxy.message)}`;
      if (UNMEASURED.has(status)) return verdict('error', `the API server refused the proxy request (${said})`, status);
      return verdict('fail', `proxy to ${target.name}:${this.spec.port}: ${oneLine(proxy.message)}`, status);
    }
    const statusOk = this.spec.expectStatus.some((r) => status >= r.from && status <= r.to);
    const statusText = statusClause(status, this.spec.expectStatus, statusOk);
    if (!statusOk) return verdict('fail', `${statusText} (body ${excerpt(body)})`, status);
    if (this.spec.bodyContains !== undefined && !body.includes(this.spec.bodyContains)) {
      return verdict('fail', `${statusText}, but body lacks ${JSON.stringify(this.spec.bodyContains)} (got ${excerpt(body)})`, status);
    }
    if (this.bodyPattern && !this.bodyPattern.test(body)) {
      return verdict('fail', `${statusText}, but body does not match ${this.bodyPattern} (got ${excerpt(body)})`, status);
    }
    return verdict('pass', [statusText, ...this.bodyClauses()].join(', '), status);
  }
}

/** Messages from servers may span lines; a verdict is one. */
function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 2 * EXCERPT ? `${line.slice(0, 2 * EXCERPT - 1)}…` : line;
}
