// Gate specs as users write them: defaults filled in, and every mistake named by its exact
// YAML path, all of them in one pass.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GATE_DEFAULTS, parseGateSpecs, type HttpCheckSpec } from '../../src/checks/spec.js';

const AT = 'steps[2].analysis';
const http = (fields: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown[] => [{ http: { service: '${preview}', port: 80, ...fields }, ...extra }];

describe('parseGateSpecs accepts', () => {
  it('a minimal http gate, with the documented defaults', () => {
    const { specs, errors } = parseGateSpecs(http({}), AT);
    expect(errors).toEqual([]);
    expect(specs).toEqual([{
      name: undefined, path: 'steps[2].analysis[0]',
      check: {
        kind: 'http', target: { service: '${preview}', port: 80, path: '/' }, method: 'GET', headers: {}, expectStatus: [{ from: 200, to: 299 }], json: [],
        timeoutMs: 10_000, retries: 0, backoffMs: 1000,
      },
      initialDelayMs: 0, intervalMs: 5000, count: 1, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4,
    }]);
    expect(GATE_DEFAULTS.failureLimit).toBe(0);
  });

  it('the documented example, written as YAML', () => {
    const yaml = `
- name: smoke
  http: {service: "\${preview}", port: 80, path: /healthz, expect-status: 200, body-contains: ok}
  interval: 1s
  count: 3
  failure-limit: 0
  inconclusive-limit: 0
`;
    const { specs, errors } = parseGateSpecs(parse(yaml), AT);
    expect(errors).toEqual([]);
    expect(specs[0]).toMatchObject({
      name: 'smoke', intervalMs: 1000, count: 3, failureLimit: 0, inconclusiveLimit: 0,
      check: { kind: 'http', target: { service: '${preview}', port: 80, path: '/healthz' }, expectStatus: [{ from: 200, to: 200 }], bodyContains: 'ok' },
    });
  });

  it.each([
    ['a code', 204, [{ from: 204, to: 204 }]],
    ['a class', '3xx', [{ from: 300, to: 399 }]],
    ['a range', '200-404', [{ from: 200, to: 404 }]],
    ['a list of all three', [200, '3xx', '400-404'], [{ from: 200, to: 200 }, { from: 300, to: 399 }, { from: 400, to: 404 }]],
  ])('expect-status as %s', (_name, value, ranges) => {
    expect((parseGateSpecs(http({ 'expect-status': value }), AT).specs[0]?.check as HttpCheckSpec).expectStatus).toEqual(ranges);
  });

  it.each([
    ['a port name', { port: 'http' }, { target: { port: 'http' } }],
    ['a quoted port number', { port: '8080' }, { target: { port: 8080 } }],
    ['a named Service around a placeholder', { service: '${stable}-internal' }, { target: { service: '${stable}-internal' } }],
    ['a plain Service name', { service: 'web' }, { target: { service: 'web' } }],
    ['a path with a query', { path: '/healthz?full=1' }, { target: { path: '/healthz?full=1' } }],
    ['a body regex', { 'body-matches': '^v\\d+' }, { bodyMatches: '^v\\d+' }],
  ])('%s', (_name, fields, expected) => {
    const { specs, errors } = parseGateSpecs(http(fields), AT);
    expect(errors).toEqual([]);
    expect(specs[0]?.check).toMatchObject(expected);
  });

  it.each([
    ['500ms', 500],
    ['2s', 2000],
    ['1m', 60_000],
    [3, 3000],
  ])('interval %s', (interval, ms) => {
    expect(parseGateSpecs(http({}, { interval }), AT).specs[0]?.intervalMs).toBe(ms);
  });

  it('nothing at all as no gates', () => {
    expect(parseGateSpecs(undefined, AT)).toEqual({ specs: [], errors: [] });
    expect(parseGateSpecs(null, AT)).toEqual({ specs: [], errors: [] });
  });
});

describe('parseGateSpecs names the exact path of', () => {
  it.each([
    ['a gate list that is not a list', { http: {} }, 'steps[2].analysis: must be a list of gates, got {"http":{}}'],
    ['a gate that is not a mapping', ['http'], 'steps[2].analysis[0]: must be a mapping such as {http: {...}}, got "http"'],
    ['a gate without a check', [{ name: 'x' }], 'steps[2].analysis[0]: has no check; give one of http'],
    // retries belong to the http check, not to the gate.
    ['an unknown gate field', http({}, { retries: 3 }), 'steps[2].analysis[0].retries: is not a gate field; expected one of name, '],
    ['a kind Gantry does not have', [{ grpc: { service: 'web' } }], 'steps[2].analysis[0].grpc: is not a gate field'],
    ['an http check that is not a mapping', [{ http: 'http://web' }], 'steps[2].analysis[0].http: must be a mapping of http fields, got "http://web"'],
    ['an unknown http field', http({ verb: 'POST' }), 'steps[2].analysis[0].http.verb: is not an http field; expected one of service, port, path, url, method, headers, body, expect-status, body-contains, body-matches, json, max-latency, timeout, retries, backoff'],
    ['a port out of range', http({ port: 70000 }), 'steps[2].analysis[0].http.port: must be a port number or name, got 70000'],
    ['a port that is no name', http({ port: 'HTTP_PORT' }), 'steps[2].analysis[0].http.port: must be a port number or name, got "HTTP_PORT"'],
    ['a missing port', [{ http: { service: 'web' } }], 'steps[2].analysis[0].http.port: must be a port number or name, got nothing'],
    ['a missing service', [{ http: { port: 80 } }], 'steps[2].analysis[0].http.service: is required'],
    ['an unknown placeholder', http({ service: '${previw}' }), 'steps[2].analysis[0].http.service: uses ${previw}; the placeholders are ${preview}, ${canary}, ${active}, ${stable}'],
    ['a Service name that is not one', http({ service: 'Web_1' }), 'steps[2].analysis[0].http.service: must be a Service name'],
    ['a path without its /', http({ path: 'healthz' }), 'steps[2].analysis[0].http.path: must start with /, got "healthz"'],
    ['a path that climbs out of the proxy', http({ path: '/../../secrets' }), 'steps[2].analysis[0].http.path: must not have . or .. steps, got "/../../secrets"'],
    ['a status that is no status', http({ 'expect-status': 'ok' }), 'steps[2].analysis[0].http.expect-status: must be a status code (200), a class (2xx) or a range (200-399), got "ok"'],
    ['a status out of range', http({ 'expect-status': 600 }), 'steps[2].analysis[0].http.expect-status: must be a status code'],
    ['one bad status of a list', http({ 'expect-status': [200, '299-200'] }), 'steps[2].analysis[0].http.expect-status[1]: must be a status code (200), a class (2xx) or a range (200-399), got "299-200"'],
    ['an empty status list', http({ 'expect-status': [] }), 'steps[2].analysis[0].http.expect-status: must not be an empty list'],
    ['a regex that does not compile', http({ 'body-matches': '(' }), 'steps[2].analysis[0].http.body-matches: is not a valid regular expression'],
    ['an empty body-contains', http({ 'body-contains': '' }), 'steps[2].analysis[0].http.body-contains: must be a non-empty string, got ""'],
    ['an interval that is no duration', http({}, { interval: 'soon' }), 'steps[2].analysis[0].interval: must be a duration like 500ms, 2s or 1m, got "soon"'],
    ['an interval too short for the API server', http({}, { interval: '10ms' }), 'steps[2].analysis[0].interval: must be at least 100ms, got "10ms"'],
    ['a count of 0', http({}, { count: 0 }), 'steps[2].analysis[0].count: must be a whole number of at least 1, got 0'],
    ['a negative failure-limit', http({}, { 'failure-limit': -1 }), 'steps[2].analysis[0].failure-limit: must be a whole number of at least 0, got -1'],
    ['a fractional inconclusive-limit', http({}, { 'inconclusive-limit': 1.5 }), 'steps[2].analysis[0].inconclusive-limit: must be a whole number of at least 0, got 1.5'],
    ['a name that is not a string', http({}, { name: 7 }), 'steps[2].analysis[0].name: must be a non-empty string, got 7'],
    ['two kinds in one gate', [{ http: { service: 'web', port: 80 }, job: {} }], 'steps[2].analysis[0]: has http and job; a gate has exactly one kind of check'],
  ])('%s', (_name, value, message) => {
    const { specs, errors } = parseGateSpecs(value, AT);
    expect(specs).toEqual([]);
    expect(errors.map((e) => e.message)).toEqual([expect.stringContaining(message)]);
    expect(errors[0]!.message.startsWith(message)).toBe(true);
    expect(errors[0]!.title).toBe('Invalid gate');
  });

  it('the second gate that takes a name already used', () => {
    const { specs, errors } = parseGateSpecs([...http({}, { name: 'smoke' }), ...http({ path: '/ready' }, { name: 'smoke' })], 'pre-promotion-analysis');
    expect(specs).toHaveLength(1);
    expect(errors.map((e) => e.message)).toEqual(['pre-promotion-analysis[1].name: "smoke" is also the name of pre-promotion-analysis[0]; each gate\'s lines and verdicts go by its name']);
  });

  it('every bad field at once, with the path and detail apart for callers that add file:line', () => {
    const { specs, errors } = parseGateSpecs([
      { http: { service: 'web', port: 0, path: 'x' }, count: 'many' },
      { http: { service: 'web', port: 80 } },
    ], AT);
    expect(specs.map((s) => s.path)).toEqual(['steps[2].analysis[1]']);
    expect(errors.map((e) => e.path)).toEqual(['steps[2].analysis[0].http.port', 'steps[2].analysis[0].http.path', 'steps[2].analysis[0].count']);
    expect(errors[0]!.detail).toBe('must be a port number or name, got 0');
    expect(errors[0]!.hint).toContain('Service port');
  });
});

describe('the http check reads', () => {
  const only = (fields: Record<string, unknown>): unknown[] => [{ http: fields }];
  const check = (value: unknown[]): HttpCheckSpec => {
    const { specs, errors } = parseGateSpecs(value, AT);
    expect(errors.map((e) => e.message)).toEqual([]);
    return specs[0]!.check as HttpCheckSpec;
  };

  it('a URL asked from the runner, instead of a Service', () => {
    expect(check(only({ url: 'https://shop.example.com/healthz?full=1' })).target).toEqual({ url: 'https://shop.example.com/healthz?full=1' });
  });

  it('the documented smoke test of a JSON API, written as YAML', () => {
    const yaml = `
- http:
    url: https://shop.example.com/api/status
    method: post
    headers: {Authorization: "Bearer s3cr3t-t0ken", Content-Type: application/json}
    body: '{"probe": true}'
    expect-status: 200
    json:
      - {path: $.status, equals: ok}
      - {path: $.items.length, equals: 2}
      - {path: $.version, matches: ^v1\\.}
      - {path: '$.checks[?(@.name == "db")].ok', equals: true}
      - {path: $.error, exists: false}
    max-latency: 300ms
    timeout: 2s
    retries: 3
    backoff: 500ms
`;
    expect(check(parse(yaml))).toEqual({
      kind: 'http', target: { url: 'https://shop.example.com/api/status' }, method: 'POST',
      headers: { Authorization: 'Bearer s3cr3t-t0ken', 'Content-Type': 'application/json' }, body: '{"probe": true}',
      expectStatus: [{ from: 200, to: 200 }],
      json: [
        { path: '$.status', equals: 'ok' },
        { path: '$.items.length', equals: 2 },
        { path: '$.version', matches: '^v1\\.' },
        { path: '$.checks[?(@.name == "db")].ok', equals: true },
        { path: '$.error', exists: false },
      ],
      maxLatencyMs: 300, timeoutMs: 2000, retries: 3, backoffMs: 500,
    });
  });

  it.each([
    ['every method', ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']],
  ])('%s', (_name, methods) => {
    for (const method of methods) expect(check(http({ method })).method).toBe(method);
  });

  it.each([
    ['a mapping', { equals: { ok: true, n: [1, 2] } }],
    ['null', { equals: null }],
    ['a number', { equals: 0 }],
  ])('a JSON value to equal that is %s', (_name, test) => {
    expect(check(http({ json: [{ path: '$.x', ...test }] })).json).toEqual([{ path: '$.x', ...test }]);
  });
});

describe('the http check names the exact path of', () => {
  const only = (fields: Record<string, unknown>): unknown[] => [{ http: fields }];
  const json = (...checks: unknown[]): unknown[] => http({ json: checks });

  it.each([
    ['a url beside a Service', http({ url: 'https://example.com/' }), 'steps[2].analysis[0].http: has url and service, port; give one target: service and port (through the API server\'s service proxy) or url (asked from the runner)'],
    ['no target at all', only({ path: '/healthz' }), 'steps[2].analysis[0].http: has no target; give service and port'],
    ['a url that is not absolute', only({ url: 'shop.example.com/healthz' }), 'steps[2].analysis[0].http.url: must be an absolute http(s) URL, got "shop.example.com/healthz"'],
    ['a url of another scheme', only({ url: 'ftp://example.com/x' }), 'steps[2].analysis[0].http.url: must be an http or https URL, got "ftp://example.com/x"'],
    ['a url with a placeholder', only({ url: 'http://${canary}/healthz' }), 'steps[2].analysis[0].http.url: cannot use placeholders'],
    ['a method HTTP has not', http({ method: 'FETCH' }), 'steps[2].analysis[0].http.method: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, got "FETCH"'],
    ['headers that are a list', http({ headers: ['Accept: text/plain'] }), 'steps[2].analysis[0].http.headers: must be a mapping of header names to values, got a list'],
    ['a header name with a space', http({ headers: { 'X Token': 'a' } }), 'steps[2].analysis[0].http.headers.X Token: is not a valid header name'],
    ['a header value that YAML read as a number', http({ headers: { 'X-Retry': 3 } }), 'steps[2].analysis[0].http.headers.X-Retry: must be a string, got number'],
    ['a header named twice', http({ headers: { 'x-env': 'a', 'X-Env': 'b' } }), 'steps[2].analysis[0].http.headers.X-Env: is the same header as x-env; header names ignore case'],
    ['a framing header', http({ headers: { Host: 'example.com' } }), 'steps[2].analysis[0].http.headers.Host: is written by the HTTP client itself'],
    ['a body on a GET', http({ body: 'x' }), 'steps[2].analysis[0].http.body: cannot be sent with GET'],
    ['a body written as a mapping', http({ method: 'POST', body: { a: 1 } }), 'steps[2].analysis[0].http.body: must be a string'],
    ['a body check on a HEAD', http({ method: 'HEAD', 'body-contains': 'ok' }), 'steps[2].analysis[0].http.body-contains: cannot hold for a HEAD request: its answer has no body; use GET'],
    ['json that is not a list', http({ json: { path: '$.a', equals: 1 } }), 'steps[2].analysis[0].http.json: must be a non-empty list of checks'],
    ['a json check that is not a mapping', json('$.status'), 'steps[2].analysis[0].http.json[0]: must be a mapping such as {path: $.status, equals: ok}, got "$.status"'],
    ['a JSONPath without its root', json({ path: 'status', equals: 'ok' }), 'steps[2].analysis[0].http.json[0].path: must start with $ (the document\'s root), got "status"'],
    ['a JSONPath with an unclosed [', json({ path: '$.a', exists: true }, { path: '$.items[0', exists: true }), 'steps[2].analysis[0].http.json[1].path: has an unclosed [: "$.items[0"'],
    ['a JSONPath with an unclosed quote', json({ path: "$['a]", exists: true }), 'steps[2].analysis[0].http.json[0].path: has an unclosed \''],
    ['a JSONPath with an empty step', json({ path: '$.items.', exists: true }), 'steps[2].analysis[0].http.json[0].path: has an empty step: "$.items."'],
    ['a JSONPath filter that does not compile', json({ path: '$.items[?(@.a >)]', exists: true }), 'steps[2].analysis[0].http.json[0].path: has an expression that does not compile: ?(@.a >)'],
    ['a json check without a path', json({ equals: 'ok' }), 'steps[2].analysis[0].http.json[0].path: is required: a JSONPath such as $.status'],
    ['a json check without a test', json({ path: '$.a' }), 'steps[2].analysis[0].http.json[0]: has no test; give one of equals, matches, exists'],
    ['a json check with two tests', json({ path: '$.a', equals: 1, exists: true }), 'steps[2].analysis[0].http.json[0]: has equals and exists; give exactly one test'],
    ['a misspelt json test', json({ path: '$.a', equal: 1 }), 'steps[2].analysis[0].http.json[0].equal: is not a json check field; expected one of path, equals, matches, exists'],
    ['exists that is not a boolean', json({ path: '$.a', exists: 'yes' }), 'steps[2].analysis[0].http.json[0].exists: must be true or false, got "yes"'],
    ['a json pattern that does not compile', json({ path: '$.a', matches: '[' }), 'steps[2].analysis[0].http.json[0].matches: is not a valid regular expression'],
    ['a max-latency that is no duration', http({ 'max-latency': 'fast' }), 'steps[2].analysis[0].http.max-latency: must be a duration like 500ms, 2s or 1m, got "fast"'],
    ['a max-latency the timeout cuts short', http({ 'max-latency': '2s', timeout: '1s' }), 'steps[2].analysis[0].http.max-latency: must be shorter than timeout (1000 ms), got "2s"'],
    ['a timeout too short to mean anything', http({ timeout: '1ms' }), 'steps[2].analysis[0].http.timeout: must be at least 10ms, got "1ms"'],
    ['too many retries', http({ retries: 11 }), 'steps[2].analysis[0].http.retries: must be a whole number from 0 to 10, got 11'],
    ['a backoff that is no duration', http({ retries: 2, backoff: 'exponential' }), 'steps[2].analysis[0].http.backoff: must be a duration like 500ms, 2s or 1m, got "exponential"'],
  ])('%s', (_name, value, message) => {
    const { specs, errors } = parseGateSpecs(value, AT);
    expect(specs).toEqual([]);
    expect(errors.map((e) => e.message)).toEqual([expect.stringContaining(message)]);
    expect(errors[0]!.message.startsWith(message)).toBe(true);
  });

  it.each([
    ['a url with credentials in it', only({ url: 'https://ci:s3cr3t-pass@example.com/' }), 'steps[2].analysis[0].http.url: must not hold credentials (user:password@)', 's3cr3t-pass'],
    ['an Authorization header through the service proxy', http({ headers: { Authorization: 'Bearer s3cr3t-t0ken' } }), 'steps[2].analysis[0].http.headers.Authorization: is read by the API server for its own credentials and not passed on to the pods', 's3cr3t-t0ken'],
    ['an impersonation header through the service proxy', http({ headers: { 'Impersonate-User': 'admin-s3cr3t' } }), 'steps[2].analysis[0].http.headers.Impersonate-User: is read by the API server', 'admin-s3cr3t'],
    ['a header value of two lines', http({ headers: { 'X-Token': 's3cr3t\r\nX-Admin: 1' } }), 'steps[2].analysis[0].http.headers.X-Token: must be one line (no line breaks)', 's3cr3t'],
  ])('%s, without quoting the secret', (_name, value, message, secret) => {
    const { specs, errors } = parseGateSpecs(value, AT);
    expect(specs).toEqual([]);
    expect(errors.map((e) => e.message)).toEqual([expect.stringContaining(message)]);
    expect(errors.map((e) => `${e.message} ${e.hint ?? ''}`).join('\n')).not.toContain(secret);
  });

  it('every bad field of a json check at once', () => {
    const { errors } = parseGateSpecs(http({ json: [{ path: 'x', matches: '(' }, { path: '$.ok', exists: true }, { path: '$[', equals: 1 }] }), AT);
    expect(errors.map((e) => e.path)).toEqual(['steps[2].analysis[0].http.json[0].path', 'steps[2].analysis[0].http.json[0].matches', 'steps[2].analysis[0].http.json[2].path']);
  });
});
