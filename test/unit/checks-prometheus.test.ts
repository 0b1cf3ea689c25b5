// The Prometheus gate against a local HTTP server that answers as Prometheus's API does:
// the query sent with its variables filled in, a number held to its CEL condition, and the
// honest cases: nothing, NaN or several series are inconclusive (unless on-empty says
// otherwise), and a refused query, an HTTP error, a timeout or no server at all are errors.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateContext } from '../../src/checks/gate.js';
import { PrometheusGate, podPattern } from '../../src/checks/prometheus.js';
import { parseGateSpecs } from '../../src/checks/spec.js';
import type { PrometheusCheckSpec } from '../../src/checks/spec/prometheus.js';
import { JudgeGate } from '../../src/checks/judge.js';
import type { JudgeCheckSpec } from '../../src/checks/spec/judge.js';
import { FakeClock, FakeCluster } from '../fixtures/deploy/fake-cluster.js';

interface Asked { query: string; auth?: string }

let server: Server;
let base: string;
const asked: Asked[] = [];
/** What the server answers next: a status and a body, or a delay that outlasts the gate's timeout. */
let answer: { status: number; body: unknown; delayMs?: number } = { status: 200, body: {} };

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url!, 'http://x');
    asked.push({ query: url.searchParams.get('query') ?? '', auth: req.headers.authorization });
    const reply = (): void => {
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    };
    if (answer.delayMs) setTimeout(reply, answer.delayMs);
    else reply();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));

const vector = (...values: Array<[Record<string, string>, string]>) => ({ status: 'success', data: { resultType: 'vector', result: values.map(([metric, v]) => ({ metric, value: [1700000000, v] })) } });

function gate(fields: Record<string, unknown>, interval = '10s'): PrometheusGate {
  const { specs, errors } = parseGateSpecs([{ name: 'errors', interval, prometheus: { query: 'q', condition: 'result < 0.01', ...fields } }], 'analysis');
  expect(errors).toEqual([]);
  return new PrometheusGate(specs[0]!.check as PrometheusCheckSpec, 'errors', specs[0]!.intervalMs);
}

const ctx = (extra: Partial<GateContext> = {}): GateContext => ({
  client: new FakeCluster(), namespace: 'shop',
  services: { stable: 'web', canary: 'web-canary' }, workloads: { stable: 'web', canary: 'web-canary' }, version: 'v2',
  prometheus: { url: base }, ...extra,
});

describe('the Prometheus gate', () => {
  it('fills in the template variables: namespace, Service, version, the pods of each side, the interval', async () => {
    answer = { status: 200, body: vector([{}, '0.001']) };
    const g = gate({ query: 'sum(rate(x{namespace="{{namespace}}", pod=~"{{canary}}", svc="{{service}}", v="{{version}}"}[{{interval}}])) / sum(rate(x{pod=~"{{stable}}"}[{{ interval }}]))' }, '30s');
    await g.measure(ctx());
    expect(asked.at(-1)!.query).toBe(`sum(rate(x{namespace="shop", pod=~"${podPattern('web-canary')}", svc="web", v="v2"}[30s])) / sum(rate(x{pod=~"${podPattern('web')}"}[30s]))`);
    expect(podPattern('web-canary')).toBe('web-canary-[a-z0-9]+-[a-z0-9]+');
  });

  it.each([
    ['a value that meets the condition passes', vector([{}, '0.004']), 'pass', 'result 0.004: result < 0.01 holds'],
    ['a scalar that does not fails', { status: 'success', data: { resultType: 'scalar', result: [1, '0.05'] } }, 'fail', 'result 0.05: result < 0.01 does not hold'],
    ['an empty result is inconclusive, never a pass', vector(), 'inconclusive', 'the query returned no data'],
    ['NaN (0/0, no requests) is inconclusive', vector([{}, 'NaN']), 'inconclusive', 'the query returned NaN'],
    ['+Inf is inconclusive', vector([{}, '+Inf']), 'inconclusive', 'the query returned +Inf'],
    ['several series are inconclusive, named', vector([{ pod: 'a' }, '0'], [{ pod: 'b' }, '0']), 'inconclusive', 'the query returned 2 series ({pod="a"}, {pod="b"}); it must return one'],
  ])('%s', async (_name, body, status, message) => {
    answer = { status: 200, body };
    const v = await gate({}).measure(ctx());
    expect(v.status).toBe(status);
    expect(v.message).toContain(message);
    expect(v.condition).toBe('result < 0.01');
  });

  it('on-empty can make an empty result a pass or a fail, and says so', async () => {
    answer = { status: 200, body: vector() };
    expect(await gate({ 'on-empty': 'pass' }).measure(ctx())).toMatchObject({ status: 'pass', message: 'the query returned no data (on-empty: pass)' });
    expect((await gate({ 'on-empty': 'fail' }).measure(ctx())).status).toBe('fail');
  });

  it.each([
    ['a query Prometheus refuses', { status: 400, body: { status: 'error', errorType: 'bad_data', error: 'parse error at char 3' } }, 'Prometheus refused the query (bad_data): parse error at char 3'],
    ['an HTTP error', { status: 503, body: 'Service Unavailable' }, 'HTTP 503 from'],
    ['an answer slower than the timeout', { status: 200, body: vector([{}, '0']), delayMs: 1500 }, 'no answer from'],
  ])('%s is an error: nothing was measured', async (_name, reply, message) => {
    answer = reply;
    const v = await gate({ timeout: '300ms' }).measure(ctx());
    expect(v.status).toBe('error');
    expect(v.message).toContain(message);
  });

  it('no Prometheus listening is an error naming the address', async () => {
    // A port that was just free: listened on, then closed.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const v = await gate({}).measure(ctx({ prometheus: { url: `http://127.0.0.1:${port}` } }));
    expect(v).toMatchObject({ status: 'error' });
    expect(v.message).toBe(`cannot reach http://127.0.0.1:${port}: ECONNREFUSED`);
  });

  it('sends the configured bearer token or basic auth, and not to a gate\'s own other address', async () => {
    answer = { status: 200, body: vector([{}, '0']) };
    await gate({}).measure(ctx({ prometheus: { url: base, bearerToken: 's3cret' } }));
    expect(asked.at(-1)!.auth).toBe('Bearer s3cret');
    await gate({}).measure(ctx({ prometheus: { url: base, username: 'u', password: 'p' } }));
    expect(asked.at(-1)!.auth).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    await gate({ address: base.replace('127.0.0.1', 'localhost') }).measure(ctx({ prometheus: { url: base, bearerToken: 's3cret' } }));
    expect(asked.at(-1)!.auth).toBeUndefined();
  });
});

describe('what gates measured, over time, for the summary\'s chart', () => {
  it('a Prometheus gate keeps its number as a point of its series; nothing measured, no point', async () => {
    answer = { status: 200, body: vector([{}, '0.004']) };
    const clock = new FakeClock();
    expect((await gate({}).measure(ctx({ clock }))).series).toEqual({ name: 'errors', points: [[clock.now(), 0.004]] });
    answer = { status: 200, body: vector([{}, 'NaN']) };
    expect((await gate({}).measure(ctx())).series).toBeUndefined();
  });

  it('a judge keeps the samples of its critical metric on both sides, with their times', async () => {
    const values = [0.05, 0.06, 0.05, 0.07, 0.05, 0.06, 0.05, 0.06];
    answer = { status: 200, body: { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: values.map((v, i) => [1700000000 + 5 * i, String(v)]) }] } } };
    const { specs, errors } = parseGateSpecs([{ name: 'judge', judge: { duration: '40s', metrics: [
      { name: 'errors', query: 'e{pod=~"{{pods}}"}' },
      { name: 'p95 latency', query: 'l{pod=~"{{pods}}"}', unit: 's', critical: true },
    ] } }], 'steps[1].analysis');
    expect(errors).toEqual([]);
    const v = await new JudgeGate(specs[0]!.check as JudgeCheckSpec, 'judge').measure(ctx({ clock: new FakeClock() }));
    const points = values.map((value, i) => [(1700000000 + 5 * i) * 1000, value]);
    expect(v.series).toEqual({ name: 'p95 latency', unit: 's', points, stable: points });
  });
});

describe('prometheus gate specs', () => {
  const problems = (fields: Record<string, unknown>): string[] => parseGateSpecs([{ prometheus: fields }], 'background').errors.map((e) => e.message);

  it('are checked before anything runs, each problem at its YAML path', () => {
    expect(problems({ query: 'x{pod=~"{{pods}}"}', condition: 'result < 0.01' })).toEqual([expect.stringMatching(/^background\[0\]\.prometheus\.query: uses \{\{pods\}\}; the variables are \{\{namespace\}\}/)]);
    expect(problems({ query: 'x', condition: 'result <' })).toEqual([expect.stringMatching(/^background\[0\]\.prometheus\.condition: is not a valid condition: /)]);
    expect(problems({ query: 'x', condition: 'result + 1.0' })).toEqual(['background[0].prometheus.condition: must be true or false, but "result + 1.0" is a double']);
    expect(problems({ query: 'x', condition: 'errors < 1.0' })[0]).toMatch(/^background\[0\]\.prometheus\.condition: is not a valid condition/);
    expect(problems({ query: 'x', condition: 'result < 1', 'on-empty': 'ignore', adress: 'x' })).toEqual([
      'background[0].prometheus.adress: is not a prometheus field; expected one of address, query, condition, on-empty, timeout',
      'background[0].prometheus.on-empty: must be inconclusive, pass or fail, got "ignore"',
    ]);
    expect(problems({ condition: 'result < 1' })).toEqual(['background[0].prometheus.query: is required: a PromQL query']);
  });
});
