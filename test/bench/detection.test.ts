// Benchmarks of issue 9's fail-fast targets, on the local stack (not timed tests: they
// print `[measure]` lines and assert only outcomes):
// - bad image: kubelet's first pull-failure event → Gantry's verdict;
// - crashloop: the first container restart → Gantry's verdict.
//
// The cluster's side of each latency is read from a watch of our own, opened in this
// process before the apply on its own API client: Event timestamps have 1 s resolution,
// so the arrival of the event (or pod update) on that watch is the start. The end is the
// moment Gantry's wait (kube/wait.ts waitForReady, as the basic strategy calls it, on a
// fresh API client) returns its verdict. Both ends are Date.now() in this process.
//
// Run: source ~/.cache/gantry/stack/env && npx vitest run test/bench/detection.test.ts
// GANTRY_BENCH_DETECT_RUNS changes the number of runs per scenario (default 5).
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/kube/api-client.js';
import { applySet } from '../../src/kube/apply.js';
import type { KubeObject, WatchStream } from '../../src/kube/client.js';
import { Kubectl } from '../../src/kube/kubectl.js';
import { loadManifests } from '../../src/kube/manifests.js';
import { WaitOutcome, waitForReady } from '../../src/kube/wait.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { inNamespace } from '../../src/strategies/basic.js';
import { SampleOptions, sampleFiles, workspace } from '../fixtures/deploy/sample.js';
import { readyNamespace } from '../support/namespaces.js';
import { stack } from '../support/stack.js';

const RUNS = Number(process.env.GANTRY_BENCH_DETECT_RUNS ?? 5);
const { sampleImage } = stack();
const V1 = `${sampleImage}:v1`;

let admin: ApiClient;
const namespaces = new Set<string>();

beforeAll(async () => {
  admin = ApiClient.fromConfig();
  // Pre-warm: the image on the node (the crashloop runs start it) and this process's code paths.
  const warm = await scenario({ image: V1 }, () => undefined);
  expect(warm.verdict.ready).toBe(true);
}, 120_000);
afterAll(async () => {
  await admin.delete([...namespaces].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })));
  admin.close();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

/** A namespace ready for pods at once, removed after the run. */
async function freshNamespace(): Promise<string> {
  const name = await readyNamespace(admin, 'detect');
  namespaces.add(name);
  return name;
}

/** Deletes a namespace (its Deployment first, the sooner its pods go) and waits up to 30 s until its pods are gone, so the next run starts on a quiet node. */
async function dropNamespace(name: string): Promise<void> {
  await admin.delete([{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: name } }]);
  await admin.delete([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }]);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && (await admin.list('v1', 'Pod', name)).items.length > 0) await sleep(250);
  namespaces.delete(name);
}

interface PodEvent extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  eventTime?: string | null;
  firstTimestamp?: string | null;
  involvedObject?: { kind?: string; name?: string };
}

interface ContainerStatus {
  restartCount?: number;
  state?: { waiting?: { reason?: string }; running?: unknown; terminated?: { reason?: string; exitCode?: number } };
}

/** What our own watches saw, each with the Date.now() of its arrival in this process. */
interface Seen {
  /** Every Warning event of a pod and every change of a container's state, in order of arrival. */
  timeline: { at: number; what: string }[];
  /** Decides whether an event or pod update is the start of the latency; the first match is kept. */
  start?: { at: number; what: string; eventTime?: number };
}

function containerStates(pod: KubeObject): string {
  const statuses = ((pod.status as { containerStatuses?: ContainerStatus[] } | undefined)?.containerStatuses ?? []);
  return statuses.map((c) => {
    const state = c.state?.waiting ? `waiting ${c.state.waiting.reason ?? ''}` : c.state?.terminated ? `terminated ${c.state.terminated.reason ?? ''} ${c.state.terminated.exitCode ?? ''}` : c.state?.running ? 'running' : '?';
    return `${state} restarts=${c.restartCount ?? 0}`;
  }).join('; ');
}

/** Our own watches of the namespace's Events and Pods, from a list each, on their own API client. */
async function watchNamespace(namespace: string, seen: Seen, isStart: (kind: 'Event' | 'Pod', o: KubeObject) => boolean): Promise<() => void> {
  const client = ApiClient.fromConfig();
  const streams: WatchStream[] = [];
  const lastState = new Map<string, string>();
  for (const kind of ['Event', 'Pod'] as const) {
    const { resourceVersion } = await client.list('v1', kind, namespace);
    streams.push(client.watch('v1', kind, { namespace, resourceVersion }, ({ type, object }) => {
      const at = Date.now();
      if (type === 'BOOKMARK' || type === 'DELETED') return;
      if (kind === 'Event') {
        const e = object as PodEvent;
        if (e.type !== 'Warning') return;
        seen.timeline.push({ at, what: `event ${e.reason}: ${(e.message ?? '').slice(0, 90)}` });
      } else {
        const states = containerStates(object);
        if (states === lastState.get(object.metadata.name)) return;
        lastState.set(object.metadata.name, states);
        seen.timeline.push({ at, what: `pod ${states || (object.status as { phase?: string } | undefined)?.phase || 'created'}` });
      }
      if (!seen.start && isStart(kind, object)) {
        const e = object as PodEvent;
        const stamp = kind === 'Event' ? Date.parse(e.eventTime ?? e.firstTimestamp ?? '') : NaN;
        seen.start = { at, what: seen.timeline[seen.timeline.length - 1]!.what, eventTime: Number.isNaN(stamp) ? undefined : stamp };
      }
    }));
  }
  // Let the watch requests reach the server before anything happens in the namespace.
  await sleep(300);
  return () => {
    for (const s of streams) s.stop();
    client.close();
  };
}

/**
 * Applies the sample app (as the basic strategy does: waves, server-side apply) into a fresh
 * namespace with our watches open, then waits for it as the strategy does and notes when
 * the verdict came.
 */
async function scenario(sample: SampleOptions, isStart: (kind: 'Event' | 'Pod', o: KubeObject) => boolean | undefined): Promise<{ verdict: WaitOutcome; verdictAt: number; seen: Seen; t0: number }> {
  const namespace = await freshNamespace();
  try {
    const ws = workspace(sampleFiles(sample));
    const kubectl = new Kubectl();
    const manifests = await loadManifests({ workspace: ws, paths: ['k8s'], kubectl, namespace });
    expect(kubectl.calls).toBe(0);
    const objects = inNamespace(manifests.map((m) => m.object), namespace);
    const seen: Seen = { timeline: [] };
    const stopWatching = await watchNamespace(namespace, seen, (kind, o) => isStart(kind, o) === true);
    const client = ApiClient.fromConfig();
    try {
      const t0 = Date.now();
      const applied = await applySet(client, objects, { timeoutMs: 60_000 });
      expect(applied.problems).toEqual([]);
      const verdict = await waitForReady(client, applied.objects, new MemoryReporter(), { namespace, timeoutMs: 60_000 });
      const verdictAt = Date.now();
      // A moment more, so a start that arrives after the verdict on our watch is still seen.
      if (!seen.start && !verdict.ready) await sleep(1000);
      return { verdict, verdictAt, seen, t0 };
    } finally {
      client.close();
      stopWatching();
    }
  } finally {
    await dropNamespace(namespace);
  }
}

function report(name: string, i: number, r: Awaited<ReturnType<typeof scenario>>): number {
  const start = r.seen.start!;
  const latency = r.verdictAt - start.at;
  const coarse = start.eventTime === undefined ? '' : `; from the event's own timestamp (1 s resolution) ${r.verdictAt - start.eventTime} ms`;
  console.log(`[measure] ${name} run ${i + 1}/${RUNS}: ${latency} ms from "${start.what}" on our watch (${start.at - r.t0} ms after the apply began) to the verdict ${r.verdict.ready ? 'ready' : r.verdict.reason} (${r.verdictAt - r.t0} ms)${coarse}`);
  console.log(`  timeline: ${r.seen.timeline.map((t) => `+${t.at - r.t0} ${t.what}`).join(' | ')} | +${r.verdictAt - r.t0} verdict`);
  return latency;
}

describe('failure detection latency (issue 9 targets)', () => {
  it(`bad image: kubelet's first pull-failure event → Gantry's verdict, ${RUNS} runs`, async () => {
    console.log(`[measure] bad image: load average at start ${load()}`);
    const latencies: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // A digest nobody pushed: the registry answers "not found" to every pull.
      const missing = `${sampleImage}@sha256:${randomBytes(32).toString('hex')}`;
      const r = await scenario({ image: missing }, (kind, o) => {
        const e = o as PodEvent;
        return kind === 'Event' && e.involvedObject?.kind === 'Pod' && e.reason === 'Failed';
      });
      expect(r.verdict.ready).toBe(false);
      expect(r.verdict.ready === false && r.verdict.reason).toBe('ImagePullBackOff');
      expect(r.seen.start).toBeDefined();
      latencies.push(report('bad image', i, r));
    }
    console.log(`[measure] bad image: median ${median(latencies)} ms from the first pull-failure event to the verdict (${latencies.join(', ')} ms); load average at end ${load()}`);
  }, 180_000);

  it(`crashloop: first container restart → Gantry's verdict, ${RUNS} runs`, async () => {
    console.log(`[measure] crashloop: load average at start ${load()}`);
    const latencies: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await scenario({ image: V1, env: { CRASH_ON_START: 'true' } }, (kind, o) => {
        if (kind !== 'Pod') return false;
        const statuses = ((o.status as { containerStatuses?: ContainerStatus[] } | undefined)?.containerStatuses ?? []);
        return statuses.some((c) => (c.restartCount ?? 0) >= 1 || c.state?.waiting?.reason === 'CrashLoopBackOff');
      });
      expect(r.verdict.ready).toBe(false);
      expect(r.verdict.ready === false && r.verdict.reason).toBe('CrashLoopBackOff');
      expect(r.seen.start).toBeDefined();
      latencies.push(report('crashloop', i, r));
    }
    console.log(`[measure] crashloop: median ${median(latencies)} ms from the first restart (restartCount ≥ 1 or CrashLoopBackOff) to the verdict (${latencies.join(', ')} ms); load average at end ${load()}`);
  }, 180_000);
});
