// The command gate: what the command is told (GANTRY_* variables with the Services'
// ClusterIP URLs, in the checkout), and the verdict for each way it ends — with a fake
// runner for the wiring, and with real bash for exit codes, output, timeouts and the
// processes a hung command leaves. Each real run has its own temporary directory.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BASH_ARGS, CommandGate, commandGateName } from '../../src/checks/command.js';
import type { GateContext } from '../../src/checks/gate.js';
import { runGates } from '../../src/checks/run.js';
import { parseGateSpecs, type CommandCheckSpec, type GateSpec } from '../../src/checks/spec.js';
import { OUTPUT_TAIL_BYTES } from '../../src/checks/test-run.js';
import type { KubeObject } from '../../src/kube/client.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import type { CommandResult, CommandRunner, RunOptions } from '../../src/shared/process.js';
import { FakeClock, FakeCluster } from '../fixtures/deploy/fake-cluster.js';

function parse(command: unknown, extra: Record<string, unknown> = {}) {
  return parseGateSpecs([{ command, ...extra }], 'post-promotion-analysis');
}

function spec(command: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): GateSpec {
  const { specs, errors } = parse({ run: 'npm run e2e', ...command }, extra);
  expect(errors).toEqual([]);
  return specs[0]!;
}
const check = (command: Record<string, unknown> = {}): CommandCheckSpec => spec(command).check as CommandCheckSpec;

const service = (name: string, clusterIP: string, port?: number): KubeObject => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop' }, spec: { clusterIP, ports: port === undefined ? [] : [{ port }] },
});

function cluster(): FakeCluster {
  const c = new FakeCluster();
  c.put(service('web', '10.96.0.10', 80));
  c.put(service('web-canary', '10.96.0.12', 8080));
  c.put(service('web-headless', 'None', 80));
  return c;
}

/** Answers every run with `result` (or throws it), and keeps what it was asked. */
class FakeRunner implements CommandRunner {
  readonly calls: { command: string; args: string[]; options: RunOptions }[] = [];
  constructor(private readonly result: Partial<CommandResult> | Error, private readonly lines: string[] = []) {}
  async run(command: string, args: string[], options: RunOptions = {}): Promise<CommandResult> {
    this.calls.push({ command, args, options });
    if (this.result instanceof Error) throw this.result;
    for (const line of this.lines) options.onLine?.(line);
    return { exitCode: 0, stdout: '', stderr: '', ...this.result };
  }
}

function context(runner?: CommandRunner, extra: Partial<GateContext> = {}): GateContext {
  return { client: cluster(), namespace: 'shop', services: { canary: 'web-canary', stable: 'web' }, version: 'v2', clock: new FakeClock(), runner, workspace: '/work/checkout', ...extra };
}

describe('CommandGate, with a fake runner', () => {
  it('runs the command with bash in the checkout, told what to test, under its timeout and the run\'s signal', async () => {
    const runner = new FakeRunner({ exitCode: 0 });
    const stop = new AbortController();
    const v = await new CommandGate(check({ env: { SUITE: 'smoke', WORKERS: 4 }, timeout: '10m' }), 'e2e').measure(context(runner, { signal: stop.signal }));
    expect(v).toMatchObject({ gate: 'e2e', status: 'pass', value: '0', condition: 'exit code == 0 within 10m', message: 'exit code 0' });
    expect(runner.calls).toHaveLength(1);
    const { command, args, options } = runner.calls[0]!;
    expect([command, ...args]).toEqual(['bash', ...BASH_ARGS, 'npm run e2e']);
    expect(options).toMatchObject({ cwd: '/work/checkout', timeoutMs: 600_000, signal: stop.signal });
    expect(options.env).toEqual({
      GANTRY_NAMESPACE: 'shop',
      GANTRY_VERSION: 'v2',
      GANTRY_CANARY_SERVICE: 'web-canary',
      GANTRY_CANARY_URL: 'http://10.96.0.12:8080',
      GANTRY_STABLE_SERVICE: 'web',
      GANTRY_STABLE_URL: 'http://10.96.0.10:80',
      SUITE: 'smoke',
      WORKERS: '4',
    });
  });

  it('gives no URL for a headless Service, nor for one that does not exist', async () => {
    const runner = new FakeRunner({ exitCode: 0 });
    await new CommandGate(check()).measure(context(runner, { services: { preview: 'web-headless', active: 'web-gone' } }));
    expect(runner.calls[0]!.options.env).toEqual({ GANTRY_NAMESPACE: 'shop', GANTRY_VERSION: 'v2', GANTRY_PREVIEW_SERVICE: 'web-headless', GANTRY_ACTIVE_SERVICE: 'web-gone' });
  });

  it.each([
    ['a non-zero exit, with the last line it printed', { exitCode: 2 }, ['Running 12 tests', '  ✓ login', '  ✘ checkout (503)', '', '1 failed'], 'fail', 'exit code 2: "1 failed"', '2'],
    ['a non-zero exit with no output', { exitCode: 1 }, [], 'fail', 'exit code 1: no output', '1'],
    ['its timeout', { exitCode: 143, stopped: 'timeout' as const }, ['waiting for the canary'], 'fail', 'did not finish within 5m; last line "waiting for the canary"', undefined],
    ['the run stopping it', { exitCode: 143, stopped: 'aborted' as const }, [], 'error', 'stopped before the command finished', undefined],
  ])('%s', async (_name, result, lines, status, message, value) => {
    const v = await new CommandGate(check(), 'e2e').measure(context(new FakeRunner(result, lines)));
    expect(v).toMatchObject({ status, message });
    expect(v.value).toBe(value);
    expect(v.detail).toBe(lines.length > 0 ? lines.join('\n') : undefined);
  });

  it('is an error when the command cannot start', async () => {
    const v = await new CommandGate(check(), 'e2e').measure(context(new FakeRunner(new Error('could not start bash: not found on PATH'))));
    expect(v).toMatchObject({ status: 'error', message: 'could not start bash: not found on PATH' });
  });

  it('keeps what a runner returned apart when it streamed no lines', async () => {
    const v = await new CommandGate(check(), 'e2e').measure(context(new FakeRunner({ exitCode: 1, stdout: 'ran 3\n', stderr: 'Error: boom\n' })));
    expect(v).toMatchObject({ status: 'fail', message: 'exit code 1: "Error: boom"', detail: 'ran 3\n\nError: boom' });
  });

  it('is an error, with nothing run, when the Services cannot be read', async () => {
    class Unreachable extends FakeCluster {
      override get(): never {
        throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
      }
    }
    const client = new Unreachable();
    const runner = new FakeRunner({ exitCode: 0 });
    const v = await new CommandGate(check(), 'e2e').measure(context(runner, { client }));
    expect(v).toMatchObject({ status: 'error', message: 'could not read the Services to test from the API server: connect ECONNREFUSED 127.0.0.1:6443' });
    expect(runner.calls).toEqual([]);
  });

  it('is named after its command unless it has a name', () => {
    expect(commandGateName(check())).toBe('command npm run e2e');
    expect(commandGateName(check({ run: 'set -x\nnpm ci\nnpm run e2e' }))).toBe('command set -x');
    expect(commandGateName(check({ run: `npx playwright test --project=chromium --grep @smoke` }))).toBe('command npx playwright test --project=chromium…');
  });
});

describe('CommandGate, with real bash', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-command-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const real = (extra: Partial<GateContext> = {}): GateContext => context(undefined, { workspace: dir, ...extra });

  it('passes when the script exits 0, run in the checkout with the GANTRY_* variables set', async () => {
    const script = 'test "$PWD" = "$EXPECTED_DIR"\ntest "$GANTRY_CANARY_URL" = http://10.96.0.12:8080\ntest "$GANTRY_VERSION" = v2\necho ok';
    const v = await new CommandGate(check({ run: script, env: { EXPECTED_DIR: dir } }), 'env').measure(real());
    expect(v).toMatchObject({ status: 'pass', value: '0' });
  });

  it('fails like a `run:` step: the first failing command stops it, a failing pipeline counts', async () => {
    const v = await new CommandGate(check({ run: 'echo checking\nfalse | cat\necho never' }), 'e2e').measure(real());
    expect(v).toMatchObject({ status: 'fail', value: '1', message: 'exit code 1: "checking"', detail: 'checking' });
  });

  it('fails with stdout and stderr interleaved as evidence, and the last line in the message', async () => {
    const v = await new CommandGate(check({ run: 'echo "1 passed"; sleep 0.05; echo "FAIL checkout: expected 200, got 503" >&2; exit 4' }), 'e2e').measure(real());
    expect(v).toMatchObject({ status: 'fail', value: '4', message: 'exit code 4: "FAIL checkout: expected 200, got 503"', detail: '1 passed\nFAIL checkout: expected 200, got 503' });
  });

  it('keeps only the end of a long output', async () => {
    const v = await new CommandGate(check({ run: 'for i in $(seq 1 20000); do echo "test $i ok"; done; echo "summary: 1 failed"; exit 1' }), 'e2e').measure(real());
    expect(v.message).toBe('exit code 1: "summary: 1 failed"');
    expect(Buffer.byteLength(v.detail!)).toBeLessThanOrEqual(OUTPUT_TAIL_BYTES + 100);
    expect(v.detail).toMatch(/^\[… \d+ bytes before this left out …\]\ntest \d+ ok\n/);
    expect(v.detail!.endsWith('test 20000 ok\nsummary: 1 failed')).toBe(true);
  });

  it('ends a hung command at its timeout, with what it started, and fails', async () => {
    const t0 = Date.now();
    const v = await new CommandGate(check({ run: 'sleep 30 & echo $! > server.pid\necho "waiting for the canary"\nwait', timeout: '500ms' }), 'e2e').measure(real());
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(v).toMatchObject({ status: 'fail', message: 'did not finish within 500ms; last line "waiting for the canary"' });
    const pid = Number(readFileSync(join(dir, 'server.pid'), 'utf8'));
    await expect.poll(() => { try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; } }, { timeout: 2_000 }).toBe(false);
  });

  it('is an error when the checkout is not there', async () => {
    const v = await new CommandGate(check(), 'e2e').measure(real({ workspace: join(dir, 'gone') }));
    expect(v).toMatchObject({ status: 'error', message: `could not start bash: its working directory ${join(dir, 'gone')} does not exist` });
  });

  it('runs from the rollout YAML through the gate loop, one line per verdict', async () => {
    const reporter = new MemoryReporter();
    const result = await runGates([spec({ run: 'echo "3 passed"' }, { count: 2, interval: '1s' })], real(), { reporter, clock: new FakeClock() });
    expect(result.passed).toBe(true);
    expect(reporter.lines).toEqual(['gate command echo "3 passed": pass — exit code 0 (1/2)', 'gate command echo "3 passed": pass — exit code 0 (2/2)']);
  });
});

describe('the command check as written', () => {
  it('has a 5m timeout by default', () => {
    expect(check()).toEqual({ kind: 'command', run: 'npm run e2e', timeoutMs: 300_000, env: {} });
  });

  it.each([
    ['no run', {}, 'post-promotion-analysis[0].command.run: is required: the command to run with bash, e.g. run: npm run e2e'],
    ['an empty run', { run: '  ' }, 'post-promotion-analysis[0].command.run: must be a non-empty string, got "  "'],
    ['a run given as a list', { run: ['npm', 'test'] }, 'post-promotion-analysis[0].command.run: must be a non-empty string, got ["npm","test"]'],
    ['a timeout that is no duration', { run: 'x', timeout: 'ten minutes' }, 'post-promotion-analysis[0].command.timeout: must be a duration like 500ms, 2s or 1m, got "ten minutes"'],
    ['a GANTRY_ variable', { run: 'x', env: { GANTRY_NAMESPACE: 'other' } }, 'post-promotion-analysis[0].command.env.GANTRY_NAMESPACE: is Gantry\'s to set; GANTRY_ variables say what to test (GANTRY_NAMESPACE, GANTRY_VERSION, GANTRY_<ROLE>_SERVICE, GANTRY_<ROLE>_URL)'],
    ['an unknown field', { run: 'x', shell: 'sh' }, 'post-promotion-analysis[0].command.shell: is not a command field; expected one of run, timeout, env'],
  ])('%s is named by its path', (_name, command, message) => {
    const { specs, errors } = parse(command);
    expect(specs).toEqual([]);
    expect(errors.map((e) => e.message)).toEqual([message]);
  });
});
