// Strategy settings are checked before anything touches a cluster, and every bad step is
// named by its YAML path (and its file:line when the steps come from a file).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deployProblems, parseDeploy } from '../support/deploy-config.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const parse = parseDeploy;
const problems = deployProblems;

describe('progressive settings', () => {
  it('defaults to the basic strategy with the replica-ratio router', () => {
    expect(parse({}).progressive).toMatchObject({ strategy: 'basic', router: 'replica-ratio', scaleDownDelayMs: 30_000 });
  });

  it('reads canary steps given inline', () => {
    const config = parse({ strategy: 'canary', steps: '- setWeight: 10\n- pause: {duration: 1m}\n- setWeight: 50\n- pause: {}\n- analysis:\n  - http: {service: web, port: 80, path: /}\n' });
    expect(config.progressive.steps.slice(0, 4)).toEqual([{ setWeight: 10 }, { pause: { durationMs: 60_000 } }, { setWeight: 50 }, { pause: {} }]);
    expect(config.progressive.steps[4]).toMatchObject({ analysis: [{ check: { kind: 'http', target: { service: 'web', path: '/' } }, count: 1, failureLimit: 0 }] });
  });

  it.each([
    ['a weight over 100', '- setWeight: 120', 'input "steps": steps[0].setWeight: must be a whole percentage from 0 to 100, got 120'],
    ['weights going down', '- setWeight: 50\n- setWeight: 20', 'input "steps": steps[1].setWeight: goes down from 50 to 20'],
    ['an unknown key', '- setWeight: 10\n- setWieght: 20', 'input "steps": steps[1].setWieght: is not a step; expected one of setWeight, pause, analysis'],
    ['two kinds in one step', '- setWeight: 10\n  pause: {}', 'input "steps": steps[0]: must have exactly one of setWeight, pause, analysis, got setWeight and pause'],
    ['a bad pause duration', '- setWeight: 10\n- pause: {duration: soon}', 'input "steps": steps[1].pause.duration: must be a duration like 30s or 2m, got "soon"'],
    ['an unknown pause field', '- setWeight: 10\n- pause: {untill: 2m}', 'input "steps": steps[1].pause.untill: is not a pause field; expected duration'],
    ['analysis that is not a list', '- setWeight: 10\n- analysis: {http: {}}', 'input "steps": steps[1].analysis: must be a list of gates'],
    ['not a list', 'setWeight: 10', 'input "steps": steps: must be a YAML list of steps'],
  ])('names %s by its YAML path', (_name, steps, message) => {
    expect(problems({ strategy: 'canary', steps })).toContain(message);
  });

  it('checks the gates of an analysis step with the gates\' own rules, at their path', () => {
    expect(problems({ strategy: 'canary', steps: '- setWeight: 10\n- analysis:\n  - http: {service: web, port: 70000}\n' })).toEqual([
      'input "steps": steps[1].analysis[0].http.port: must be a port number or name, got 70000',
    ]);
    expect(problems({ strategy: 'blue-green', 'post-promotion-analysis': '- htp: {}' })[0]).toMatch(/^input "post-promotion-analysis": post-promotion-analysis\[0\]/);
  });

  it('allows a weight to go down when the step says so', () => {
    expect(parse({ strategy: 'canary', steps: '- setWeight: 50\n- setWeight: 20\n  allowDecrease: true' }).progressive.steps).toEqual([{ setWeight: 50 }, { setWeight: 20 }]);
  });

  it('reads steps from a file in the workspace and points at file:line', () => {
    const ws = mkdtempSync(join(tmpdir(), 'gantry-steps-'));
    dirs.push(ws);
    writeFileSync(join(ws, 'canary.yaml'), '# steps\n- setWeight: 10\n- pause: {duration: 30s}\n- setWeight: 200\n');
    expect(problems({ strategy: 'canary', steps: 'canary.yaml' }, ws)).toEqual(['canary.yaml:4: steps[2].setWeight: must be a whole percentage from 0 to 100, got 200']);
    writeFileSync(join(ws, 'canary.yaml'), '- setWeight: 10\n');
    expect(parse({ strategy: 'canary', steps: 'canary.yaml' }, ws).progressive.steps).toEqual([{ setWeight: 10 }]);
  });

  it('reports every bad setting at once, naming each input', () => {
    expect(problems({ strategy: 'rainbow', 'traffic-router': 'istio', 'scale-down-delay': 'later' })).toEqual([
      'input "strategy" must be one of basic, blue-green, canary, got "rainbow"',
      'input "traffic-router" must be one of replica-ratio, gateway-httproute, got "istio"',
      'input "scale-down-delay" must be a duration like 90s, 5m or 1h30m, got "later"',
    ]);
  });

  it('needs the HTTPRoute for the Gateway API router, and steps only for a canary', () => {
    expect(problems({ strategy: 'canary', 'traffic-router': 'gateway-httproute' })).toContain('input "route" is required with traffic-router gateway-httproute');
    expect(problems({ strategy: 'blue-green', steps: '- setWeight: 10' })).toContain('input "steps" only applies to strategy canary (strategy is blue-green)');
  });
});
