// Benchmarks of issue 9's deploy targets, on the local stack (not timed tests: they print
// `[measure]` lines and assert only outcomes).
//
// 1. Overhead: the sample app deployed with plain `kubectl apply -f` + `kubectl rollout
//    status` and with Gantry (the library, a fresh ApiClient per deploy), in interleaved
//    pairs, each deploy into its own fresh namespace, image pre-warmed on the node. Prints
//    every pair and the median ratio. Gantry must start no process for plain YAML.
// 2. 1,000 objects: 1,000 ConfigMaps plus the sample app, a full deploy (dry run,
//    snapshot, apply, wait, history), a few runs, the median.
//
// Processes are counted twice: by the Kubectl instance Gantry is given (its `.calls`), and
// by wrapping every process-starting function of node:child_process for this test file.
//
// Run: source ~/.cache/gantry/stack/env && npx vitest run test/bench/deploy-overhead.test.ts
// GANTRY_BENCH_PAIRS / GANTRY_BENCH_RUNS change the number of pairs (default 10) and 1,000-object runs (default 3).
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { loadavg } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/deploy.js';
import { MapSource } from '../../src/config/source.js';
import { ApiClient } from '../../src/kube/api-client.js';
import { Kubectl } from '../../src/kube/kubectl.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { RolloutOutcome } from '../../src/strategies/basic.js';
import { deploy } from '../../src/strategies/commands.js';
import { readyNamespace } from '../support/namespaces.js';
import { stack } from '../support/stack.js';
import { sampleFiles, workspace } from '../fixtures/deploy/sample.js';

const PAIRS = Number(process.env.GANTRY_BENCH_PAIRS ?? 10);
const RUNS = Number(process.env.GANTRY_BENCH_RUNS ?? 3);
const V1 = `${stack().sampleImage}:v1`;

/** Setup and cleanup go through one API client of the test's own; the timed deploys never share it. */
let admin: ApiClient;
const namespaces = new Set<string>();

/** Every process started in this worker, by anyone (Gantry, its libraries, this test), through node:child_process. */
let processesStarted = 0;
const SPAWNERS = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const;
const originals = new Map<string, unknown>();

beforeAll(() => {
  admin = ApiClient.fromConfig();
  const cp = childProcess as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of SPAWNERS) {
    const original = cp[name]!;
    originals.set(name, original);
    cp[name] = function (this: unknown, ...args: unknown[]) {
      processesStarted++;
      return original.apply(this, args);
    };
  }
  // Named imports of node:child_process (ours, those of the libraries) see the wrappers too.
  syncBuiltinESMExports();
});
afterAll(async () => {
  for (const [name, original] of originals) (childProcess as unknown as Record<string, unknown>)[name] = original;
  syncBuiltinESMExports();
  await admin.delete([...namespaces].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })));
  admin.close();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A namespace ready for pods at once, removed after the run. */
async function freshNamespace(prefix = 'bench'): Promise<string> {
  const name = await readyNamespace(admin, prefix);
  namespaces.add(name);
  return name;
}

/**
 * Deletes namespaces (their Deployment first: the garbage collector removes its pods sooner
 * than the namespace controller) and waits up to 30 s until their pods are gone, or with
 * `untilGone` the namespaces themselves (1,000 ConfigMaps), so the teardown does not load
 * the next measurement. Otherwise the namespaces linger a few seconds more, idle.
 */
async function dropNamespaces(names: string[], untilGone = false): Promise<void> {
  await admin.delete(names.map((namespace) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace } })));
  await admin.delete(names.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })));
  const deadline = Date.now() + 30_000;
  const busy = async (name: string): Promise<boolean> => untilGone
    ? (await admin.get({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })) !== undefined
    : (await admin.list('v1', 'Pod', name)).items.length > 0;
  for (const name of names) {
    while (Date.now() < deadline && (await busy(name))) await sleep(250);
    namespaces.delete(name);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

/** A MemoryReporter that notes when each line was reported, to split a deploy into its phases. */
class TimedReporter extends MemoryReporter {
  readonly at: { ms: number; line: string }[] = [];
  constructor(private readonly t0: number) {
    super();
  }
  override info(message: string): void {
    this.at.push({ ms: performance.now() - this.t0, line: message });
    super.info(message);
  }
  override async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.at.push({ ms: performance.now() - this.t0, line: `▸ ${name}` });
    return super.group(name, fn);
  }
  /** When the first line matching `re` was reported, ms after the start. */
  when(re: RegExp): number {
    return this.at.find((a) => re.test(a.line))?.ms ?? NaN;
  }
  /** Where the time went: loading, dry run, snapshot and records, apply, wait, and the history/record/lock at the end. */
  phases(totalMs: number): string {
    const marks: [string, number][] = [
      ['load', this.when(/^▸ Validate/)],
      ['lock+dry run', this.when(/validating → snapshotting/)],
      ['snapshot+record', this.when(/^▸ Apply/)],
      ['apply', this.when(/applying → waiting/)],
      ['wait', this.when(/waiting → deployed/)],
      ['finish', totalMs],
    ];
    let prev = 0;
    return marks.map(([name, ms]) => {
      const part = `${name} ${Math.round(ms - prev)}`;
      prev = ms;
      return part;
    }).join(', ') + ' ms';
  }
}

/** One Gantry deploy as the action runs it: its own API client; `kubectl` counts the processes Gantry starts. */
async function gantryDeploy(ws: string, namespace: string): Promise<{ ms: number; outcome: RolloutOutcome; processes: number; spawned: number; phases: string }> {
  const kubectl = new Kubectl();
  const before = processesStarted;
  const t0 = performance.now();
  const reporter = new TimedReporter(t0);
  const client = ApiClient.fromConfig();
  const config = parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web', namespace, timeout: '120s' }), { GITHUB_WORKSPACE: ws });
  const outcome = await deploy(config, { client, kubectl, reporter }).finally(() => client.close());
  const ms = performance.now() - t0;
  return { ms, outcome, processes: kubectl.calls, spawned: processesStarted - before, phases: reporter.phases(ms) };
}

/** The plain pair Gantry replaces, as a workflow step would run it (asynchronously, so our watch sees events as they come). */
async function plainDeploy(ws: string, namespace: string): Promise<{ ms: number; applyMs: number }> {
  const kubectl = (args: string[]): Promise<void> => new Promise((resolve, reject) =>
    childProcess.execFile('kubectl', args, (err, _stdout, stderr) => (err ? reject(new Error(`kubectl ${args[0]}: ${stderr || err.message}`)) : resolve())));
  const t0 = performance.now();
  await kubectl(['apply', '-n', namespace, '-f', `${ws}/k8s`]);
  const applyMs = performance.now() - t0;
  await kubectl(['rollout', 'status', '-n', namespace, 'deployment/web', '--timeout=120s']);
  return { ms: performance.now() - t0, applyMs };
}

/**
 * The cluster's part of a deploy, from a watch of our own on the namespace's Deployments:
 * when the Deployment was first seen and when first seen available (performance.now()).
 * What lies before is the tool's start; what lies after, the tool noticing.
 */
interface ClusterTimes {
  createdAt?: number;
  availableAt?: number;
  stop: () => void;
}

async function watchDeployment(namespace: string): Promise<ClusterTimes> {
  const { resourceVersion } = await admin.list('apps/v1', 'Deployment', namespace);
  const times: ClusterTimes = { stop: () => undefined };
  const stream = admin.watch('apps/v1', 'Deployment', { namespace, resourceVersion }, ({ type, object }) => {
    const now = performance.now();
    if (type !== 'ADDED' && type !== 'MODIFIED') return;
    times.createdAt ??= now;
    const status = (object.status ?? {}) as { observedGeneration?: number; updatedReplicas?: number; availableReplicas?: number };
    const current = (status.observedGeneration ?? 0) >= ((object.metadata.generation as number | undefined) ?? 1);
    if (times.availableAt === undefined && current && (status.updatedReplicas ?? 0) >= 1 && (status.availableReplicas ?? 0) >= 1) times.availableAt = now;
  });
  times.stop = () => stream.stop();
  return times;
}

/** A deploy split at the cluster's part: [tool until the Deployment exists, cluster until it is available, tool until it says so]. */
function split(t0: number, ms: number, c: ClusterTimes): [number, number, number] {
  const created = (c.createdAt ?? NaN) - t0;
  const available = (c.availableAt ?? NaN) - t0;
  return [created, available - created, ms - available];
}
const splitText = ([head, cluster, tail]: [number, number, number]): string =>
  `Deployment seen after ${Math.round(head)} ms, available ${Math.round(cluster)} ms later, done ${Math.round(tail)} ms after that`;

describe('deploy overhead (issue 9 targets)', () => {
  it(`gantry deploy ÷ (kubectl apply + kubectl rollout status), ${PAIRS} interleaved pairs`, async () => {
    const ws = workspace(sampleFiles({ image: V1 }));
    // Warm the image on the node, kubectl's discovery cache and this process's modules, so no side pays a first time.
    const warmPlain = await freshNamespace();
    const counted = processesStarted;
    await plainDeploy(ws, warmPlain);
    // The counter sees processes: the plain pair starts two.
    expect(processesStarted - counted).toBe(2);
    const warmGantry = await freshNamespace();
    const warm = await gantryDeploy(ws, warmGantry);
    expect(warm.outcome.result, warm.outcome.reason).toBe('deployed');
    await dropNamespaces([warmPlain, warmGantry]);

    console.log(`[measure] overhead: load average at start ${load()}`);
    const pairs: { plain: number; gantry: number; ratio: number; plainSplit: [number, number, number]; gantrySplit: [number, number, number] }[] = [];
    for (let i = 0; i < PAIRS; i++) {
      const [plainNs, gantryNs] = [await freshNamespace(), await freshNamespace()];
      const [plainSeen, gantrySeen] = [await watchDeployment(plainNs), await watchDeployment(gantryNs)];
      // Alternate which side goes first, so a drift in load within a pair favours neither. And
      // start each deploy after a random pause of up to 1 s: kubelet notices containers by
      // relisting them every second, so a deploy that starts right after the previous one
      // ended (on such a relist) is phase-locked to it and pays most of a second more.
      const gantryFirst = i % 2 === 1;
      const jitter = (): Promise<void> => sleep(Math.random() * 1000);
      let plainT0 = 0;
      let gantryT0 = 0;
      const runPlain = async (): Promise<Awaited<ReturnType<typeof plainDeploy>>> => {
        await jitter();
        plainT0 = performance.now();
        return plainDeploy(ws, plainNs);
      };
      const runGantry = async (): Promise<Awaited<ReturnType<typeof gantryDeploy>>> => {
        await jitter();
        gantryT0 = performance.now();
        return gantryDeploy(ws, gantryNs);
      };
      const first = gantryFirst ? await runGantry() : undefined;
      const plain = await runPlain();
      const gantry = first ?? (await runGantry());
      plainSeen.stop();
      gantrySeen.stop();
      expect(gantry.outcome.result, gantry.outcome.reason).toBe('deployed');
      expect(gantry.processes).toBe(0);
      expect(gantry.spawned).toBe(0);
      const ratio = gantry.ms / plain.ms;
      const plainSplit = split(plainT0, plain.ms, plainSeen);
      const gantrySplit = split(gantryT0, gantry.ms, gantrySeen);
      pairs.push({ plain: plain.ms, gantry: gantry.ms, ratio, plainSplit, gantrySplit });
      console.log(`[measure] overhead pair ${i + 1}/${PAIRS} (${gantryFirst ? 'gantry first' : 'plain first'}): ratio ${ratio.toFixed(2)}; plain ${sec(plain.ms)} (apply ${Math.round(plain.applyMs)} ms; ${splitText(plainSplit)}); gantry ${sec(gantry.ms)} (${gantry.processes} kubectl calls, ${gantry.spawned} processes; ${splitText(gantrySplit)}; phases: ${gantry.phases})`);
      await dropNamespaces([plainNs, gantryNs]);
    }
    const ratios = pairs.map((p) => p.ratio);
    const part = (side: 'plainSplit' | 'gantrySplit', k: number): string => `${Math.round(median(pairs.map((p) => p[side][k]!)))}`;
    const own = (side: 'plainSplit' | 'gantrySplit'): string => `${Math.round(median(pairs.map((p) => p[side][0] + p[side][2])))}`;
    console.log(`[measure] overhead: median ratio ${median(ratios).toFixed(2)} over ${PAIRS} pairs (min ${Math.min(...ratios).toFixed(2)}, max ${Math.max(...ratios).toFixed(2)}); median plain ${sec(median(pairs.map((p) => p.plain)))}, median gantry ${sec(median(pairs.map((p) => p.gantry)))}; no process started by gantry; load average at end ${load()}`);
    console.log(`[measure] overhead: medians of the parts, plain / gantry: until the Deployment exists ${part('plainSplit', 0)} / ${part('gantrySplit', 0)} ms, the cluster making it available ${part('plainSplit', 1)} / ${part('gantrySplit', 1)} ms, from available to done ${part('plainSplit', 2)} / ${part('gantrySplit', 2)} ms; the tool's own time (total minus the cluster's part) ${own('plainSplit')} / ${own('gantrySplit')} ms`);
  }, 240_000);

  it(`1,000 ConfigMaps + the sample app: full deploy including the server-side dry run, ${RUNS} runs`, async () => {
    const many = Array.from({ length: 1000 }, (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${String(i).padStart(4, '0')}\ndata:\n  key: value-${i}\n`).join('---\n');
    const ws = workspace({ ...sampleFiles({ image: V1 }), 'k8s/many.yaml': many });
    console.log(`[measure] 1,000 objects: load average at start ${load()}`);
    const runs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const ns = await freshNamespace('bench1k');
      const run = await gantryDeploy(ws, ns);
      expect(run.outcome.result).toBe('deployed');
      expect(run.outcome.changed).toHaveLength(1003);
      expect(run.processes).toBe(0);
      expect(run.spawned).toBe(0);
      runs.push(run.ms);
      console.log(`[measure] 1,000 objects run ${i + 1}/${RUNS}: ${sec(run.ms)} for 1,003 objects (${run.phases})`);
      await dropNamespaces([ns], true);
    }
    console.log(`[measure] 1,000 objects: median ${sec(median(runs))} over ${RUNS} runs (${runs.map(sec).join(', ')}); load average at end ${load()}`);
  }, 180_000);
});
