// Gate specs as users write them: defaults filled in, and every mistake named by its exact
// YAML path, all of them in one pass.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GATE_DEFAULTS, parseGateSpecs } from '../../src/checks/spec.js';

const AT = 'steps[2].analysis';
const http = (fields: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown[] => [{ http: { service: '${preview}', port: 80, ...fields }, ...extra }];

describe('parseGateSpecs accepts', () => {
  it('a minimal http gate, with the documented defaults', () => {
    const { specs, errors } = parseGateSpecs(http({}), AT);
    expect(errors).toEqual([]);
    expect(specs).toEqual([{
      name: undefined, path: 'steps[2].analysis[0]',
      check: { kind: 'http', service: '${preview}', port: 80, path: '/', expectStatus: [{ from: 200, to: 299 }] },
      intervalMs: 5000, count: 1, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4,
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
      check: { kind: 'http', service: '${preview}', port: 80, path: '/healthz', expectStatus: [{ from: 200, to: 200 }], bodyContains: 'ok' },
    });
  });

  it.each([
    ['a code', 204, [{ from: 204, to: 204 }]],
    ['a class', '3xx', [{ from: 300, to: 399 }]],
    ['a range', '200-404', [{ from: 200, to: 404 }]],
    ['a list of all three', [200, '3xx', '400-404'], [{ from: 200, to: 200 }, { from: 300, to: 399 }, { from: 400, to: 404 }]],
  ])('expect-status as %s', (_name, value, ranges) => {
    expect(parseGateSpecs(http({ 'expect-status': value }), AT).specs[0]?.check.expectStatus).toEqual(ranges);
  });

  it.each([
    ['a port name', { port: 'http' }, { port: 'http' }],
    ['a quoted port number', { port: '8080' }, { port: 8080 }],
    ['a named Service around a placeholder', { service: '${stable}-internal' }, { service: '${stable}-internal' }],
    ['a plain Service name', { service: 'web' }, { service: 'web' }],
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
    ['an unknown gate field', http({}, { retries: 3 }), 'steps[2].analysis[0].retries: is not a gate field; expected one of name, interval, count, failure-limit, inconclusive-limit, consecutive-error-limit, http'],
    ['a kind Gantry does not have (yet)', [{ prometheus: { query: 'up' } }], 'steps[2].analysis[0].prometheus: is not a gate field'],
    ['an http check that is not a mapping', [{ http: 'http://web' }], 'steps[2].analysis[0].http: must be a mapping of http fields, got "http://web"'],
    ['an unknown http field', http({ method: 'POST' }), 'steps[2].analysis[0].http.method: is not an http field; expected one of service, port, path, expect-status, body-contains, body-matches'],
    ['a port out of range', http({ port: 70000 }), 'steps[2].analysis[0].http.port: must be a port number or name, got 70000'],
    ['a port that is no name', http({ port: 'HTTP_PORT' }), 'steps[2].analysis[0].http.port: must be a port number or name, got "HTTP_PORT"'],
    ['a missing port', [{ http: { service: 'web' } }], 'steps[2].analysis[0].http.port: must be a port number or name, got nothing'],
    ['a missing service', [{ http: { port: 80 } }], 'steps[2].analysis[0].http.service: is required'],
    ['an unknown placeholder', http({ service: '${previw}' }), 'steps[2].analysis[0].http.service: uses ${previw}; the placeholders are ${preview}, ${canary}, ${active}, ${stable}'],
    ['a Service name that is not one', http({ service: 'Web_1' }), 'steps[2].analysis[0].http.service: must be a Service name'],
    ['a path without its /', http({ path: 'healthz' }), 'steps[2].analysis[0].http.path: must start with /, got "healthz"'],
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
    ['two kinds in one gate', [{ http: { service: 'web', port: 80 }, job: {} }], 'steps[2].analysis[0].job: is not a gate field'],
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
