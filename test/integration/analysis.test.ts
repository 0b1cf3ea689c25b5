// Gates that judge by metrics, on the real stack: the real Prometheus scraping the real
// sample app every 2 s while a request loop sends it traffic. A version with 5 % errors is
// caught by the error-rate gate, a query that matches nothing is never a pass, Prometheus
// going down aborts the rollout at the consecutive-error limit, and the judge fails a
// version that is only slower (which the error-rate gate passes) and passes a good one,
// each as soon as it has seen enough. Times go to the log for the note.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runGates } from '../../src/checks/run.js';
import { parseGateSpecs } from '../../src/checks/spec.js';
import { ApiClient } from '../../src/kube/api-client.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { deploy } from '../../src/strategies/commands.js';
import { sampleFiles, workspace } from '../fixtures/deploy/sample.js';
import { runCommand, testNamespaces } from '../support/rollouts.js';
import { STACK_DIR, stack } from '../support/stack.js';
import { RequestLoop, ask } from '../support/traffic.js';

const env = stack();
const V1 = `${env.sampleImage}:v1`;
const V2 = `${env.sampleImage}:v2`;
const kubectl = (...args: string[]): string => execFileSync('kubectl', args, { encoding: 'utf8', stdio: 'pipe' });
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

const namespace = testNamespaces();

const deployVersion = (ws: string, settings: Record<string, string>) =>
  runCommand('deploy', deploy, ws, { 'prometheus-url': env.prometheusUrl, ...settings });

const files = (image: string, knobs: Record<string, string> = {}) => sampleFiles({ image, replicas: 2, env: knobs });

/** v1 deployed and answering on its ClusterIP, and a request loop against it (4 at a time) that the test stops. */
async function stableWithTraffic(ns: string, knobs: Record<string, string> = {}): Promise<RequestLoop> {
  const first = await deployVersion(workspace(files(V1, knobs)), { namespace: ns });
  expect(first.outcome.result, first.outcome.reason).toBe('deployed');
  const url = `http://${kubectl('get', 'service', 'web', '-n', ns, '-o', 'jsonpath={.spec.clusterIP}')}/version`;
  const deadline = Date.now() + 30_000;
  while ((await ask(url, { timeoutMs: 2000 })).answer !== 'v1') {
    if (Date.now() > deadline) throw new Error(`${url} does not answer v1`);
  }
  const loop = new RequestLoop(url, { concurrency: 4 }).start();
  cleanups.push(() => void loop.stop());
  return loop;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

describe('the Prometheus gate in a canary', () => {
  it('fails a version with 5 % errors at its first measurement, and passes a good one', async () => {
    const ns = namespace('errrate');
    const loop = await stableWithTraffic(ns);
    // The shorthand: an error-rate gate of the canary's pods every 10 s, after 10 s for the rate window to fill.
    const settings = { namespace: ns, strategy: 'canary', steps: '- setWeight: 50\n- pause: {duration: 35s}\n', 'max-error-rate': '0.01' };
    const bad = await deployVersion(workspace(files(V2, { ERROR_RATE: '0.05' })), settings);
    expect(bad.outcome.result, bad.outcome.reason).toBe('rolled-back');
    expect(bad.outcome.reason).toMatch(/^background analysis failed: gate error rate: 1 failed measurement, failure-limit 0: result 0\.0\d+: result <= 0\.01 does not hold/);
    const verdicts = bad.reporter.lines.filter((l) => l.startsWith('gate error rate:'));
    // failure-limit 0: the first failed measurement is the verdict, interval × (failure-limit + 1) = 10 s after measuring starts.
    expect(verdicts).toHaveLength(1);
    const weighted = bad.reporter.at(/weight 50/);
    console.log(`[measure] 5 % errors: error-rate gate failed ${seconds(bad.reporter.at(/^gate error rate: fail/) - weighted)} after the canary got traffic (10 s initial delay + 1 of count 3 at 10 s, failure-limit 0); rollout ${bad.outcome.result}`);

    const good = await deployVersion(workspace(files(V2)), settings);
    await loop.stop();
    expect(good.outcome.result, good.outcome.reason).toBe('deployed');
    expect(good.reporter.lines.filter((l) => l.startsWith('gate error rate: pass')).length).toBeGreaterThanOrEqual(2);
  }, 300_000);
});

describe('no data is never a pass', () => {
  it('a query that matches nothing is inconclusive, and the gate does not pass', async () => {
    const reporter = new MemoryReporter();
    const client = ApiClient.fromConfig();
    try {
      const { specs } = parseGateSpecs(parse(`
- name: nothing
  prometheus: {query: 'sum(rate(no_such_metric_total{namespace="{{namespace}}"}[{{interval}}]))', condition: result < 1.0}
  interval: 500ms
`), 'background');
      const result = await runGates(specs, { client, namespace: 'default', services: {}, prometheus: { url: env.prometheusUrl } }, { reporter });
      expect(result.passed).toBe(false);
      expect(result.verdicts.map((v) => v.status)).toEqual(['inconclusive']);
      expect(result.reason).toMatch(/^gate nothing: 1 inconclusive measurement, inconclusive-limit 0: the query returned no data/);
    } finally {
      client.close();
    }
  });

  it('Prometheus going down mid-canary makes the gate error, and the rollout aborts at the consecutive-error limit', async () => {
    const ns = namespace('promdown');
    // A Prometheus of this test's own, scraping the stack's targets, so the shared one stays up.
    const port = await freePort();
    const data = mkdtempSync(join(tmpdir(), 'gantry-prom-'));
    const prometheus: ChildProcess = spawn('prometheus', [`--config.file=${join(STACK_DIR, 'prometheus.yml')}`, `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    cleanups.push(() => {
      prometheus.kill('SIGKILL');
      rmSync(data, { recursive: true, force: true });
    });
    const address = `http://127.0.0.1:${port}`;
    for (const deadline = Date.now() + 30_000; !(await fetch(`${address}/-/ready`).then((r) => r.ok, () => false));) {
      if (Date.now() > deadline) throw new Error('the test Prometheus did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
    const loop = await stableWithTraffic(ns);
    const rollout = `steps:
  - setWeight: 50
  - pause: {duration: 90s}
background:
  - name: up
    prometheus: {address: "${address}", query: 'count(up{namespace="{{namespace}}"})', condition: result >= 1.0, timeout: 2s}
    interval: 1s
    consecutive-error-limit: 4
    # until this Prometheus has scraped the namespace, the query returns nothing
    inconclusive-limit: 60
`;
    const running = deployVersion(workspace(files(V2)), { namespace: ns, strategy: 'canary', rollout });
    // Down once the gate has passed a few times.
    for (const deadline = Date.now() + 60_000; !(await countPasses(address, ns));) {
      if (Date.now() > deadline) throw new Error('no target of the namespace reached the test Prometheus');
      await new Promise((r) => setTimeout(r, 500));
    }
    await new Promise((r) => setTimeout(r, 3000));
    const killedAt = Date.now();
    prometheus.kill('SIGKILL');
    const { outcome, reporter } = await running;
    await loop.stop();
    expect(outcome.result).toBe('rolled-back');
    expect(outcome.reason).toBe(`background analysis failed: gate up: 5 errors in a row, consecutive-error-limit 4: cannot reach ${address}: ECONNREFUSED`);
    expect(reporter.lines.some((l) => /^gate up: pass/.test(l))).toBe(true);
    expect(reporter.lines.filter((l) => /^gate up: error/.test(l))).toHaveLength(5);
    console.log(`[measure] Prometheus down: rollout aborted ${seconds(reporter.at(/→ aborting/) - killedAt)} after Prometheus died (5 errors 1 s apart)`);
  }, 300_000);
});

describe('the judge', () => {
  const judged = (metricsExtra = ''): string => `steps:
  - setWeight: 50
  - analysis:
      - name: judge
        judge:
          duration: auto
          min: 10s
          max: 120s
          step: 2s
          metrics:
            - name: mean latency
              query: '1000 * sum(rate(http_request_duration_seconds_sum{namespace="{{namespace}}", pod=~"{{pods}}"}[6s])) / sum(rate(http_request_duration_seconds_count{namespace="{{namespace}}", pod=~"{{pods}}"}[6s]))'
              direction: increase
              effect: 1.2
              critical: true
              unit: ms
${metricsExtra}`;

  it('fails a version that is only slower (+100 % latency, no errors) in less time than a 2-minute pause, while the error-rate gate passes it; passes a good one once it has the samples', async () => {
    const ns = namespace('judge');
    const loop = await stableWithTraffic(ns, { LATENCY_MS: '20' });
    const settings = { namespace: ns, strategy: 'canary', rollout: judged(), 'max-error-rate': '0.01' };
    const slow = await deployVersion(workspace(files(V2, { LATENCY_MS: '40' })), settings);
    expect(slow.outcome.result, slow.outcome.reason).toBe('rolled-back');
    expect(slow.outcome.reason).toMatch(/^step 2\/2 analysis failed: gate judge: .*mean latency: canary 4\d(\.\d+)? ms vs stable 2\d(\.\d+)? ms \(U p=[0-9.e-]+, ×[12]\.\d\) → fail/);
    expect(slow.outcome.reason).toMatch(/\d+ samples per side in \d+s, power [01]\.\d\d/);
    // Fixed thresholds miss this: the error-rate gate measured the same canary and passed it.
    const errorGate = slow.reporter.lines.filter((l) => l.startsWith('gate error rate:'));
    expect(errorGate.some((l) => l.startsWith('gate error rate: pass'))).toBe(true);
    expect(errorGate.some((l) => l.startsWith('gate error rate: fail'))).toBe(false);
    const slowTook = slow.reporter.at(/^gate judge: fail/) - slow.reporter.at(/^step 2\/2: analysis/);
    expect(slowTook).toBeLessThan(120_000);

    const good = await deployVersion(workspace(files(V2, { LATENCY_MS: '20' })), settings);
    await loop.stop();
    expect(good.outcome.result, good.outcome.reason).toBe('deployed');
    const pass = good.reporter.lines.find((l) => l.startsWith('gate judge: pass'))!;
    expect(pass).toMatch(/score 100\/100, mean latency: canary 2\d(\.\d+)? ms vs stable 2\d(\.\d+)? ms .*→ pass \((\d+) samples per side in (\d+)s, power (0\.[89]\d|1\.00)\)/);
    const goodTook = good.reporter.at(/^gate judge: pass/) - good.reporter.at(/^step 2\/2: analysis/);
    console.log(`[measure] adaptive judge: +100 % latency failed after ${seconds(slowTook)}; good version passed after ${seconds(goodTook)} (${/\((\d+ samples per side in \d+s, power [0-9.]+)\)/.exec(pass)![1]}); a fixed pause would take 120 s`);
  }, 420_000);
});

/** Whether the test Prometheus has scraped a target of the namespace yet. */
async function countPasses(address: string, ns: string): Promise<boolean> {
  try {
    const res = await fetch(`${address}/api/v1/query?${new URLSearchParams({ query: `count(up{namespace="${ns}"})` })}`);
    const body = (await res.json()) as { data?: { result?: unknown[] } };
    return (body.data?.result?.length ?? 0) > 0;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
