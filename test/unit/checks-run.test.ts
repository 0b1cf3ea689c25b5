// Running gates under their limits, on a fake clock: one line per verdict, a fast stop when a
// gate is past a limit, errors tried again, no pass without data, and background gates that
// repeat until stopped and say when one fails.
import { describe, expect, it } from 'vitest';
import type { Gate, GateContext, Verdict, VerdictStatus } from '../../src/checks/gate.js';
import { gateFor, runGates, startBackgroundGates, type GateRunOptions } from '../../src/checks/run.js';
import { parseGateSpecs, type GateSpec } from '../../src/checks/spec.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { FakeClock, FakeCluster } from '../fixtures/deploy/fake-cluster.js';

/** Gates as users write them; the http check is there for the parser, gateFor may replace it. */
function specs(...gates: Record<string, unknown>[]): GateSpec[] {
  const parsed = parseGateSpecs(gates.map((g) => ({ http: { service: '${preview}', port: 80, path: '/healthz', 'expect-status': 200 }, ...g })), 'analysis');
  expect(parsed.errors).toEqual([]);
  return parsed.specs;
}

type Answer = { status: number; body: string } | Error;
const ok: Answer = { status: 200, body: 'ok' };
const boom: Answer = { status: 500, body: 'boom' };
const unreachable = new Error('connect ECONNREFUSED 127.0.0.1:6443');

/** A fake cluster whose proxy gives the answers in turn (the last one from then on). */
function setup(answers: Answer[] = [ok]) {
  const cluster = new FakeCluster();
  let calls = 0;
  cluster.proxyAnswer = () => {
    const a = answers[Math.min(calls++, answers.length - 1)]!;
    if (a instanceof Error) throw a;
    return a;
  };
  const clock = new FakeClock();
  const reporter = new MemoryReporter();
  const ctx: GateContext = { client: cluster, namespace: 'shop', services: { preview: 'web-preview' } };
  const options: GateRunOptions = { reporter, clock };
  return { ctx, options, reporter, clock, calls: () => calls };
}

/** A gate whose measurements follow a script; `hang` never answers, an Error is thrown. */
class ScriptedGate implements Gate {
  calls = 0;
  constructor(readonly name: string, private readonly script: (VerdictStatus | 'hang' | Error)[]) {}
  measure(ctx: GateContext): Promise<Verdict> {
    const step = this.script[Math.min(this.calls++, this.script.length - 1)]!;
    if (step === 'hang') return new Promise(() => undefined);
    if (step instanceof Error) return Promise.reject(step);
    return Promise.resolve({ gate: this.name, status: step, condition: 'scripted', message: `scripted ${step}`, at: ctx.clock!.now() });
  }
}

/** Runs the event loop until `done` holds; the fake clock makes every gate's sleep instant. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(done()).toBe(true);
}

/** Lets the event loop run a good while: long enough for a loop that was not stopped to measure again. */
async function settle(): Promise<void> {
  for (let i = 0; i < 100; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('runGates', () => {
  it('takes count measurements interval apart, one short line each, and passes', async () => {
    const { ctx, options, reporter, clock } = setup([ok]);
    const start = clock.t;
    const result = await runGates(specs({ name: 'smoke', count: 3, interval: '2s' }), ctx, options);
    expect(result).toMatchObject({ passed: true });
    expect(result.reason).toBeUndefined();
    expect(reporter.lines).toEqual([
      'gate smoke: pass — status 200 == 200 (1/3)',
      'gate smoke: pass — status 200 == 200 (2/3)',
      'gate smoke: pass — status 200 == 200 (3/3)',
    ]);
    expect(result.verdicts.map((v) => v.at - start)).toEqual([0, 2000, 4000]);
  });

  it('stops at the first failure past failure-limit 0, without taking the rest', async () => {
    const { ctx, options, reporter, calls } = setup([ok, boom, ok]);
    const result = await runGates(specs({ name: 'smoke', count: 3 }), ctx, options);
    expect(result.passed).toBe(false);
    expect(result.reason).toBe('gate smoke: 1 failed measurement, failure-limit 0: status 500 != 200 (body "boom")');
    expect(reporter.lines).toEqual(['gate smoke: pass — status 200 == 200 (1/3)', 'gate smoke: fail — status 500 != 200 (body "boom") (2/3)']);
    await settle();
    expect(calls()).toBe(2);
  });

  it.each([
    ['tolerates failures up to failure-limit', [boom, ok, ok], 1, true, undefined],
    ['fails one past failure-limit', [boom, ok, boom], 1, false, 'gate smoke: 2 failed measurements, failure-limit 1: status 500 != 200 (body "boom")'],
    ['does not pass on failures alone, even within the limit', [boom], 3, false, 'gate smoke: no passing measurement in 3'],
  ])('%s', async (_name, answers, failureLimit, passed, reason) => {
    const { ctx, options } = setup(answers);
    const result = await runGates(specs({ name: 'smoke', count: 3, 'failure-limit': failureLimit }), ctx, options);
    expect(result.passed).toBe(passed);
    expect(result.reason).toBe(reason);
  });

  it('tries a measurement that errored again, without using up the count', async () => {
    const { ctx, options, reporter } = setup([unreachable, unreachable, ok]);
    const result = await runGates(specs({ name: 'smoke' }), ctx, options);
    expect(result.passed).toBe(true);
    expect(reporter.lines).toEqual([
      'gate smoke: error — no answer from the API server: connect ECONNREFUSED 127.0.0.1:6443 (1/1, 1 error in a row, limit 4)',
      'gate smoke: error — no answer from the API server: connect ECONNREFUSED 127.0.0.1:6443 (1/1, 2 errors in a row, limit 4)',
      'gate smoke: pass — status 200 == 200 (1/1)',
    ]);
  });

  it('fails one error past consecutive-error-limit: an unmeasurable target is not a pass', async () => {
    const { ctx, options, calls } = setup([unreachable]);
    const result = await runGates(specs({ name: 'smoke', 'consecutive-error-limit': 2 }), ctx, options);
    expect(result.passed).toBe(false);
    expect(result.reason).toBe('gate smoke: 3 errors in a row, consecutive-error-limit 2: no answer from the API server: connect ECONNREFUSED 127.0.0.1:6443');
    expect(result.verdicts.map((v) => v.status)).toEqual(['error', 'error', 'error']);
    expect(calls()).toBe(3);
  });

  it('counts errors in a row only: a measurement between them starts the count again', async () => {
    const { ctx, options } = setup([unreachable, ok, unreachable, ok]);
    const result = await runGates(specs({ name: 'smoke', count: 2, 'consecutive-error-limit': 1 }), ctx, options);
    expect(result.passed).toBe(true);
  });

  it.each([
    ['fails one inconclusive past inconclusive-limit 0', ['inconclusive', 'pass'], 0, false, 'gate judge: 1 inconclusive measurement, inconclusive-limit 0: scripted inconclusive'],
    ['tolerates inconclusive measurements within inconclusive-limit', ['inconclusive', 'pass'], 1, true, undefined],
    ['does not pass when no measurement passed, even within the limits', ['inconclusive'], 2, false, 'gate judge: no passing measurement in 2'],
  ] as const)('%s', async (_name, script, limit, passed, reason) => {
    const { ctx, options } = setup();
    const gate = new ScriptedGate('judge', [...script]);
    const result = await runGates(specs({ name: 'judge', count: 2, 'inconclusive-limit': limit }), ctx, { ...options, gateFor: () => gate });
    expect(result.passed).toBe(passed);
    expect(result.reason).toBe(reason);
  });

  it('runs gates in parallel and ends as soon as one fails, without waiting for one still measuring', async () => {
    const { ctx, options, reporter } = setup();
    const slow = new ScriptedGate('slow', ['hang']);
    const bad = new ScriptedGate('bad', ['pass', 'fail']);
    const gates: Record<string, Gate> = { slow, bad };
    const result = await runGates(specs({ name: 'slow' }, { name: 'bad', count: 5 }), ctx, { ...options, gateFor: (s) => gates[s.name!]! });
    expect(result).toMatchObject({ passed: false, reason: 'gate bad: 1 failed measurement, failure-limit 0: scripted fail' });
    expect(reporter.lines).toEqual(['gate bad: pass — scripted pass (1/5)', 'gate bad: fail — scripted fail (2/5)']);
  });

  it('passes when every gate passes, with every verdict', async () => {
    const { ctx, options } = setup();
    const gates: Record<string, Gate> = { a: new ScriptedGate('a', ['pass']), b: new ScriptedGate('b', ['pass']) };
    const result = await runGates(specs({ name: 'a', count: 2 }, { name: 'b', count: 3 }), ctx, { ...options, gateFor: (s) => gates[s.name!]! });
    expect(result.passed).toBe(true);
    expect(result.verdicts.map((v) => v.gate).sort()).toEqual(['a', 'a', 'b', 'b', 'b']);
  });

  it('turns a gate that throws into an error verdict', async () => {
    const { ctx, options } = setup();
    const gate = new ScriptedGate('job', [new Error('pods is forbidden'), 'pass']);
    const result = await runGates(specs({ name: 'job' }), ctx, { ...options, gateFor: () => gate });
    expect(result.passed).toBe(true);
    expect(result.verdicts[0]).toMatchObject({ gate: 'job', status: 'error', message: 'could not measure: pods is forbidden' });
  });

  it('does not pass when the caller stops it first', async () => {
    const { ctx, options } = setup();
    const stop = new AbortController();
    const gate = new ScriptedGate('smoke', ['hang']);
    const running = runGates(specs({ name: 'smoke', count: 2 }), ctx, { ...options, signal: stop.signal, gateFor: () => gate });
    stop.abort(new Error('the job was cancelled'));
    expect(await running).toEqual({ passed: false, verdicts: [], reason: 'gates stopped: the job was cancelled; gate smoke: stopped after 0 of 2 measurements' });
    const already = await runGates(specs({ name: 'smoke' }), ctx, { ...options, signal: stop.signal, gateFor: () => gate });
    expect(already.passed).toBe(false);
  });

  it('passes with no gates, and says nothing', async () => {
    const { ctx, options, reporter } = setup();
    expect(await runGates([], ctx, options)).toEqual({ passed: true, verdicts: [] });
    expect(reporter.lines).toEqual([]);
  });
});

describe('startBackgroundGates', () => {
  it('repeats every interval until a gate fails, resolves `failed` with that verdict and stops the others', async () => {
    const { ctx, options, reporter } = setup([ok, ok, ok, boom]);
    const other = new ScriptedGate('other', ['pass']);
    const background = startBackgroundGates(specs({ name: 'smoke', interval: '10s' }, { name: 'other' }), ctx, {
      ...options, gateFor: (s, services) => (s.name === 'other' ? other : gateFor(s, services)),
    });
    const failed = await background.failed;
    expect(failed.verdict).toMatchObject({ gate: 'smoke', status: 'fail', value: '500' });
    expect(failed.reason).toBe('gate smoke: 1 failed measurement, failure-limit 0: status 500 != 200 (body "boom")');
    expect(reporter.lines.filter((l) => l.startsWith('gate smoke'))).toEqual([
      'gate smoke: pass — status 200 == 200 (#1)',
      'gate smoke: pass — status 200 == 200 (#2)',
      'gate smoke: pass — status 200 == 200 (#3)',
      'gate smoke: fail — status 500 != 200 (body "boom") (#4)',
    ]);
    const callsAtFailure = other.calls;
    await settle();
    expect(other.calls).toBe(callsAtFailure);
    const result = await background.stop();
    expect(result).toMatchObject({ passed: false, reason: 'gate smoke: 1 failed measurement, failure-limit 0: status 500 != 200 (body "boom")' });
  });

  it('passes when stopped with no gate past a limit, and measures nothing more', async () => {
    const { ctx, options } = setup();
    const gate = new ScriptedGate('smoke', ['pass', 'fail', 'pass']);
    const background = startBackgroundGates(specs({ name: 'smoke', 'failure-limit': 1 }), ctx, { ...options, gateFor: () => gate });
    await until(() => gate.calls >= 5);
    const result = await background.stop();
    expect(result.passed).toBe(true);
    expect(result.verdicts.length).toBeGreaterThanOrEqual(4);
    const calls = gate.calls;
    await settle();
    expect(gate.calls).toBe(calls);
    expect(await Promise.race([background.failed, Promise.resolve('pending')])).toBe('pending');
  });

  it('does not pass when stopped before any measurement finished', async () => {
    const { ctx, options } = setup();
    const background = startBackgroundGates(specs({ name: 'smoke' }), ctx, { ...options, gateFor: () => new ScriptedGate('smoke', ['hang']) });
    expect(await background.stop()).toEqual({ passed: false, verdicts: [], reason: 'gate smoke: no measurement finished' });
  });
});
