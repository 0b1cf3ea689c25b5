// Real requests against the stack, as users send them: shares of answers over n requests
// (which version answered how often), and a loop that runs beside a rollout and records
// every answer and every failure with its time, so tests can count failed requests and
// see when traffic switched. The sample app answers GET /version with its version.
//
// Every request opens its own connection: a Service's ClusterIP spreads connections, not
// requests, over its pods (kube-proxy picks an endpoint per connection), so reusing one
// keep-alive connection would send every request to the same pod.
import { request } from 'node:http';

export interface Answer {
  /** When the request was sent (ms since the epoch), comparable with Date.now() elsewhere. */
  at: number;
  /** How long it took. */
  ms: number;
  /** The body of a 200 answer, trimmed (the version). */
  answer?: string;
  status?: number;
  /** Why the request failed: "HTTP 503", "ECONNREFUSED", "timed out", … */
  error?: string;
}

export interface RequestOptions {
  /** The Host header, e.g. the hostname of an HTTPRoute on a shared Gateway. */
  host?: string;
  timeoutMs?: number;
}

/** One GET; never throws: a failure is an answer with `error`. */
export function ask(url: string, options: RequestOptions = {}): Promise<Answer> {
  const at = Date.now();
  return new Promise((resolve) => {
    const done = (a: Omit<Answer, 'at' | 'ms'>): void => resolve({ at, ms: Date.now() - at, ...a });
    const req = request(url, { agent: false, headers: options.host ? { host: options.host } : {}, timeout: options.timeoutMs ?? 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? done({ status: 200, answer: body.trim() }) : done({ status: res.statusCode, error: `HTTP ${res.statusCode}` })));
      res.on('error', (err) => done({ error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => done({ error: err.code ?? err.message }));
    req.end();
  });
}

export interface Shares {
  /** Requests sent. */
  n: number;
  /** 200 answers by body, e.g. { v1: 301, v2: 99 }. */
  counts: Record<string, number>;
  /** Requests that got no 200. */
  failures: number;
  /** The failures by reason, e.g. { "HTTP 503": 2 }. */
  errors: Record<string, number>;
}

/** Sends n requests, `concurrency` at a time, and counts the answers. */
export async function sampleShares(url: string, options: RequestOptions & { n: number; concurrency?: number }): Promise<Shares> {
  const shares: Shares = { n: options.n, counts: {}, failures: 0, errors: {} };
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < options.n) {
      sent++;
      const a = await ask(url, options);
      if (a.answer !== undefined) shares.counts[a.answer] = (shares.counts[a.answer] ?? 0) + 1;
      else {
        shares.failures++;
        shares.errors[a.error!] = (shares.errors[a.error!] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, options.n) }, worker));
  return shares;
}

/**
 * Sends requests until `count` different answers have come back, e.g. to the sample app's
 * `/` (which names the pod that answers): every pod is then reachable through the URL,
 * and a measurement of shares counts all of them. Returns how many requests it took.
 */
export async function untilDistinctAnswers(url: string, count: number, options: RequestOptions & { timeoutMs?: number } = {}): Promise<number> {
  const seen = new Set<string>();
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (let sent = 1; ; sent++) {
    const a = await ask(url, { host: options.host });
    if (a.answer !== undefined) seen.add(a.answer);
    if (seen.size >= count) return sent;
    if (Date.now() > deadline) throw new Error(`${url} gave ${seen.size} different answers in ${sent} requests, not ${count}: ${[...seen].join(' | ')}`);
  }
}

/** The share of one answer, 0..1. */
export const shareOf = (shares: Shares, answer: string): number => (shares.counts[answer] ?? 0) / shares.n;

/**
 * How far a share measured over n requests may stray from p and still be p: three
 * binomial standard deviations (a false alarm about 1 run in 370), plus `margin` for what
 * the routing itself rounds.
 */
export function shareTolerance(p: number, n: number, margin = 0.02): number {
  return 3 * Math.sqrt((p * (1 - p)) / n) + margin;
}

/**
 * Requests one after another (or `concurrency` side by side) until stopped, recording every
 * answer and failure with its time: failed requests during a switch, the moment traffic
 * moved, how long a switch back took.
 */
export class RequestLoop {
  readonly records: Answer[] = [];
  private running = false;
  private workers: Promise<void>[] = [];

  constructor(private readonly url: string, private readonly options: RequestOptions & { concurrency?: number; /** Pause between one worker's requests. */ intervalMs?: number } = {}) {}

  start(): this {
    if (this.running) return this;
    this.running = true;
    this.workers = Array.from({ length: this.options.concurrency ?? 1 }, async () => {
      while (this.running) {
        this.records.push(await ask(this.url, { timeoutMs: 2_000, ...this.options }));
        if (this.options.intervalMs) await new Promise((r) => setTimeout(r, this.options.intervalMs));
      }
    });
    return this;
  }

  /** Stops after the requests in flight and returns every record, in the order they were sent. */
  async stop(): Promise<Answer[]> {
    this.running = false;
    await Promise.all(this.workers);
    return this.records.sort((a, b) => a.at - b.at);
  }

  failures(): Answer[] {
    return this.records.filter((r) => r.error !== undefined);
  }
}

/** When answers became `answer` for good: the time of the first request of the final run of it, or undefined if the last answer is another. */
export function settledAt(records: Answer[], answer: string): number | undefined {
  const sorted = [...records].sort((a, b) => a.at - b.at);
  let since: number | undefined;
  for (const r of sorted) {
    if (r.answer === answer) since ??= r.at;
    else since = undefined;
  }
  return since;
}

/** Answers in order with repeats folded: ['v1', 'v2'] is one switch. Failures count as their error. */
export function switches(records: Answer[]): string[] {
  const seq = [...records].sort((a, b) => a.at - b.at).map((r) => r.answer ?? r.error!);
  return seq.filter((a, i) => i === 0 || a !== seq[i - 1]);
}
