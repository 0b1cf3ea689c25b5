// The HTTP gate against the fake cluster's service proxy: what the pods answered, what the
// proxy said when it could not reach them, and what happens when the API server is gone.
import { describe, expect, it } from 'vitest';
import type { GateContext } from '../../src/checks/gate.js';
import { HttpGate, httpGateName } from '../../src/checks/http.js';
import { gateFor } from '../../src/checks/run.js';
import { parseGateSpecs, type GateSpec, type HttpCheckSpec } from '../../src/checks/spec.js';
import { FakeClock, FakeCluster } from '../fixtures/deploy/fake-cluster.js';

function spec(http: Record<string, unknown>, extra: Record<string, unknown> = {}): GateSpec {
  const { specs, errors } = parseGateSpecs([{ http: { service: '${preview}', port: 80, path: '/healthz', ...http }, ...extra }], 'analysis');
  expect(errors).toEqual([]);
  return specs[0]!;
}
const check = (http: Record<string, unknown> = {}): HttpCheckSpec => spec(http).check;

/** What the API server answers itself when its proxy cannot reach the pods. */
const proxyStatus = (code: number, reason: string, message: string) => ({
  status: code,
  body: JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }),
});

function context(answer: FakeCluster['proxyAnswer'], services: Record<string, string> = { preview: 'web-preview', active: 'web' }) {
  const cluster = new FakeCluster();
  const asked: string[] = [];
  cluster.proxyAnswer = (ns, service, path) => {
    asked.push(`${ns}/${service}${path}`);
    return answer(ns, service, path);
  };
  const clock = new FakeClock();
  const ctx: GateContext = { client: cluster, namespace: 'shop', services, clock };
  return { ctx, asked, clock };
}

describe('HttpGate', () => {
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

  it('resolves placeholders inside a name, and plain names as they are', async () => {
    const { ctx, asked } = context(() => ({ status: 200, body: 'ok' }), { stable: 'web' });
    await new HttpGate(check({ service: '${stable}-admin' })).measure(ctx);
    await new HttpGate(check({ service: 'metrics' })).measure(ctx);
    expect(asked).toEqual(['shop/web-admin/healthz', 'shop/metrics/healthz']);
  });

  it('is an error, with nothing asked, when the strategy names no Service for its placeholder', async () => {
    const { ctx, asked } = context(() => ({ status: 200, body: 'ok' }), { preview: 'web-preview', active: 'web' });
    const v = await new HttpGate(check({ service: '${canary}' })).measure(ctx);
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

  it('is named after its target, with placeholders resolved when the Services are known', () => {
    const s = spec({ port: 80, path: '/healthz' });
    expect(httpGateName(s.check as HttpCheckSpec)).toBe('http ${preview}:80/healthz');
    expect(gateFor(s, { preview: 'web-preview' }).name).toBe('http web-preview:80/healthz');
    expect(gateFor(spec({}, { name: 'smoke' }), { preview: 'web-preview' }).name).toBe('smoke');
  });
});
