// The HTTP gate: one request to a target, its answer held to the expected status, body, JSON
// values and latency. A Service is asked through the API server's service proxy, so a private
// ClusterIP Service can be judged from a runner that holds only a kubeconfig; a URL is asked
// directly from the runner. What the proxy says when it cannot reach the pods (no endpoints,
// connection refused) is a fail, since that is the target's health; no answer at all (the API
// server or the URL unreachable, a timeout) is an error, since then nothing was measured.
// A try that does not pass is tried again `retries` times within the one measurement.
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import { JSONPath } from 'jsonpath-plus';
import type { KubeClient, ProxyResponse } from '../kube/client.js';
import { systemClock } from '../kube/wait.js';
import { verdictOf, type Gate, type GateContext, type Verdict, type VerdictStatus } from './gate.js';
import { MAX_BACKOFF_MS, type HttpCheckSpec, type JsonCheck, type StatusRange } from './spec/http.js';

/** The longest excerpt of a body or a message quoted in a verdict, so the line stays one short line. */
const EXCERPT = 60;

/** `${preview}` and the like replaced by the Services the strategy named; the first placeholder it did not name, if any. */
export function resolveService(service: string, services: Record<string, string>): { name: string } | { missing: string } {
  const missing = [...service.matchAll(/\$\{([a-z]+)\}/g)].map((m) => m[1]!).find((role) => !services[role]);
  if (missing !== undefined) return { missing };
  return { name: service.replace(/\$\{([a-z]+)\}/g, (_, role: string) => services[role]!) };
}

/** `http web-preview:80/healthz`, `http POST https://example.com/hook`: the target, with placeholders resolved where they can be. */
export function httpGateName(spec: HttpCheckSpec, services: Record<string, string> = {}): string {
  const method = spec.method === 'GET' ? '' : `${spec.method} `;
  const { target } = spec;
  if ('url' in target) return `http ${method}${target.url}`;
  const resolved = resolveService(target.service, services);
  return `http ${method}${'name' in resolved ? resolved.name : target.service}:${target.port}${target.path}`;
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

/** Text cut to one line of at most `max` characters. */
function cut(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** One line of at most EXCERPT characters, quoted. */
export function excerpt(text: string): string {
  return JSON.stringify(cut(text, EXCERPT));
}

/** A JSON value as written in JSON, cut to an excerpt. */
const showJson = (v: unknown): string => cut(JSON.stringify(v) ?? 'undefined', EXCERPT);

/** Messages from servers may span lines; a verdict is one. */
const oneLine = (text: string): string => cut(text, 2 * EXCERPT);

/** Latencies and their budget, in one unit so they compare at a glance. */
const ms = (n: number): string => `${Math.round(n)} ms`;

/** A timeout as written: `250 ms`, `10 s`, `1.5 s`. */
const duration = (n: number): string => (n < 1000 ? ms(n) : `${Number((n / 1000).toFixed(3))} s`);

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

/** Statuses that say the API server will not let Gantry ask, or not now: nothing was learnt about the target. */
const UNMEASURED = new Set([401, 403, 429]);

/** `$.status == "ok"`, `$.version matches /^v2/`, `$.error does not exist`. */
function jsonClause(c: JsonCheck, pattern?: RegExp): string {
  if ('equals' in c) return `${c.path} == ${showJson(c.equals)}`;
  if ('matches' in c) return `${c.path} matches ${pattern}`;
  return `${c.path} ${c.exists ? 'exists' : 'does not exist'}`;
}

/** Why the values a path selected fail the check, or undefined when they pass. */
function jsonFailure(c: JsonCheck, values: unknown[], pattern?: RegExp): string | undefined {
  const found = values.length === 1 ? showJson(values[0]) : showJson(values);
  const is = values.length === 1 ? 'is' : 'selects';
  if ('exists' in c) {
    if (c.exists) return values.length > 0 ? undefined : `${c.path} selects nothing`;
    return values.length === 0 ? undefined : `${c.path} exists (${is === 'is' ? '' : 'selects '}${found})`;
  }
  if (values.length === 0) return `${c.path} selects nothing`;
  if ('equals' in c) return values.every((v) => isDeepStrictEqual(v, c.equals)) ? undefined : `${c.path} ${is} ${found}, expected ${values.length === 1 ? '' : 'each '}${showJson(c.equals)}`;
  const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
  return values.every((v) => pattern!.test(text(v))) ? undefined : `${c.path} ${is} ${found}, which does not ${values.length === 1 ? '' : 'all '}match ${pattern}`;
}

/** What one request brought back, or why none came back. */
type Exchange = { answer: ProxyResponse; latencyMs: number } | { noAnswer: string };

/** One try's verdict, and whether another try could tell something different. */
interface TryResult {
  verdict: Verdict;
  retry: boolean;
}

export class HttpGate implements Gate {
  private readonly bodyPattern?: RegExp;
  private readonly jsonPatterns: (RegExp | undefined)[];
  /** Header values and their longer words, longest first: never shown, whatever echoes them. */
  private readonly secrets: string[];

  constructor(readonly spec: HttpCheckSpec, readonly name: string = httpGateName(spec)) {
    if (spec.bodyMatches !== undefined) this.bodyPattern = new RegExp(spec.bodyMatches);
    this.jsonPatterns = spec.json.map((c) => ('matches' in c ? new RegExp(c.matches) : undefined));
    // Values of 3 characters or fewer are no credentials, and hiding them would garble
    // numbers ("1" in "status 201"); a token's words are hidden too, for servers that echo only the token.
    const values = Object.values(spec.headers);
    const words = values.flatMap((v) => v.split(/\s+/)).filter((w) => w.length >= 8);
    this.secrets = [...new Set([...values.filter((v) => v.length >= 4), ...words])].sort((a, b) => b.length - a.length);
  }

  /** `status == 200 and body contains "ok" and $.status == "ok" and latency <= 300 ms`. */
  get condition(): string {
    const s = this.spec;
    const latency = s.maxLatencyMs !== undefined ? [`latency <= ${ms(s.maxLatencyMs)}`] : [];
    return [`status ${exact(s.expectStatus) ? '==' : 'in'} ${showStatusSet(s.expectStatus)}`, ...this.bodyClauses(), ...latency].join(' and ');
  }

  private bodyClauses(): string[] {
    const s = this.spec;
    return [
      ...(s.bodyContains !== undefined ? [`body contains ${JSON.stringify(s.bodyContains)}`] : []),
      ...(this.bodyPattern ? [`body matches ${this.bodyPattern}`] : []),
      ...s.json.map((c, i) => jsonClause(c, this.jsonPatterns[i])),
    ];
  }

  /** The tries of one measurement, `backoff` apart and doubling; the verdict is the last try's. */
  async measure(ctx: GateContext): Promise<Verdict> {
    const clock = ctx.clock ?? systemClock;
    let tries = 1;
    let result = await this.try(ctx);
    while (result.retry && result.verdict.status !== 'pass' && tries <= this.spec.retries && !ctx.signal?.aborted) {
      await clock.sleep(Math.min(this.spec.backoffMs * 2 ** (tries - 1), MAX_BACKOFF_MS), ctx.signal);
      if (ctx.signal?.aborted) break;
      tries++;
      result = await this.try(ctx);
    }
    const { verdict } = result;
    return tries === 1 ? verdict : { ...verdict, message: `${verdict.message} (after ${tries} tries)` };
  }

  private async try(ctx: GateContext): Promise<TryResult> {
    const at = (ctx.clock ?? systemClock).now();
    const made = verdictOf(this, at);
    const verdict = (status: Verdict['status'], message: string, value?: string): Verdict => made(status, this.redact(message), { value });
    const { target } = this.spec;
    let exchange: Exchange;
    /** `web-preview:80`, when the answer came through the service proxy. */
    let proxied: string | undefined;
    if ('url' in target) {
      exchange = await this.fetchUrl(target.url, ctx.signal);
    } else {
      const service = resolveService(target.service, ctx.services);
      if ('missing' in service) {
        const named = Object.keys(ctx.services);
        const there = named.length > 0 ? `there is ${named.map((r) => `\${${r}}`).join(', ')}` : 'none is named';
        // The rollout decides which Services exist; asking again would not change it.
        return { verdict: verdict('error', `no \${${service.missing}} Service at this point of the rollout (${there})`), retry: false };
      }
      proxied = `${service.name}:${target.port}`;
      exchange = await this.askProxy(ctx.client, ctx.namespace, service.name, target.port, target.path, ctx.signal);
    }
    if ('noAnswer' in exchange) return { verdict: verdict('error', exchange.noAnswer), retry: true };
    const judged = this.judge(exchange.answer, exchange.latencyMs, proxied);
    return { verdict: verdict(judged.status, judged.message, judged.value), retry: true };
  }

  /** The headers sent: the user's, beside a User-Agent that names Gantry and a Content-Type for a body, unless given. */
  private requestHeaders(): Record<string, string> {
    const given = new Set(Object.keys(this.spec.headers).map((k) => k.toLowerCase()));
    return {
      ...(given.has('user-agent') ? {} : { 'User-Agent': 'gantry-http-gate' }),
      ...(this.spec.body !== undefined && !given.has('content-type') ? { 'Content-Type': 'text/plain; charset=utf-8' } : {}),
      ...this.spec.headers,
    };
  }

  private async askProxy(client: KubeClient, namespace: string, service: string, port: number | string, path: string, signal?: AbortSignal): Promise<Exchange> {
    const { method, body, timeoutMs } = this.spec;
    // Latency is real time even under a test clock: sockets do not run on it.
    const started = performance.now();
    try {
      const answer = await client.proxyRequest({ namespace, service, port, path, method, headers: this.requestHeaders(), body, timeoutMs, signal });
      return { answer, latencyMs: performance.now() - started };
    } catch (err) {
      if (isTimeout(err)) return { noAnswer: `no answer through the API server within ${duration(timeoutMs)} (timeout)` };
      return { noAnswer: `no answer from the API server: ${oneLine(reason(err))}` };
    }
  }

  /**
   * Redirects are not followed, as through the proxy: the gate judges what this URL answers.
   * The timeout covers the whole answer, body included.
   */
  private async fetchUrl(url: string, stop?: AbortSignal): Promise<Exchange> {
    const { method, body, timeoutMs } = this.spec;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = stop ? AbortSignal.any([stop, timeout]) : timeout;
    const started = performance.now();
    try {
      const res = await fetch(url, { method, headers: this.requestHeaders(), body, redirect: 'manual', signal });
      const text = await res.text();
      return { answer: { status: res.status, body: text, headers: Object.fromEntries(res.headers) }, latencyMs: performance.now() - started };
    } catch (err) {
      if (timeout.aborted && isTimeout(err)) return { noAnswer: `no answer from ${url} within ${duration(timeoutMs)} (timeout)` };
      return { noAnswer: `no answer from ${url}: ${oneLine(reason(err))}` };
    }
  }

  /** An answer held to the check: status, then body, JSON and latency; the first that falls short says why. */
  private judge(answer: ProxyResponse, latencyMs: number, proxied: string | undefined): { status: VerdictStatus; message: string; value: string } {
    const { status, body } = answer;
    const s = this.spec;
    const code = String(status);
    const proxy = proxied !== undefined && status >= 400 ? proxyStatus(body) : undefined;
    if (proxy) {
      const said = `${proxy.reason ?? `HTTP ${status}`}: ${oneLine(proxy.message)}`;
      if (UNMEASURED.has(status)) return { status: 'error', message: `the API server refused the proxy request (${said})`, value: code };
      return { status: 'fail', message: `proxy to ${proxied}: ${oneLine(proxy.message)}`, value: code };
    }
    const shown = (): string => excerpt(this.redact(body));
    const statusOk = s.expectStatus.some((r) => status >= r.from && status <= r.to);
    const statusText = statusClause(status, s.expectStatus, statusOk);
    if (!statusOk) {
      const location = status >= 300 && status < 400 ? answer.headers?.location : undefined;
      const extra = location !== undefined ? `redirect to ${cut(location, EXCERPT)}, not followed` : `body ${shown()}`;
      return { status: 'fail', message: `${statusText} (${extra})`, value: code };
    }
    const fail = (why: string): { status: VerdictStatus; message: string; value: string } => ({ status: 'fail', message: `${statusText}, but ${why}`, value: code });
    if (s.bodyContains !== undefined && !body.includes(s.bodyContains)) return fail(`body lacks ${JSON.stringify(s.bodyContains)} (got ${shown()})`);
    if (this.bodyPattern && !this.bodyPattern.test(body)) return fail(`body does not match ${this.bodyPattern} (got ${shown()})`);
    if (s.json.length > 0) {
      let doc: unknown;
      try {
        doc = JSON.parse(body);
      } catch {
        return fail(`body is not JSON (got ${shown()})`);
      }
      for (const [i, c] of s.json.entries()) {
        // Evaluation errors (a filter reading a field some elements lack) select nothing there, as kubectl's JSONPath does.
        // A body of `null` gives no result at all rather than an empty one.
        const values = (JSONPath({ path: c.path, json: doc as object, eval: 'safe', ignoreEvalErrors: true, wrap: true }) as unknown[] | undefined) ?? [];
        const why = jsonFailure(c, values, this.jsonPatterns[i]);
        if (why !== undefined) return fail(why);
      }
    }
    if (s.maxLatencyMs !== undefined && latencyMs > s.maxLatencyMs) {
      return { status: 'fail', message: `${statusText}, but latency ${ms(latencyMs)} > ${ms(s.maxLatencyMs)}`, value: ms(latencyMs) };
    }
    const latency = s.maxLatencyMs !== undefined ? [`latency ${ms(latencyMs)} <= ${ms(s.maxLatencyMs)}`] : [];
    return { status: 'pass', message: [statusText, ...this.bodyClauses(), ...latency].join(', '), value: code };
  }

  /** Text with every header value hidden: bodies and errors may echo what was sent. */
  private redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('***');
    return out;
  }
}

/** A timeout as the platform (AbortSignal.timeout) and KubeClient (RequestTimeoutError) name it. */
function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError';
}

/** fetch reports "fetch failed" with the real cause beneath; the cause's code names it best. */
function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' && !cause.message.includes(code) ? `${cause.message} (${code})` : cause.message;
  }
  return err.message;
}
