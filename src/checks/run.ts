// Running gates: every gate at once, each taking its measurements `interval` apart and held
// to its limits, with one line per verdict. A run ends the moment any gate is past a limit,
// without waiting for the others, so the rollout can abort at once. Background gates repeat
// until the strategy stops them, and say so as soon as one fails.
//
// No data is never a pass: a gate passes only with at least one passing measurement and all
// its `count` taken; errors are tried again (they do not use up the count) up to the limit.
import { setTimeout as delay } from 'node:timers/promises';
import { sleepUnless, type Clock } from '../kube/wait.js';
import type { Reporter } from '../report/reporter.js';
import type { Gate, GateContext, Verdict } from './gate.js';
import { CommandGate, commandGateName } from './command.js';
import { HttpGate, httpGateName } from './http.js';
import { JobGate, jobGateName } from './job.js';
import { JudgeGate } from './judge.js';
import { PrometheusGate, prometheusGateName } from './prometheus.js';
import type { GateSpec } from './spec.js';

export interface GateRunResult {
  passed: boolean;
  verdicts: Verdict[];
  /** Why not passed, one line per gate that fell short, e.g. `gate smoke: 1 failed measurement, failure-limit 0: status 503 != 200`. */
  reason?: string;
}

export interface GateRunOptions {
  reporter: Reporter;
  /** Default: the context's clock, else the system clock. */
  clock?: Clock;
  /** Stops the run; a foreground run that is stopped does not pass. Default: the context's signal. */
  signal?: AbortSignal;
  /** Makes the gate for a spec; default the built-in kinds (gateFor). */
  gateFor?: (spec: GateSpec, services: Record<string, string>) => Gate;
}

export interface BackgroundGates {
  /** Resolves with the verdict that took a gate past its limit, and why (`gate up: 5 errors in a row, consecutive-error-limit 4: …`); stays pending while none does. */
  readonly failed: Promise<{ verdict: Verdict; reason: string }>;
  /** Stops every gate at once (a measurement in flight no longer counts) and judges what was measured. */
  stop(): Promise<GateRunResult>;
}

/** The gate of a spec's kind, named as written or after its target. */
export function gateFor(spec: GateSpec, services: Record<string, string>): Gate {
  switch (spec.check.kind) {
    case 'http':
      return new HttpGate(spec.check, spec.name ?? httpGateName(spec.check, services));
    case 'prometheus':
      return new PrometheusGate(spec.check, spec.name ?? prometheusGateName(spec.check), spec.intervalMs);
    case 'judge':
      return new JudgeGate(spec.check, spec.name ?? 'judge');
    case 'job':
      return new JobGate(spec.check, spec.name ?? jobGateName(spec.check));
    case 'command':
      return new CommandGate(spec.check, spec.name ?? commandGateName(spec.check));
  }
}

/** Runs the gates once each (their `count` measurements), in parallel; fails fast. */
export async function runGates(specs: GateSpec[], ctx: GateContext, options: GateRunOptions): Promise<GateRunResult> {
  if (specs.length === 0) return { passed: true, verdicts: [] };
  const session = new GateSession(specs, ctx, options, false);
  try {
    await Promise.race([session.run(), session.ended]);
    return session.result();
  } finally {
    session.end();
  }
}

/** Starts gates that repeat every `interval` until stopped, e.g. for the whole of a canary. */
export function startBackgroundGates(specs: GateSpec[], ctx: GateContext, options: GateRunOptions): BackgroundGates {
  const session = new GateSession(specs, ctx, options, true);
  void session.run();
  return {
    failed: session.failed,
    stop: async () => {
      const result = session.result();
      session.end();
      return result;
    },
  };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One gate in a run: its measurements so far, against its limits. */
class Tally {
  passes = 0;
  failures = 0;
  inconclusives = 0;
  errorsInARow = 0;
  /** Measurements that count: all but errors. */
  counted = 0;
  attempts = 0;

  constructor(readonly gate: Gate, readonly spec: GateSpec) {}

  /** Counts a verdict; says why the gate failed when this one took it past a limit. */
  add(v: Verdict): string | undefined {
    this.attempts++;
    if (v.status === 'error') {
      this.errorsInARow++;
      const limit = this.spec.consecutiveErrorLimit;
      return this.errorsInARow > limit ? `${plural(this.errorsInARow, 'error')} in a row, consecutive-error-limit ${limit}: ${v.message}` : undefined;
    }
    this.errorsInARow = 0;
    this.counted++;
    if (v.status === 'pass') this.passes++;
    if (v.status === 'fail' && ++this.failures > this.spec.failureLimit) {
      return `${plural(this.failures, 'failed measurement')}, failure-limit ${this.spec.failureLimit}: ${v.message}`;
    }
    if (v.status === 'inconclusive' && ++this.inconclusives > this.spec.inconclusiveLimit) {
      return `${plural(this.inconclusives, 'inconclusive measurement')}, inconclusive-limit ${this.spec.inconclusiveLimit}: ${v.message}`;
    }
    return undefined;
  }

  /** Where the last verdict stands: `1/3` of the count, or `#7` of a background gate, and errors in a row. */
  progress(v: Verdict, repeat: boolean): string {
    const at = repeat ? `#${this.attempts}` : `${this.counted + (v.status === 'error' ? 1 : 0)}/${this.spec.count}`;
    return v.status === 'error' ? `${at}, ${plural(this.errorsInARow, 'error')} in a row, limit ${this.spec.consecutiveErrorLimit}` : at;
  }

  /** Why a gate that stayed within its limits still did not pass: too few measurements, or none passing. */
  shortfall(repeat: boolean): string | undefined {
    if (!repeat && this.counted < this.spec.count) return `stopped after ${this.counted} of ${plural(this.spec.count, 'measurement')}`;
    if (this.counted === 0) return 'no measurement finished';
    if (this.passes === 0) return `no passing measurement in ${this.counted}`;
    return undefined;
  }
}

/** The gates of one run, sharing one stop. */
class GateSession {
  readonly verdicts: Verdict[] = [];
  /** Resolves when the run is stopped early: a gate failed, or the caller's signal fired. */
  readonly ended: Promise<void>;
  readonly failed: Promise<{ verdict: Verdict; reason: string }>;
  private resolveFailed!: (failure: { verdict: Verdict; reason: string }) => void;
  private readonly controller = new AbortController();
  private readonly tallies: Tally[];
  private readonly clock: Clock;
  private readonly ctx: GateContext;
  private failure?: string;
  private stoppedBy?: string;
  private readonly detach: () => void;

  constructor(specs: GateSpec[], ctx: GateContext, private readonly options: GateRunOptions, private readonly repeat: boolean) {
    const signal = this.controller.signal;
    this.ended = new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    this.failed = new Promise((resolve) => { this.resolveFailed = resolve; });
    // Without an injected clock, sleeps end (and free their timers) when the run does, so
    // stopped background gates keep nothing alive.
    this.clock = options.clock ?? ctx.clock ?? { now: () => Date.now(), sleep: (ms) => delay(ms, undefined, { signal }).catch(() => undefined) };
    this.ctx = { ...ctx, clock: this.clock, signal, log: ctx.log ?? ((line) => options.reporter.info(line)) };
    const make = options.gateFor ?? gateFor;
    this.tallies = specs.map((spec) => new Tally(make(spec, ctx.services), spec));
    const outer = options.signal ?? ctx.signal;
    const onOuterAbort = (): void => this.stopBy(describeReason(outer?.reason));
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    this.detach = () => outer?.removeEventListener('abort', onOuterAbort);
    if (outer?.aborted) onOuterAbort();
  }

  run(): Promise<void> {
    return Promise.all(this.tallies.map((t) => this.measureRepeatedly(t))).then(() => undefined);
  }

  private async measureRepeatedly(t: Tally): Promise<void> {
    const signal = this.controller.signal;
    if (t.spec.initialDelayMs > 0) await sleepUnless(this.clock, t.spec.initialDelayMs, this.ended);
    while (!signal.aborted) {
      const v = await this.take(t.gate);
      // A verdict that arrives after the run ended no longer counts, and is not shown.
      if (signal.aborted) return;
      this.verdicts.push(v);
      const over = t.add(v);
      this.options.reporter.info(`gate ${v.gate}: ${v.status} — ${v.message} (${t.progress(v, this.repeat)})`);
      if (over !== undefined) {
        this.fail(v, `gate ${v.gate}: ${over}`);
        return;
      }
      if (!this.repeat && t.counted >= t.spec.count) return;
      await sleepUnless(this.clock, t.spec.intervalMs, this.ended);
    }
  }

  /** A gate that throws has measured nothing: an error verdict, like any other failure to measure. */
  private async take(gate: Gate): Promise<Verdict> {
    try {
      return await gate.measure(this.ctx);
    } catch (err) {
      return { gate: gate.name, status: 'error', condition: 'a measurement', message: `could not measure: ${err instanceof Error ? err.message : String(err)}`, at: this.clock.now() };
    }
  }

  private fail(v: Verdict, reason: string): void {
    if (this.failure !== undefined) return;
    this.failure = reason;
    this.resolveFailed({ verdict: v, reason });
    this.controller.abort();
  }

  private stopBy(why: string): void {
    if (this.controller.signal.aborted) return;
    this.stoppedBy = why;
    this.controller.abort();
  }

  /** The verdict on what was measured so far. */
  result(): GateRunResult {
    const verdicts = [...this.verdicts];
    if (this.failure !== undefined) return { passed: false, verdicts, reason: this.failure };
    const short = this.tallies.flatMap((t) => {
      const why = t.shortfall(this.repeat);
      return why === undefined ? [] : [`gate ${t.gate.name}: ${why}`];
    });
    // Stopping is how background gates end; for gates with a count it cuts them short.
    if (this.stoppedBy !== undefined && !this.repeat) short.unshift(`gates stopped: ${this.stoppedBy}`);
    return short.length > 0 ? { passed: false, verdicts, reason: short.join('; ') } : { passed: true, verdicts };
  }

  /** Ends every loop and lets go of the caller's signal. */
  end(): void {
    this.detach();
    if (!this.controller.signal.aborted) this.controller.abort();
  }
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return reason === undefined ? 'aborted' : String(reason);
}
