// Prometheus's HTTP API, the two calls gates make: an instant query and a range query.
// Written by hand on Node's fetch: the npm clients for it wrap these same two GETs in an
// HTTP library of their own (axios), and what Gantry needs from them is exactly what they
// hide: the HTTP status, Prometheus's errorType, and a timeout that aborts the request.
import type { PrometheusEndpoint } from './gate.js';

/** One series: its labels and its values (numbers; NaN and ±Inf as Prometheus sends them). */
export interface Series {
  metric: Record<string, string>;
  values: Array<[number, number]>;
}

export type InstantResult =
  | { type: 'scalar'; value: number }
  | { type: 'vector'; series: Array<{ metric: Record<string, string>; value: number }> }
  | { type: 'other'; resultType: string };

/** Prometheus could not be asked, or refused the query: nothing was measured. */
export class PrometheusError extends Error {
  constructor(message: string, readonly kind: 'unreachable' | 'timeout' | 'http' | 'query') {
    super(message);
    this.name = 'PrometheusError';
  }
}

export interface QueryOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Prometheus writes sample values as strings, with NaN and ±Inf spelt out. */
const sampleValue = (v: unknown): number => (typeof v === 'string' ? (v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v)) : NaN);

export class PrometheusApi {
  constructor(readonly endpoint: PrometheusEndpoint) {}

  /** Counted for the note on how often an analysis asks. */
  queries = 0;

  async query(query: string, options: QueryOptions): Promise<InstantResult> {
    const data = await this.get('/api/v1/query', { query }, options);
    if (data.resultType === 'scalar') return { type: 'scalar', value: sampleValue((data.result as unknown[])[1]) };
    if (data.resultType === 'vector') {
      const series = (data.result as Array<{ metric?: Record<string, string>; value?: unknown[] }>).map((s) => ({ metric: s.metric ?? {}, value: sampleValue(s.value?.[1]) }));
      return { type: 'vector', series };
    }
    return { type: 'other', resultType: String(data.resultType) };
  }

  /** Samples of a query from `start` to `end` (ms), `stepMs` apart. */
  async queryRange(query: string, start: number, end: number, stepMs: number, options: QueryOptions): Promise<Series[]> {
    const data = await this.get('/api/v1/query_range', { query, start: String(start / 1000), end: String(end / 1000), step: `${stepMs / 1000}s` }, options);
    if (data.resultType !== 'matrix') throw new PrometheusError(`expected a range of samples (matrix), got ${String(data.resultType)}`, 'query');
    return (data.result as Array<{ metric?: Record<string, string>; values?: unknown[][] }>).map((s) => ({
      metric: s.metric ?? {},
      values: (s.values ?? []).map((p) => [Number(p[0]) * 1000, sampleValue(p[1])] as [number, number]),
    }));
  }

  private async get(path: string, params: Record<string, string>, options: QueryOptions): Promise<{ resultType?: unknown; result?: unknown }> {
    this.queries++;
    const url = `${this.endpoint.url.replace(/\/+$/, '')}${path}?${new URLSearchParams(params)}`;
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let res: Response;
    try {
      res = await fetch(url, { headers: this.headers(), signal });
    } catch (err) {
      if (timeout.aborted) throw new PrometheusError(`no answer from ${this.endpoint.url} within ${options.timeoutMs / 1000}s`, 'timeout');
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new PrometheusError(`cannot reach ${this.endpoint.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, 'unreachable');
    }
    let text: string;
    try {
      text = await res.text();
    } catch {
      throw new PrometheusError(`no answer from ${this.endpoint.url} within ${options.timeoutMs / 1000}s`, 'timeout');
    }
    let body: { status?: string; data?: { resultType?: unknown; result?: unknown }; errorType?: string; error?: string } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
    if (body?.status === 'error') throw new PrometheusError(`Prometheus refused the query (${body.errorType ?? `HTTP ${res.status}`}): ${body.error ?? 'no message'}`, 'query');
    if (!res.ok || body?.status !== 'success' || !body.data) {
      throw new PrometheusError(`HTTP ${res.status} from ${this.endpoint.url}${path}: ${text.replace(/\s+/g, ' ').slice(0, 100)}`, 'http');
    }
    return body.data;
  }

  private headers(): Record<string, string> {
    const { bearerToken, username, password } = this.endpoint;
    if (bearerToken) return { authorization: `Bearer ${bearerToken}` };
    if (username !== undefined) return { authorization: `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` };
    return {};
  }
}
