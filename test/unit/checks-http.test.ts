// The HTTP gate against the fake cluster's service proxy, and against a real HTTP server on
// the loopback address for URL targets: what the pods answered, what the proxy said when it
// could not reach them, JSON values, latency budgets, timeouts, retries, and header values
// (which may be tokens) never shown.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GateContext } from '../../src/checks/gate.js';
import { HttpGate, httpGateName } from '../../src/checks/http.js';
import { gateFor } from '../../src/checks/run.js';
import { parseGateSpecs, type GateSpec, type HttpCheckSpec } from '../../src/checks/spec.js';
import { RequestTimeoutError, type ProxyResponse } from '../../src/kube/client.js';
import { FakeClock, FakeCluster } from '../fixtures/deploy/fake-cluster.js';

function gateSpec(http: Record<string, unknown>, extra: Record<string, unknown> = {}): GateSpec {
  const { specs, errors } = parseGateSpecs([{ http, ...extra }], 'analysis');
  expect(errors.map((e) => e.message)).toEqual([]);
  return specs[0]!;
}
const spec = (http: Record<string, unknown>, extra: Record<string, unknown> = {}): GateSpec =>
  gateSpec({ service: '${preview}', port: 80, path: '/healthz', ...http }, extra);
const check = (http: Record<string, unknown> = {}): HttpCheckSpec => spec(http).check as HttpCheckSpec;

/** What the API server answers itself when its proxy cannot reach the pods. */
const proxyStatus = (code: number, reason: string, message: string) => ({
  status: code,
  body: JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }),
});

function context(answer: FakeCluster['proxyAnswer'], services: Record<string, string> = { preview: 'web-preview', active: 'web' }) {
  const cluster = new FakeCluster();
  const asked: string[] = [];
  cluster.proxyAnswer = (ns, service, path, request) => {
    asked.push(`${ns}/${service}${path}`);
    return answer(ns, service, path, request);
  };
  const clock = new FakeClock();
  const ctx: GateContext = { client: cluster, namespace: 'shop', services, clock };
  return { ctx, asked, clock, cluster };
}

/** Answers in turn, the last one repeated. */
function answers(...list: (ProxyResponse | Error)[]): () => ProxyResponse {
  let i = 0;
  return () => {
    const a = list[Math.min(i++, list.length - 1)]!;
    if (a instanceof Error) throw a;
    return a;
  };
}

describe('HttpGate through the service proxy', () => {
  it.each([
    ['2xx by default', {}, { status: 200, body: 'ok' }, 'pass', 'status 200 in 2xx'],
    ['an exact status', { 'expect-status': 200 }, { status: 200, body: 'ok' }, 'pass', 'status 200 == 200'],
    ['a status list', { 'expect-status': [200, '3xx'] }, { status: 302, body: '' }, 'pass', 'status 302 in [200, 3xx]'],
    ['a body that contains the text', { 'body-contains': 'v1' }, { status: 200, body: 'v1\n' }, 'pass', 'status 200 in 2xx, body contains "v1"'],
    ['a body that matches', { 'body-matches': '^v\\d' }, { status: 200, body: 'v1\n' }, 'pass', 'status 200 in 2xx, body matches /^v\\d/'],
    ['a 500 from the pods', {}, { status: 500, body: 'injected failure (ERROR_RATE)\n' }, 'fail', 'status 500 not in 2xx (body "injected failure (ERROR_RATE)")'],
    ['a status other than the one expected', { 'expect-status': 204 }, { status: 200, body: 'ok' }, 'fail', 'status 200 != 204 (body "ok")'],
    ['a 503 from the pods themselves', {}, { status: 503, body: 'not ready\n' }, 'fail', 'status 503 not in 2xx (body "not ready")'],
    ['a body without the text', { 'body-contains': 'v2' }, { status: 200, body: 'v1\n' }, 'fail', 'status 200 in 2xx, but body lacks "v2" (got "v1")'],
    ['a body that does not match', { 'body-matches': '^v2' }, { status: 200, body: 'v1' }, 'fail', 'status 200 in 2xx, but body does not match /^v2/ (got "v1")'],
    ['a long body, cut short', {}, { status: 500, body: `${'x'.repeat(200)}\nmore` }, 'fail', `status 500 not in 2xx (body "${'x'.repeat(59)}…")`],
    ['a redirect, not followed', {}, { status: 301, body: '', headers: { location: '/healthz/' } }, 'fail', 'status 301 not in 2xx (redirect to /healthz/, not followed)'],
    ['a Service without ready endpoints', {}, proxyStatus(503, 'ServiceUnavailable', 'no endpoints available for service "web-preview"'), 'fail', 'proxy to web-preview:80: no endpoints available for service "web-preview"'],
    ['pods that refuse the connection', {}, proxyStatus(503, 'ServiceUnavailable', 'error trying to reach service: dial tcp 10.1.0.7:8080: connect: connection refused'), 'fail', 'proxy to web-preview:80: error trying to reach service: dial tcp 10.1.0.7:8080: connect: connection refused'],
    ['a Service that does not exist', {}, proxyStatus(404, 'NotFound', 'services "web-preview" not found'), 'fail', 'proxy to web-preview:80: services "web-preview" not found'],
    ['credentials that may not use the proxy', {}, proxyStatus(403, 'Forbidden', 'services "web-preview" is forbidden: User "ci" cannot get resource "services/proxy"'), 'error', 'the API server refused the proxy request (Forbidden: services "web-preview" is forbidden: User "ci" cannot get resource "services/proxy")'],
  ])('%s', async (_name, http, answer, status, message) => {
    const { ctx } = context(() => answer);
    const v = await new HttpGate(check(http), 'smoke').measure(ctx);
    expect(v).toMatchObject({ gate: 'smoke', status, message, value: String(answer.status) });
    expect(v.message).not.toContain('\n');
  });

  it('asks the Service a placeholder stands for, in the context namespace, and says what it held the answer to', async () => {
    const { ctx, asked, clock } = context(() => ({ status: 200, body: 'ok' }));
    const v = await new HttpGate(check({ 'expect-status': 200, 'body-contains': 'ok', 'body-matches': 'o+' }), 'smoke').measure(ctx);
    expect(asked).toEqual(['shop/web-preview/healthz']);
    expect(v).toEqual({
      gate: 'smoke', status: 'pass', value: '200', at: clock.t,
      condition: 'status == 200 and body contains "ok" and body matches /o+/',
      message: 'status 200 == 200, body contains "ok", body matches /o+/',
    });
  });

  it('sends the method, headers and body as written, with a timeout, a User-Agent and a Content-Type for the body', async () => {
    const { ctx, cluster } = context(() => ({ status: 202, body: '' }));
    const v = await new HttpGate(check({ method: 'POST', path: '/hooks/smoke?dry=1', headers: { 'X-Env': 'staging' }, body: 'ping', timeout: '3s' })).measure(ctx);
    expect(v.status).toBe('pass');
    expect(cluster.proxyRequests).toEqual([{
      namespace: 'shop', service: 'web-preview', port: 80, path: '/hooks/smoke?dry=1', method: 'POST', body: 'ping', timeoutMs: 3000, signal: undefined,
      headers: { 'User-Agent': 'gantry-http-gate', 'Content-Type': 'text/plain; charset=utf-8', 'X-Env': 'staging' },
    }]);
  });

  it('resolves placeholders inside a name, and plain names as they are', async () => {
    const { ctx, asked } = context(() => ({ status: 200, body: 'ok' }), { stable: 'web' });
    await new HttpGate(check({ service: '${stable}-admin' })).measure(ctx);
    await new HttpGate(check({ service: 'metrics' })).measure(ctx);
    expect(asked).toEqual(['shop/web-admin/healthz', 'shop/metrics/healthz']);
  });

  it('is an error, with nothing asked and nothing retried, when the strategy names no Service for its placeholder', async () => {
    const { ctx, asked } = context(() => ({ status: 200, body: 'ok' }), { preview: 'web-preview', active: 'web' });
    const v = await new HttpGate(check({ service: '${canary}', retries: 3 })).measure(ctx);
    expect(v).toMatchObject({ status: 'error', message: 'no ${canary} Service at this point of the rollout (there is ${preview}, ${active})' });
    expect(v.value).toBeUndefined();
    expect(asked).toEqual([]);
  });

  it('is an error, not a fail, when the API server cannot be reached: nothing was measured', async () => {
    const { ctx } = context(() => {
      throw new Error('Could not reach the API server 127.0.0.1:6443 (GET /api/v1/…):\nconnect ECONNREFUSED 127.0.0.1:6443');
    });
    const v = await new HttpGate(check()).measure(ctx);
    expect(v).toMatchObject({ status: 'error', message: 'no answer from the API server: Could not reach the API server 127.0.0.1:6443 (GET /api/v1/…): connect ECONNREFUSED 127.0.0.1:6443' });
    expect(v.value).toBeUndefined();
  });

  it('is an error when no answer comes through the API server within the timeout', async () => {
    const { ctx } = context(() => {
      throw new RequestTimeoutError('GET /api/v1/namespaces/shop/services/web-preview:80/proxy/healthz: no whole answer within 10000 ms');
    });
    const v = await new HttpGate(check()).measure(ctx);
    expect(v).toMatchObject({ status: 'error', message: 'no answer through the API server within 10 s (timeout)' });
    expect(v.value).toBeUndefined();
  });

  it('is named after its target, with the method and placeholders resolved when the Services are known', () => {
    const s = spec({ port: 80, path: '/healthz' });
    expect(httpGateName(s.check as HttpCheckSpec)).toBe('http ${preview}:80/healthz');
    expect(gateFor(s, { preview: 'web-preview' }).name).toBe('http web-preview:80/healthz');
    expect(gateFor(spec({ method: 'post', body: 'x' }), { preview: 'web-preview' }).name).toBe('http POST web-preview:80/healthz');
    expect(gateFor(gateSpec({ url: 'https://shop.example.com/healthz' }), {}).name).toBe('http https://shop.example.com/healthz');
    expect(gateFor(spec({}, { name: 'smoke' }), { preview: 'web-preview' }).name).toBe('smoke');
  });
});

describe('HttpGate JSON checks', () => {
  const status = { status: 'ok', version: 'v1.4.2', items: [{ name: 'db', ok: true }, { name: 'cache', ok: false }], error: null };
  const json = (...checks: Record<string, unknown>[]) => check({ json: checks });

  it('passes when every path holds, and says so clause by clause', async () => {
    const { ctx } = context(() => ({ status: 200, body: JSON.stringify(status) }));
    const gate = new HttpGate(json(
      { path: '$.status', equals: 'ok' },
      { path: '$.items.length', equals: 2 },
      { path: '$.version', matches: '^v1\\.' },
      { path: '$.items[?(@.name == "db")].ok', equals: true },
      { path: '$.error', exists: true },
      { path: '$.warnings', exists: false },
    ), 'status');
    const v = await gate.measure(ctx);
    expect(v).toMatchObject({
      status: 'pass', value: '200',
      message: 'status 200 in 2xx, $.status == "ok", $.items.length == 2, $.version matches /^v1\\./, $.items[?(@.name == "db")].ok == true, $.error exists, $.warnings does not exist',
    });
    expect(gate.condition).toBe('status in 2xx and $.status == "ok" and $.items.length == 2 and $.version matches /^v1\\./ and $.items[?(@.name == "db")].ok == true and $.error exists and $.warnings does not exist');
  });

  it.each([
    ['a value that differs', { path: '$.status', equals: 'up' }, 'status 200 in 2xx, but $.status is "ok", expected "up"'],
    ['a count that differs', { path: '$.items.length', equals: 3 }, 'status 200 in 2xx, but $.items.length is 2, expected 3'],
    ['a number written as a string', { path: '$.items.length', equals: '2' }, 'status 200 in 2xx, but $.items.length is 2, expected "2"'],
    ['a value missing', { path: '$.uptime', equals: 1 }, 'status 200 in 2xx, but $.uptime selects nothing'],
    ['one of several values that differs', { path: '$.items[*].ok', equals: true }, 'status 200 in 2xx, but $.items[*].ok selects [true,false], expected each true'],
    ['a value that does not match', { path: '$.version', matches: '^v2' }, 'status 200 in 2xx, but $.version is "v1.4.2", which does not match /^v2/'],
    ['a value that should not exist', { path: '$.error', exists: false }, 'status 200 in 2xx, but $.error exists (null)'],
    ['a value that should exist', { path: '$.uptime', exists: true }, 'status 200 in 2xx, but $.uptime selects nothing'],
  ])('fails on %s', async (_name, jsonCheck, message) => {
    const { ctx } = context(() => ({ status: 200, body: JSON.stringify(status) }));
    expect(await new HttpGate(json(jsonCheck)).measure(ctx)).toMatchObject({ status: 'fail', value: '200', message });
  });

  it('fails when the body is JSON null, which has no values', async () => {
    const { ctx } = context(() => ({ status: 200, body: 'null' }));
    expect(await new HttpGate(json({ path: '$.status', equals: 'ok' })).measure(ctx)).toMatchObject({ status: 'fail', message: 'status 200 in 2xx, but $.status selects nothing' });
  });

  it('fails with an excerpt when the body is not JSON', async () => {
    const { ctx } = context(() => ({ status: 200, body: '<html><body>Welcome to nginx!</body></html>' }));
    expect(await new HttpGate(json({ path: '$.status', equals: 'ok' })).measure(ctx)).toMatchObject({
      status: 'fail', value: '200', message: 'status 200 in 2xx, but body is not JSON (got "<html><body>Welcome to nginx!</body></html>")',
    });
  });
});

describe('HttpGate retries within one measurement', () => {
  it('tries again after a failed try, backoff apart and doubling, and says how many tries it took', async () => {
    const { ctx, clock, cluster } = context(answers({ status: 503, body: 'starting' }, new Error('connect ECONNRESET'), { status: 200, body: 'ok' }));
    const t0 = clock.t;
    const v = await new HttpGate(check({ retries: 3, backoff: '1s' })).measure(ctx);
    expect(v).toMatchObject({ status: 'pass', value: '200', message: 'status 200 in 2xx (after 3 tries)', at: t0 + 3000 });
    expect(cluster.proxyRequests).toHaveLength(3);
  });

  it('gives the last try\'s verdict when every try falls short', async () => {
    const { ctx, cluster } = context(answers({ status: 500, body: 'boom' }));
    const v = await new HttpGate(check({ retries: 2, backoff: '100ms' })).measure(ctx);
    expect(v).toMatchObject({ status: 'fail', value: '500', message: 'status 500 not in 2xx (body "boom") (after 3 tries)' });
    expect(cluster.proxyRequests).toHaveLength(3);
  });

  it('caps the backoff at 30 s', async () => {
    const { ctx, clock } = context(answers({ status: 500, body: 'boom' }));
    const t0 = clock.t;
    await new HttpGate(check({ retries: 3, backoff: '20s' })).measure(ctx);
    expect(clock.t - t0).toBe(20_000 + 30_000 + 30_000);
  });

  it('makes one try by default', async () => {
    const { ctx, cluster } = context(answers({ status: 500, body: 'boom' }));
    expect((await new HttpGate(check()).measure(ctx)).message).toBe('status 500 not in 2xx (body "boom")');
    expect(cluster.proxyRequests).toHaveLength(1);
  });

  it('stops trying once the run is stopped', async () => {
    const stop = new AbortController();
    const { ctx, cluster } = context(() => {
      if (cluster.proxyRequests.length === 2) stop.abort(new Error('gate run stopped'));
      return { status: 500, body: 'boom' };
    });
    ctx.signal = stop.signal;
    const v = await new HttpGate(check({ retries: 5 })).measure(ctx);
    expect(cluster.proxyRequests).toHaveLength(2);
    expect(v.message).toMatch(/\(after 2 tries\)$/);
  });
});

describe('HttpGate header values', () => {
  const token = 'Bearer eyJhbGciOiJSUzI1NiJ9.s3cr3t';

  it('never appear in a verdict, even when the target echoes them back', async () => {
    const { ctx } = context((_ns, _svc, _path, request) => ({ status: 401, body: `rejected ${request.headers?.['X-Api-Key']} for ${request.headers?.['X-Api-Key']?.split(' ')[1]}` }));
    const v = await new HttpGate(check({ headers: { 'X-Api-Key': token } })).measure(ctx);
    expect(v.status).toBe('fail');
    expect(v.message).toBe('status 401 not in 2xx (body "rejected *** for ***")');
    expect(JSON.stringify(v)).not.toContain('s3cr3t');
  });

  it('never appear in the error of a request that got no answer', async () => {
    const { ctx } = context(() => {
      throw new Error(`invalid header value "${token}"`);
    });
    const v = await new HttpGate(check({ headers: { 'X-Api-Key': token } })).measure(ctx);
    expect(v).toMatchObject({ status: 'error', message: 'no answer from the API server: invalid header value "***"' });
  });
});

describe('HttpGate latency budget', () => {
  it('fails with the latency measured, as the value, when the answer takes longer than max-latency', async () => {
    const { ctx } = context(async () => {
      await delay(120);
      return { status: 200, body: 'ok' };
    });
    const gate = new HttpGate(check({ 'max-latency': '50ms' }));
    const v = await gate.measure(ctx);
    expect(v.status).toBe('fail');
    expect(v.message).toMatch(/^status 200 in 2xx, but latency (\d+) ms > 50 ms$/);
    expect(Number(/latency (\d+) ms/.exec(v.message)![1])).toBeGreaterThanOrEqual(110);
    expect(v.value).toMatch(/^\d+ ms$/);
    expect(gate.condition).toBe('status in 2xx and latency <= 50 ms');
  });
});

/** A real HTTP server on the loopback address, for URL targets. */
describe('HttpGate against a URL, from the runner', () => {
  let server: Server;
  let base: string;
  const seen: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];
  let flaky = 0;

  function route(req: IncomingMessage, res: ServerResponse, body: string): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, text: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'Content-Type': 'text/plain', ...headers }).end(text);
    };
    switch (url.pathname) {
      case '/ok': return send(200, 'ok\n');
      case '/fail': return send(500, 'injected failure\n');
      case '/status.json': return send(200, JSON.stringify({ status: 'ok', items: [1, 2], version: 'v1.4.2' }), { 'Content-Type': 'application/json' });
      case '/moved': return send(302, '', { Location: '/ok' });
      case '/echo': return send(403, `denied ${req.headers['authorization']}`);
      case '/hook': return send(201, `${req.method} ${body}`);
      case '/flaky': return ++flaky < 3 ? send(503, 'warming up') : send(200, 'ok');
      case '/slow': {
        const timer = setTimeout(() => send(200, 'slow ok'), Number(url.searchParams.get('ms')));
        res.on('close', () => clearTimeout(timer));
        return;
      }
      default: return send(404, 'not found');
    }
  }

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        route(req, res, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    seen.length = 0;
    flaky = 0;
  });

  const measure = (http: Record<string, unknown>, ctx?: GateContext) =>
    new HttpGate(gateSpec(http).check as HttpCheckSpec, 'smoke').measure(ctx ?? context(() => ({ status: 599, body: 'not the cluster' })).ctx);

  it('passes on a 200, asked directly and not through the cluster', async () => {
    const { ctx, cluster } = context(() => ({ status: 599, body: 'not the cluster' }));
    const v = await measure({ url: `${base}/ok`, 'body-contains': 'ok' }, ctx);
    expect(v).toMatchObject({ status: 'pass', value: '200', message: 'status 200 in 2xx, body contains "ok"' });
    expect(cluster.proxyRequests).toEqual([]);
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /ok']);
  });

  it('fails on a 500, with the body', async () => {
    expect(await measure({ url: `${base}/fail` })).toMatchObject({ status: 'fail', value: '500', message: 'status 500 not in 2xx (body "injected failure")' });
  });

  it('fails on a body that does not match', async () => {
    expect(await measure({ url: `${base}/ok`, 'body-matches': '^ready' })).toMatchObject({ status: 'fail', message: 'status 200 in 2xx, but body does not match /^ready/ (got "ok")' });
  });

  it('passes and fails on JSON values', async () => {
    expect(await measure({ url: `${base}/status.json`, json: [{ path: '$.status', equals: 'ok' }, { path: '$.items.length', equals: 2 }] }))
      .toMatchObject({ status: 'pass', message: 'status 200 in 2xx, $.status == "ok", $.items.length == 2' });
    expect(await measure({ url: `${base}/status.json`, json: [{ path: '$.version', matches: '^v2\\.' }] }))
      .toMatchObject({ status: 'fail', message: 'status 200 in 2xx, but $.version is "v1.4.2", which does not match /^v2\\./' });
    expect(await measure({ url: `${base}/ok`, json: [{ path: '$.status', equals: 'ok' }] }))
      .toMatchObject({ status: 'fail', message: 'status 200 in 2xx, but body is not JSON (got "ok")' });
  });

  it('sends the method, headers and body', async () => {
    const v = await measure({ url: `${base}/hook`, method: 'PUT', headers: { 'Content-Type': 'application/json', 'X-Env': 'staging' }, body: '{"probe":1}', 'body-contains': 'PUT {"probe":1}' });
    expect(v).toMatchObject({ status: 'pass', value: '201' });
    expect(seen[0]).toMatchObject({ method: 'PUT', body: '{"probe":1}', headers: { 'content-type': 'application/json', 'x-env': 'staging', 'user-agent': 'gantry-http-gate' } });
  });

  it('does not follow a redirect: the URL\'s own answer is judged', async () => {
    expect(await measure({ url: `${base}/moved` })).toMatchObject({ status: 'fail', value: '302', message: 'status 302 not in 2xx (redirect to /ok, not followed)' });
    expect(seen.map((r) => r.url)).toEqual(['/moved']);
  });

  it('fails when the answer takes longer than max-latency, with measured vs budget', async () => {
    const v = await measure({ url: `${base}/slow?ms=250`, 'max-latency': '100ms' });
    expect(v.status).toBe('fail');
    const [, measured] = /^status 200 in 2xx, but latency (\d+) ms > 100 ms$/.exec(v.message) ?? [];
    expect(Number(measured)).toBeGreaterThanOrEqual(240);
    expect(v.value).toBe(`${measured} ms`);
  });

  it('passes within the budget, and says by how much', async () => {
    const v = await measure({ url: `${base}/ok`, 'max-latency': '5s', timeout: '6s' });
    expect(v.status).toBe('pass');
    expect(v.message).toMatch(/^status 200 in 2xx, latency \d+ ms <= 5000 ms$/);
  });

  it('is an error, with nothing measured, when no answer comes within the timeout', async () => {
    const started = Date.now();
    const v = await measure({ url: `${base}/slow?ms=5000`, timeout: '200ms' });
    expect(v).toMatchObject({ status: 'error', message: `no answer from ${base}/slow?ms=5000 within 200 ms (timeout)` });
    expect(v.value).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('is an error when nothing listens at the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const v = await measure({ url: `http://127.0.0.1:${port}/ok` });
    expect(v).toMatchObject({ status: 'error', message: `no answer from http://127.0.0.1:${port}/ok: connect ECONNREFUSED 127.0.0.1:${port}` });
  });

  it('succeeds on the third try, and says so', async () => {
    const v = await measure({ url: `${base}/flaky`, retries: 4, backoff: '1s' });
    expect(v).toMatchObject({ status: 'pass', value: '200', message: 'status 200 in 2xx (after 3 tries)' });
    expect(seen).toHaveLength(3);
  });

  it('never shows a header value, even when the server echoes it', async () => {
    const v = await measure({ url: `${base}/echo`, headers: { Authorization: 'Bearer s3cr3t-t0ken-value' } });
    expect(seen[0]!.headers.authorization).toBe('Bearer s3cr3t-t0ken-value');
    expect(v).toMatchObject({ status: 'fail', value: '403', message: 'status 403 not in 2xx (body "denied ***")' });
    expect(JSON.stringify(v)).not.toContain('s3cr3t');
  });
});
