// The sample app's knobs do what the tests of every rollout feature rely on: each one
// makes a version bad in exactly the advertised way, and /metrics tells the truth about it.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/bundle.js';

let binary: string;
let port = 18_300;
const running: ChildProcess[] = [];

beforeAll(() => {
  binary = join(mkdtempSync(join(tmpdir(), 'sample-app-')), 'sample-app');
  execFileSync('go', ['build', '-ldflags', '-X main.version=v9', '-o', binary, '.'], {
    cwd: join(REPO_ROOT, 'test/app/sample-app'), env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' }, stdio: 'pipe',
  });
}, 120_000);
afterEach(() => {
  for (const p of running.splice(0)) p.kill('SIGKILL');
});

/** Starts the app on a fresh loopback port and waits until it answers /health. */
async function start(env: Record<string, string> = {}): Promise<string> {
  const p = ++port;
  const child = spawn(binary, [], { env: { PORT: String(p), ...env }, stdio: 'ignore' });
  running.push(child);
  const base = `http://127.0.0.1:${p}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return base;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('sample app did not start');
}

const status = async (url: string) => (await fetch(url)).status;

describe('sample app', () => {
  it('answers /version with its build version, overridable by APP_VERSION', async () => {
    expect(await (await fetch(`${await start()}/version`)).text()).toBe('v9\n');
    expect(await (await fetch(`${await start({ APP_VERSION: 'canary' })}/version`)).text()).toBe('canary\n');
  });

  it('ERROR_RATE=1 fails every request with 500, and the counter says so by code and version', async () => {
    const base = await start({ ERROR_RATE: '1' });
    for (let i = 0; i < 5; i++) expect(await status(`${base}/`)).toBe(500);
    expect(await status(`${base}/health`)).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('http_requests_total{version="v9",code="500"} 5');
    expect(metrics).not.toContain('code="200"');
  });

  it('ERROR_RATE=0.5 fails about half of the requests', async () => {
    const base = await start({ ERROR_RATE: '0.5' });
    const codes = await Promise.all(Array.from({ length: 200 }, () => status(`${base}/`)));
    const failed = codes.filter((c) => c === 500).length;
    expect(failed).toBeGreaterThan(60);
    expect(failed).toBeLessThan(140);
  });

  it('LATENCY_MS slows every request, and the histogram shows it', async () => {
    const base = await start({ LATENCY_MS: '300' });
    const t0 = performance.now();
    expect(await status(`${base}/`)).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('http_request_duration_seconds_bucket{version="v9",le="0.25"} 0');
    expect(metrics).toContain('http_request_duration_seconds_bucket{version="v9",le="0.5"} 1');
  });

  it('NEVER_READY keeps /ready at 503 while /health stays 200', async () => {
    const base = await start({ NEVER_READY: 'true' });
    expect(await status(`${base}/ready`)).toBe(503);
    expect(await status(`${base}/health`)).toBe(200);
  });

  it('READY_FAIL_AFTER turns /ready to 503 after that many seconds', async () => {
    const base = await start({ READY_FAIL_AFTER: '1' });
    expect(await status(`${base}/ready`)).toBe(200);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await status(`${base}/ready`)).toBe(503);
  });

  it('CRASH_ON_START exits with status 1, and a bad knob value is refused at start', () => {
    const crash = (() => {
      try {
        execFileSync(binary, [], { env: { CRASH_ON_START: 'true', PORT: String(++port) }, stdio: 'pipe' });
        return 0;
      } catch (err) {
        return (err as { status: number }).status;
      }
    })();
    expect(crash).toBe(1);
    let message = '';
    try {
      execFileSync(binary, [], { env: { ERROR_RATE: '2', PORT: String(++port) }, stdio: 'pipe' });
    } catch (err) {
      message = String((err as { stderr: Buffer }).stderr);
    }
    expect(message).toContain('ERROR_RATE must be a number between 0 and 1');
  });
});
