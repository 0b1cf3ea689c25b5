// Waiting for workloads to become ready, from watches: the workloads, their ReplicaSets,
// their pods and the pods' events are watched from one list each (kube/informer.ts), and
// every change is judged as it arrives, so a dead end is reported the moment the cluster
// says so. A readiness rule per kind, fail-fast detection of pods that will not recover on
// their own, and failures that carry the pod's events and logs.
import { Reporter } from '../report/reporter.js';
import { KubeClient, KubeObject } from './client.js';
import { Informer, WatchSpec } from './informer.js';

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts (and then leaves no timer behind). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  }),
};

/**
 * Waits until `wake` resolves or `ms` pass, whichever comes first. The timer is cleared
 * either way: a forgotten one would keep the process alive after its work is done.
 */
export async function sleepUnless(clock: Clock, ms: number, wake: Promise<unknown>): Promise<void> {
  const stop = new AbortController();
  try {
    await Promise.race([wake, clock.sleep(ms, stop.signal)]);
  } finally {
    stop.abort();
  }
}

/** The kinds whose readiness Gantry waits for, with the apiVersion they are watched at. */
const WORKLOAD_API: Record<string, string> = {
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  Job: 'batch/v1',
  Pod: 'v1',
};

/** Container states that do not fix themselves; waiting out the timeout would only delay the rollback. */
const FATAL_WAITING_REASONS = new Set([
  'ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'ErrImageNeverPull',
  'CrashLoopBackOff', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError',
]);

/** A container that restarted this often is crash-looping even if it is Running right now. */
export const MAX_RESTARTS = 3;

export function isWorkload(o: KubeObject): boolean {
  return o.kind in WORKLOAD_API;
}

/** Where one workload stands after a tick. */
export interface Assessment {
  state: 'ready' | 'progressing' | 'failed';
  ready: number;
  desired: number;
  /** Why it is not ready yet, or why it failed. */
  message?: string;
  /** The pod whose events and logs explain a failure or a slow start. */
  pod?: KubeObject;
  container?: string;
  /** The Kubernetes reason users search for: ImagePullBackOff, CrashLoopBackOff, ProgressDeadlineExceeded, … */
  reason?: string;
  /** A failure that only counts once it has lasted this long. */
  graceMs?: number;
}

export type WaitOutcome =
  | { ready: true; elapsedMs: number; /** The objects and pods as last seen, e.g. to read which digests the pods run. */ live: KubeObject[] }
  | { ready: false; timedOut: boolean; reason: string; object: string; message: string; elapsedMs: number };

export interface WaitOptions {
  /** The target namespace, for objects that do not name one. */
  namespace: string;
  timeoutMs: number;
  /** How often the wait looks at the clock when nothing changes (timeouts, graces, heartbeats); default 1 s. */
  pollMs?: number;
  /** How often an unchanged progress line is repeated, so a long wait still shows time left. */
  heartbeatMs?: number;
  clock?: Clock;
  /** Called once per tick, e.g. to renew the lock. */
  onTick?: () => Promise<void>;
}

interface Pod extends KubeObject {
  spec?: { containers?: { name: string }[] };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

interface ContainerStatus {
  name: string;
  ready?: boolean;
  restartCount?: number;
  state?: { waiting?: { reason?: string; message?: string }; running?: unknown; terminated?: { reason?: string; exitCode?: number } };
  lastState?: { terminated?: { reason?: string; exitCode?: number; message?: string } };
}

type Any = Record<string, unknown>;
const num = (v: unknown, fallback = 0): number => (typeof v === 'number' ? v : fallback);
const obj = (v: unknown): Any => (v && typeof v === 'object' ? (v as Any) : {});
const conditions = (o: KubeObject): { type: string; status: string; reason?: string; message?: string }[] =>
  (obj(o.status).conditions as { type: string; status: string; reason?: string; message?: string }[] | undefined) ?? [];

function ownedBy(o: KubeObject, owner: KubeObject): boolean {
  const refs = (o.metadata.ownerReferences as { uid?: string }[] | undefined) ?? [];
  const uid = owner.metadata.uid as string | undefined;
  return uid !== undefined && refs.some((r) => r.uid === uid);
}

/** How long an unschedulable pod may wait for room before the rollout gives up on it. */
export const UNSCHEDULABLE_GRACE_MS = 10_000;
/** How long kubelet may keep failing to create a pod's sandbox (network, runtime) before it counts as a dead end. */
export const SANDBOX_GRACE_MS = 5_000;
/**
 * How long a container may wait with CreateContainerConfigError before it counts as a dead end.
 * kubelet reads ConfigMaps and Secrets for env through a watch-fed cache, so a pod created a
 * moment after its ConfigMap can be told "configmap not found" once; kubelet tries again on
 * its next sync of the pod (about 10 s later) and then starts it. A ConfigMap that really is
 * missing still fails the rollout well inside 30 s.
 */
export const CONFIG_GRACE_MS = 15_000;

interface PodEvent extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  involvedObject?: { uid?: string; kind?: string; name?: string; fieldPath?: string };
}

export interface PodFailure {
  reason: string;
  message: string;
  container?: string;
  /** The failure only counts once it has lasted this long (it may still clear up on its own). */
  graceMs?: number;
}

/** Warning events of one pod, oldest first. */
function eventsOf(pod: KubeObject, all: KubeObject[]): PodEvent[] {
  const uid = pod.metadata.uid as string | undefined;
  return (all.filter((o) => o.kind === 'Event') as PodEvent[])
    .filter((e) => e.involvedObject?.uid === uid || (uid === undefined && e.involvedObject?.name === pod.metadata.name));
}

const eventLine = (e: PodEvent): string => `${e.reason ?? ''}: ${(e.message ?? '').trim()}`;

/**
 * Why a pod will not become ready without a new version, or undefined when it may still.
 * Reads the pod's status and, for dead ends only kubelet's events tell (a missing Secret
 * to mount, a sandbox that cannot be created), its Warning events.
 */
export function podFailure(pod: Pod, all: KubeObject[] = []): PodFailure | undefined {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const c of statuses) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && FATAL_WAITING_REASONS.has(waiting.reason)) {
      // ErrImagePull is the first failed pull of what Kubernetes then reports as ImagePullBackOff;
      // one name for both lets users (and alerts) match on one reason.
      const reason = waiting.reason === 'ErrImagePull' ? 'ImagePullBackOff' : waiting.reason;
      return {
        reason, container: c.name, message: `container ${c.name}: ${waiting.reason}${waiting.message ? ` — ${waiting.message}` : ''}`,
        ...(reason === 'CreateContainerConfigError' ? { graceMs: CONFIG_GRACE_MS } : {}),
      };
    }
    if ((c.restartCount ?? 0) >= MAX_RESTARTS) {
      const last = c.lastState?.terminated;
      return {
        reason: 'CrashLoopBackOff',
        container: c.name,
        message: `container ${c.name} restarted ${c.restartCount} times${last ? ` (last exit: ${last.reason ?? 'Error'}, code ${last.exitCode ?? '?'})` : ''}`,
      };
    }
  }
  const started = statuses.some((c) => c.state?.running !== undefined || c.state?.terminated !== undefined);
  for (const e of eventsOf(pod, all).filter((ev) => ev.type === 'Warning')) {
    // The pull failure is an event a moment before it is a container status: act on whichever comes first.
    if (e.reason === 'Failed' && /Failed to pull image|ErrImagePull|InvalidImageName/.test(e.message ?? '') && !started) {
      // fieldPath names the container: spec.containers{app}
      const container = /\{([^}]+)\}/.exec(e.involvedObject?.fieldPath ?? '')?.[1];
      return { reason: 'ImagePullBackOff', container, message: `${container ? `container ${container}: ` : ''}ImagePullBackOff — event ${eventLine(e)}` };
    }
    if (e.reason === 'BackOff' && /restarting failed container/i.test(e.message ?? '')) {
      // kubelet says so a moment before the status reads CrashLoopBackOff; the container must not be running again meanwhile.
      const container = /\{([^}]+)\}/.exec(e.involvedObject?.fieldPath ?? '')?.[1];
      const status = statuses.find((c) => c.name === container);
      if (!status?.state?.running) {
        return { reason: 'CrashLoopBackOff', container, message: `${container ? `container ${container}: ` : ''}CrashLoopBackOff — event ${eventLine(e)}` };
      }
    }
    if (e.reason === 'FailedMount' && /(secret|configmap)s? "[^"]+" not found|couldn't find key/i.test(e.message ?? '') && !started) {
      return { reason: 'FailedMount', message: `FailedMount — event ${eventLine(e)}` };
    }
    if (e.reason === 'FailedCreatePodSandBox' && !started) {
      return { reason: 'FailedCreatePodSandBox', message: `FailedCreatePodSandBox — event ${eventLine(e)}`, graceMs: SANDBOX_GRACE_MS };
    }
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    // A cluster autoscaler that is adding a node for this pod will make room: that is not a dead end.
    const scalingUp = eventsOf(pod, all).some((e) => e.reason === 'TriggeredScaleUp' || e.reason === 'Nominated');
    if (!scalingUp) return { reason: 'Unschedulable', message: `pod cannot be scheduled: ${scheduled.message ?? 'no node fits'}`, graceMs: UNSCHEDULABLE_GRACE_MS };
  }
  return undefined;
}

function podReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * Ready pods, not on their way out, whose every container reports the image digest it
 * runs. The workload's status can move ahead of the pods the watch has delivered; the
 * revision history records digests, so readiness waits until the pods have said them.
 */
function reportedPods(pods: Pod[]): number {
  return pods.filter((p) => !p.metadata.deletionTimestamp && podReady(p)
    && (p.status?.containerStatuses ?? []).every((c) => /sha256:[0-9a-f]{64}/.test((c as { imageID?: string }).imageID ?? ''))).length;
}

/** The first not-ready container, for explaining a slow start. */
function notReadyContainer(pod: Pod): string | undefined {
  return pod.status?.containerStatuses?.find((c) => !c.ready)?.name ?? pod.spec?.containers?.[0]?.name;
}

/** Pods that belong to the version being rolled out (the new ReplicaSet, the update revision, …). */
export function currentPods(workload: KubeObject, all: KubeObject[]): Pod[] {
  const pods = all.filter((o) => o.kind === 'Pod') as Pod[];
  switch (workload.kind) {
    case 'Deployment': {
      const revision = workload.metadata.annotations?.['deployment.kubernetes.io/revision'];
      const rs = all.find((o) => o.kind === 'ReplicaSet' && ownedBy(o, workload) && o.metadata.annotations?.['deployment.kubernetes.io/revision'] === revision);
      return rs ? pods.filter((p) => ownedBy(p, rs)) : [];
    }
    case 'StatefulSet': {
      const update = obj(workload.status).updateRevision as string | undefined;
      return pods.filter((p) => ownedBy(p, workload) && (!update || p.metadata.labels?.['controller-revision-hash'] === update));
    }
    case 'DaemonSet':
    case 'Job':
      return pods.filter((p) => ownedBy(p, workload));
    case 'Pod':
      return pods.filter((p) => p.metadata.name === workload.metadata.name);
    default:
      return [];
  }
}

/** The readiness rule of one workload kind, close to `kubectl rollout status`, plus fail-fast checks on its pods. */
export function assess(workload: KubeObject, all: KubeObject[]): Assessment {
  const spec = obj(workload.spec);
  const status = obj(workload.status);
  const pods = currentPods(workload, all);
  for (const pod of pods) {
    const failure = podFailure(pod, all);
    if (failure) return { state: 'failed', ready: pods.filter(podReady).length, desired: pods.length, reason: failure.reason, message: `pod ${pod.metadata.name}: ${failure.message}`, pod, container: failure.container, graceMs: failure.graceMs };
  }
  const slowPod = pods.find((p) => !podReady(p));
  const slow = (ready: number, desired: number, message: string): Assessment => ({
    state: 'progressing', ready, desired, message, pod: slowPod, container: slowPod ? notReadyContainer(slowPod) : undefined,
  });
  const generation = num(workload.metadata.generation, 0);
  if (workload.kind !== 'Pod' && workload.kind !== 'Job' && num(status.observedGeneration, -1) < generation) {
    return slow(0, num(spec.replicas, 1), 'waiting for the controller to see the new spec');
  }
  switch (workload.kind) {
    case 'Deployment': {
      const desired = num(spec.replicas, 1);
      const deadline = conditions(workload).find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
      const updated = num(status.updatedReplicas);
      const available = num(status.availableReplicas);
      const ready = Math.min(updated, available);
      if (deadline) return { state: 'failed', ready, desired, reason: 'ProgressDeadlineExceeded', message: deadline.message ?? 'progress deadline exceeded', pod: slowPod, container: slowPod ? notReadyContainer(slowPod) : undefined };
      if (updated < desired) return slow(ready, desired, `${updated}/${desired} updated`);
      if (num(status.replicas) > updated) return slow(ready, desired, `${num(status.replicas) - updated} old replicas terminating`);
      if (available < updated) return slow(ready, desired, `${available}/${desired} available`);
      if (reportedPods(pods) < desired) return slow(ready, desired, 'waiting for the pods to report the image digests they run');
      return { state: 'ready', ready: desired, desired };
    }
    case 'StatefulSet': {
      const desired = num(spec.replicas, 1);
      const ready = num(status.readyReplicas);
      const strategy = obj(spec.updateStrategy);
      const partition = num(obj(strategy.rollingUpdate).partition);
      if (ready < desired) return slow(ready, desired, `${ready}/${desired} ready`);
      if (strategy.type === 'OnDelete') return { state: 'ready', ready, desired };
      if (partition > 0) {
        return num(status.updatedReplicas) >= desired - partition ? { state: 'ready', ready, desired } : slow(ready, desired, 'partitioned update in progress');
      }
      if (status.updateRevision !== status.currentRevision) return slow(num(status.updatedReplicas), desired, `${num(status.updatedReplicas)}/${desired} updated`);
      if (reportedPods(pods) < desired) return slow(ready, desired, 'waiting for the pods to report the image digests they run');
      return { state: 'ready', ready, desired };
    }
    case 'DaemonSet': {
      const desired = num(status.desiredNumberScheduled);
      const updated = num(status.updatedNumberScheduled);
      const available = num(status.numberAvailable);
      if (obj(spec.updateStrategy).type === 'OnDelete') return { state: 'ready', ready: available, desired };
      if (updated < desired) return slow(Math.min(updated, available), desired, `${updated}/${desired} updated`);
      if (available < desired) return slow(available, desired, `${available}/${desired} available`);
      return { state: 'ready', ready: desired, desired };
    }
    case 'Job': {
      const completions = num(spec.completions, 1);
      const succeeded = num(status.succeeded);
      const failed = conditions(workload).find((c) => c.type === 'Failed' && c.status === 'True');
      if (failed) return { state: 'failed', ready: succeeded, desired: completions, reason: failed.reason ?? 'JobFailed', message: failed.message ?? 'the job failed', pod: pods[pods.length - 1], container: pods[0] ? notReadyContainer(pods[0]) : undefined };
      if (conditions(workload).some((c) => c.type === 'Complete' && c.status === 'True')) return { state: 'ready', ready: completions, desired: completions };
      return slow(succeeded, completions, `${succeeded}/${completions} complete`);
    }
    case 'Pod': {
      const pod = pods[0];
      if (!pod) return slow(0, 1, 'pod not found');
      if (pod.status?.phase === 'Succeeded' || podReady(pod)) return { state: 'ready', ready: 1, desired: 1 };
      if (pod.status?.phase === 'Failed') return { state: 'failed', ready: 0, desired: 1, reason: pod.status.reason ?? 'PodFailed', message: pod.status.message ?? 'the pod failed', pod, container: notReadyContainer(pod) };
      return slow(0, 1, pod.status?.phase ?? 'Pending');
    }
    default:
      return { state: 'ready', ready: 0, desired: 0 };
  }
}

export function formatSeconds(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/**
 * Waits until every workload among `objects` is ready, one of them fails for a reason
 * that will not fix itself, or the timeout passes. Objects that are not workloads
 * (ConfigMaps, Services) are ready as soon as they are applied. Changes are judged as the
 * watches deliver them; the clock is only looked at for timeouts, graces and heartbeats.
 */
export async function waitForReady(client: KubeClient, objects: KubeObject[], reporter: Reporter, options: WaitOptions): Promise<WaitOutcome> {
  const clock = options.clock ?? systemClock;
  const tickMs = options.pollMs ?? 1000;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const started = clock.now();
  const workloads = objects.filter(isWorkload);
  if (workloads.length === 0) return { ready: true, elapsedMs: 0, live: [] };
  const informer = new Informer(client, watchSpecs(workloads, options.namespace), { onNotice: (m) => reporter.info(m) });
  await informer.start();
  try {
    const lastLine = new Map<string, { text: string; at: number }>();
    /** When a failure with a grace was first seen, per workload and reason. */
    const firstSeen = new Map<string, number>();
    for (;;) {
      const changes = informer.changes;
      const live = informer.items();
      const now = clock.now();
      const elapsed = now - started;
      const latest = new Map<string, { assessment: Assessment; namespace: string }>();
      for (const w of workloads) {
        const ns = w.metadata.namespace ?? options.namespace;
        const current = live.find((o) => o.kind === w.kind && o.metadata.name === w.metadata.name && (o.metadata.namespace ?? ns) === ns);
        const name = `${w.kind}/${w.metadata.name}`;
        let assessment: Assessment = current ? assess(current, live) : { state: 'progressing', ready: 0, desired: 1, message: 'not created yet' };
        // A failure with a grace that cleared up starts its grace afresh if it comes back.
        const graced = assessment.state === 'failed' && assessment.graceMs !== undefined ? `${name}/${assessment.reason}` : undefined;
        for (const key of firstSeen.keys()) if (key.startsWith(`${name}/`) && key !== graced) firstSeen.delete(key);
        if (assessment.state === 'failed' && assessment.graceMs !== undefined) {
          const key = `${name}/${assessment.reason}`;
          const since = firstSeen.get(key) ?? now;
          firstSeen.set(key, since);
          if (now - since < assessment.graceMs) {
            assessment = { ...assessment, state: 'progressing', message: `${assessment.reason} for ${formatSeconds(now - since)}, a dead end after ${formatSeconds(assessment.graceMs)}: ${assessment.message}` };
          }
        }
        latest.set(name, { assessment, namespace: ns });
      }
      const left = options.timeoutMs - elapsed;
      for (const [name, { assessment }] of latest) {
        const text = `${name}: ${assessment.ready}/${assessment.desired} ready${assessment.state === 'progressing' && assessment.message ? ` (${assessment.message})` : ''}`;
        const prev = lastLine.get(name);
        if (!prev || prev.text !== text || now - prev.at >= heartbeatMs) {
          reporter.info(`${text}, ${formatSeconds(elapsed)}${assessment.state === 'ready' ? '' : `, ${formatSeconds(left)} left`}`);
          lastLine.set(name, { text, at: now });
        }
      }
      for (const [name, { assessment, namespace }] of latest) {
        if (assessment.state === 'failed') {
          const detail = await explain(client, namespace, assessment, live);
          // Measured when the cluster's word arrived, so "detected after" is when Gantry knew.
          return { ready: false, timedOut: false, reason: assessment.reason ?? 'Failed', object: name, message: `${name} failed: ${assessment.message}${detail}`, elapsedMs: elapsed };
        }
      }
      if ([...latest.values()].every((l) => l.assessment.state === 'ready')) return { ready: true, elapsedMs: elapsed, live };
      if (elapsed >= options.timeoutMs) {
        const [name, slow] = [...latest].find(([, l]) => l.assessment.state !== 'ready')!;
        const detail = await explain(client, slow.namespace, slow.assessment, live);
        return {
          ready: false, timedOut: true, reason: 'Timeout', object: name, elapsedMs: elapsed,
          message: `${name} was not ready after ${formatSeconds(options.timeoutMs)}: ${slow.assessment.ready}/${slow.assessment.desired} ready (${slow.assessment.message ?? 'not ready'})${detail}`,
        };
      }
      await options.onTick?.();
      // Wake on the next change, or after a tick to look at the clock again.
      if (informer.changes === changes) await sleepUnless(clock, Math.min(tickMs, Math.max(1, options.timeoutMs - elapsed)), informer.changed());
    }
  } finally {
    informer.stop();
  }
}

/** What to watch for a set of workloads: their kinds, their ReplicaSets and pods, and the pods' events, per namespace. */
export function watchSpecs(workloads: KubeObject[], defaultNamespace: string): WatchSpec[] {
  const specs = new Map<string, WatchSpec>();
  const add = (spec: WatchSpec): void => void specs.set(`${spec.namespace}/${spec.kind}`, spec);
  for (const w of workloads) {
    const namespace = w.metadata.namespace ?? defaultNamespace;
    add({ apiVersion: WORKLOAD_API[w.kind]!, kind: w.kind, namespace });
    add({ apiVersion: 'v1', kind: 'Pod', namespace });
    add({ apiVersion: 'v1', kind: 'Event', namespace, fieldSelector: 'involvedObject.kind=Pod' });
    if (w.kind === 'Deployment') add({ apiVersion: 'apps/v1', kind: 'ReplicaSet', namespace });
  }
  return [...specs.values()];
}

/** The pod's recent events (already watched) and its failing container's last log lines: what a user needs to see why. One call, only on failure. */
async function explain(client: KubeClient, namespace: string, assessment: Assessment, live: KubeObject[]): Promise<string> {
  const pod = assessment.pod;
  if (!pod) return '';
  const parts: string[] = [];
  const events = eventsOf(pod, live);
  if (events.length > 0) {
    parts.push(`\nEvents of pod ${pod.metadata.name}:`);
    for (const ev of events.slice(-8)) {
      parts.push(`  ${ev.type ?? ''} ${ev.reason ?? ''}${ev.count && ev.count > 1 ? ` (x${ev.count})` : ''}: ${(ev.message ?? '').trim()}`);
    }
  }
  if (assessment.container) {
    // A container that crashed and is down now still holds its own logs; one already restarted shows them as the previous run.
    const current = (pod as Pod).status?.containerStatuses?.find((c) => c.name === assessment.container)?.state;
    const crashed = (assessment.reason === 'CrashLoopBackOff' || assessment.reason === 'RunContainerError') && current?.terminated === undefined;
    const logs = (await client.logs(namespace, pod.metadata.name, assessment.container, { tail: 20, previous: crashed }).catch(() => '')).trim();
    if (logs) parts.push(`\nLast log lines of container ${assessment.container}${crashed ? ' (previous run)' : ''}:`, ...logs.split('\n').map((l) => `  ${l}`));
  }
  return parts.join('\n');
}
