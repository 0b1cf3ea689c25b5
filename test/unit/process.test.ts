// ExecRunner with real processes: what a command printed and how it exited, and a command
// that must stop (its timeout, its signal) ending with every process it started, so a hung
// test suite cannot outlive its gate. Each test has its own temporary directory.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExecRunner, KILL_GRACE_MS } from '../../src/shared/process.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gantry-process-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const runner = new ExecRunner();
const bash = (script: string, options: Parameters<ExecRunner['run']>[2] = {}) => runner.run('bash', ['-c', script], { cwd: dir, ...options });

/** Running, and not a zombie: an orphan that was killed stays one until init reaps it. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Waits up to `ms` for a process to be gone: signals take a moment to land. */
async function gone(pid: number, ms = 2_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (!alive(pid)) return true;
  return !alive(pid);
}

const pidIn = (file: string): number => Number(readFileSync(join(dir, file), 'utf8').trim());

describe('ExecRunner', () => {
  it('returns the exit code and both outputs, with input, extra environment and working directory', async () => {
    const result = await bash('read line; echo "got $line in $(basename "$PWD") as $WHO"; echo oops >&2; exit 3', { input: 'hello\n', env: { WHO: 'gantry' } });
    expect(result).toEqual({ exitCode: 3, stdout: `got hello in ${dir.split('/').at(-1)} as gantry\n`, stderr: 'oops\n' });
  });

  it('streams each line of both outputs as it arrives, the last one without a newline too', async () => {
    const lines: string[] = [];
    await bash('echo one; echo two >&2; printf three', { onLine: (l) => lines.push(l) });
    expect(lines.sort()).toEqual(['one', 'three', 'two']);
  });

  it('keeps only the end of a long output when asked', async () => {
    const result = await bash('for i in $(seq 1 20000); do echo "line $i"; done', { keepLast: 1000 });
    expect(result.stdout.length).toBeLessThanOrEqual(1000);
    expect(result.stdout.endsWith('line 20000\n')).toBe(true);
  });

  it('says why a command could not start: not on PATH, or no such working directory', async () => {
    await expect(runner.run('gantry-no-such-tool', [])).rejects.toThrow('could not start gantry-no-such-tool: not found on PATH');
    await expect(runner.run('bash', ['-c', 'true'], { cwd: join(dir, 'gone') })).rejects.toThrow(`could not start bash: its working directory ${join(dir, 'gone')} does not exist`);
  });

  it('ends a command past its timeout, with the processes it started', async () => {
    const t0 = Date.now();
    const result = await bash('echo $$ > bash.pid; sleep 30 & echo $! > child.pid; echo started; wait', { timeoutMs: 300 });
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(result).toMatchObject({ stopped: 'timeout', exitCode: 143, stdout: 'started\n' });
    expect(await gone(pidIn('bash.pid'))).toBe(true);
    expect(await gone(pidIn('child.pid'))).toBe(true);
  });

  it('ends a command when its signal aborts, with the processes it started', async () => {
    const stop = new AbortController();
    const running = bash('sleep 30 & echo $! > child.pid; echo started; wait', { signal: stop.signal, onLine: () => stop.abort() });
    const result = await running;
    expect(result).toMatchObject({ stopped: 'aborted', exitCode: 143 });
    expect(await gone(pidIn('child.pid'))).toBe(true);
  });

  it('starts nothing when its signal has already aborted', async () => {
    await expect(bash('touch ran', { signal: AbortSignal.abort(new Error('run stopped')) })).rejects.toThrow('run stopped');
    expect(() => readFileSync(join(dir, 'ran'))).toThrow();
  });

  it('does not wait for what a stoppable command left running: it ends with the command', async () => {
    const t0 = Date.now();
    const result = await bash('sleep 30 & echo $! > child.pid; echo done', { timeoutMs: 60_000 });
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(result).toEqual({ exitCode: 0, stdout: 'done\n', stderr: '' });
    expect(await gone(pidIn('child.pid'))).toBe(true);
  });

  it(`kills what ignores SIGTERM after ${KILL_GRACE_MS / 1000} s`, async () => {
    const t0 = Date.now();
    const result = await bash("trap '' TERM; echo $$ > bash.pid; echo ready; while true; do sleep 0.1; done", { timeoutMs: 200 });
    expect(result).toMatchObject({ stopped: 'timeout', exitCode: 137 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(KILL_GRACE_MS);
    expect(await gone(pidIn('bash.pid'))).toBe(true);
  }, KILL_GRACE_MS + 5_000);
});
