// Gates in the settings: one rollout document with steps and the gate lists (from a file,
// with file:line on mistakes), the shorthand settings that expand into the same gates as
// written by hand, Prometheus's address and credentials, and the checks across settings.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseGateSpecs } from '../../src/checks/spec.js';
import { shorthandGates, shorthandPlacement } from '../../src/config/progressive.js';
import { deployProblems, parseDeploy } from '../support/deploy-config.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const parse = parseDeploy;
const problems = deployProblems;

const PROM = 'http://prometheus.monitoring:9090';
const judgeStep = `  - analysis:
    - judge:
        metrics:
          - {name: latency, query: 'x{pod=~"{{pods}}"}'}
`;

describe('the rollout document', () => {
  it('gives the steps and every gate list in one mapping, and fills in the Prometheus address', () => {
    const rollout = `steps:
  - setWeight: 25
${judgeStep}background:
  - prometheus: {query: 'sum(x)', condition: result < 1.0}
`;
    const p = parse({ strategy: 'canary', rollout, 'prometheus-url': PROM }).progressive;
    expect(p.steps[0]).toEqual({ setWeight: 25 });
    expect(p.steps[1]).toMatchObject({ analysis: [{ path: 'steps[1].analysis[0]', check: { kind: 'judge', address: PROM } }] });
    expect(p.analysis).toMatchObject([{ path: 'background[0]', check: { kind: 'prometheus', address: PROM, condition: 'result < 1.0' } }]);
  });

  it('names mistakes in a rollout file by file:line and YAML path', () => {
    const ws = mkdtempSync(join(tmpdir(), 'gantry-rollout-'));
    dirs.push(ws);
    writeFileSync(join(ws, 'rollout.yaml'), 'steps:\n  - setWeight: 10\nbackground:\n  - prometheus: {query: x, condition: result <}\npost-promtion: []\n');
    expect(problems({ strategy: 'canary', rollout: 'rollout.yaml', 'prometheus-url': PROM }, ws)).toEqual([
      expect.stringMatching(/^rollout\.yaml:4: background\[0\]\.prometheus\.condition: is not a valid condition/),
      'rollout.yaml:5: post-promtion: is not a rollout setting; expected one of steps, pre-promotion, post-promotion, background',
    ]);
  });

  it('refuses a part given twice, gates a strategy does not run, and a judge outside a canary step', () => {
    expect(problems({ strategy: 'canary', rollout: 'steps: [{setWeight: 10}]', steps: '- setWeight: 20' })).toContain('input "steps" and steps in the rollout setting both give the steps; keep one');
    expect(problems({ strategy: 'blue-green', rollout: 'background: [{http: {url: "http://x"}}]' })).toContain("input \"rollout\" gives background gates, which run beside a canary's steps; blue-green runs pre-promotion and post-promotion gates");
    expect(problems({ strategy: 'canary', 'prometheus-url': PROM, rollout: 'background:\n  - judge: {metrics: [{name: l, query: "x{pod=~\\"{{pods}}\\"}"}]}' })[0]).toMatch(/background\[0\]: a judge compares the canary with stable while both serve, so it belongs in a canary step's analysis/);
  });

  it('needs prometheus-url for a prometheus gate without an address, and for the metric shorthands', () => {
    expect(problems({ strategy: 'canary', rollout: 'background: [{prometheus: {query: x, condition: result < 1.0}}]' })).toEqual([
      'input "prometheus-url" is not set, and background[0] (a prometheus gate) gives no address',
    ]);
    expect(problems({ 'max-error-rate': '0.01' })).toEqual(['input "prometheus-url" is required by max-error-rate, which is measured by Prometheus']);
    expect(problems({ 'prometheus-url': 'prometheus:9090', 'prometheus-password': 'p' })).toEqual([
      'input "prometheus-url" must be an http(s) URL such as http://prometheus.monitoring:9090, got "prometheus:9090"',
    ]);
    expect(problems({ 'prometheus-url': PROM, 'prometheus-password': 'p' })).toEqual(['input "prometheus-password" is set without prometheus-username']);
  });
});

describe('shorthand settings', () => {
  it('are validated as inputs', () => {
    expect(problems({ 'smoke-url': 'healthz', 'max-error-rate': '5%', 'max-p95-latency-ms': '-1', 'prometheus-url': PROM })).toEqual([
      'input "smoke-url" must be an http(s) URL or a path such as /healthz on the new version\'s Service, got "healthz"',
      'input "max-error-rate" must be a number from 0 to 1, got "5%"',
      'input "max-p95-latency-ms" must be a number from 0 to 3600000, got "-1"',
    ]);
  });

  it('expand into the same gates a user would write: smoke, error rate and p95 latency of the new version\'s pods', () => {
    const gates = shorthandGates({ smokeUrl: '/healthz', maxErrorRate: 0.01, maxP95LatencyMs: 250 }, 80, PROM);
    const written = parseGateSpecs([
      { name: 'smoke', http: { service: '${canary}', port: 80, path: '/healthz' } },
    ], 'shorthand').specs;
    expect(gates[0]!.check).toEqual(written[0]!.check);
    expect(gates.map((g) => g.name)).toEqual(['smoke', 'error rate', 'p95 latency']);
    expect(gates[1]).toMatchObject({ intervalMs: 10_000, initialDelayMs: 10_000, inconclusiveLimit: 1, check: { kind: 'prometheus', address: PROM, condition: 'result <= 0.01' } });
    expect((gates[1]!.check as { query: string }).query).toContain('or vector(0)');
    expect(gates[2]).toMatchObject({ check: { condition: 'result <= 250.0' } });
    expect(shorthandGates({ smokeUrl: 'https://shop.example.com/healthz' }, undefined)[0]!.check).toMatchObject({ kind: 'http' });
  });

  it('run where each strategy has a place for them', () => {
    expect(shorthandPlacement('basic')).toEqual({ smoke: 'post-promotion', metrics: 'post-promotion' });
    expect(shorthandPlacement('blue-green')).toEqual({ smoke: 'pre-promotion', metrics: 'post-promotion' });
    expect(shorthandPlacement('canary')).toEqual({ smoke: 'background', metrics: 'background' });
  });
});
