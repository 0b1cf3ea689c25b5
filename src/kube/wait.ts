// Waiting for workloads to become ready: one `kubectl get` of every relevant kind per
// tick (never one per object), a readiness rule per kind, and fail-fast detection of
// pods that will not recover on their own. Failures carry the pod's events and logs.
import { Reporter } from '../report/reporter.js';
import { KubeObject, Kubectl } from './kubectl.js';

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** The kinds whose readiness Gantry waits for, with the resource names `kubectl get` takes. */
const WORKLOAD_RESOURCES: Record<string, string> = {
  Deployment: 'deployments.apps',
  StatefulSet: 'statefulsets.apps',
  DaemonSet: 'daemonsets.apps',
  Job: 'jobs.batch',
  Pod: 'pods',
};

/** Container states that do not fix themselves; waiting out the timeout would only delay the rollback. */
const FATAL_WAITING_REASONS = new Set([
  'ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'ErrImageNeverPull',
  'CrashLoopBackOff', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError',
]);

/** A container that restarted this often is crash-looping even if it is Running right now. */
export const MAX_RESTARTS = 3;

export function isWorkload(o: KubeObject): boolean {
  return o.kind in WORKLOAD_RESOURCES;
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
}

export type WaitOutcome =
  | { ready: true; elapsedMs: number; /** The objects and pods as last seen, e.g. to read which digests the pods run. */ live: KubeObject[] }
  | { ready: false; timedOut: boolean; reason: string; object: string; message: string; elapsedMs: number };

export interface WaitOptions {
  /** The target namespace, for objects that do not name one. */
  namespace: string;
  timeoutMs: number;
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

/** Why a pod will not become ready without a new version, or undefined when it may still. */
export function podFailure(pod: Pod): { reason: string; message: string; container?: string } | undefined {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const c of statuses) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && FATAL_WAITING_REASONS.has(waiting.reason)) {
      // ErrImagePull is the first failed pull of what Kubernetes then reports as ImagePullBackOff;
      // one name for both lets users (and alerts) match on one reason.
      const reason = waiting.reason === 'ErrImagePull' ? 'ImagePullBackOff' : waiting.reason;
      return { reason, container: c.name, message: `container ${c.name}: ${waiting.reason}${waiting.message ? ` — ${waiting.message}` : ''}` };
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
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return { reason: 'Unschedulable', message: `pod cannot be scheduled: ${scheduled.message ?? 'no node fits'}` };
  }
  return undefined;
}

function podReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
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
    const failure = podFailure(pod);
    if (failure) return { state: 'failed', ready: pods.filter(podReady).length, desired: pods.length, reason: failure.reason, message: `pod ${pod.metadata.name}: ${failure.message}`, pod, container: failure.container };
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
 * (ConfigMaps, Services) are ready as soon as they are applied.
 */
export async function waitForReady(kubectl: Kubectl, objects: KubeObject[], reporter: Reporter, options: WaitOptions): Promise<WaitOutcome> {
  const clock = options.clock ?? systemClock;
  const pollMs = options.pollMs ?? 2000;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const started = clock.now();
  const workloads = objects.filter(isWorkload);
  if (workloads.length === 0) return { ready: true, elapsedMs: 0, live: [] };
  const byNamespace = new Map<string, KubeObject[]>();
  for (const w of workloads) {
    const ns = w.metadata.namespace ?? options.namespace;
    byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), w]);
  }
  const lastLine = new Map<string, { text: string; at: number }>();
  let latest = new Map<string, { assessment: Assessment; namespace: string }>();

  for (;;) {
    const elapsed = clock.now() - started;
    latest = new Map();
    const seenObjects: KubeObject[] = [];
    for (const [ns, list] of byNamespace) {
      const kinds = new Set(list.map((w) => WORKLOAD_RESOURCES[w.kind]!));
      kinds.add('pods');
      if (list.some((w) => w.kind === 'Deployment')) kinds.add('replicasets.apps');
      const live = await kubectl.listKinds([...kinds], ns);
      seenObjects.push(...live);
      for (const w of list) {
        const current = live.find((o) => o.kind === w.kind && o.metadata.name === w.metadata.name);
        const name = `${w.kind}/${w.metadata.name}`;
        const assessment = current ? assess(current, live) : { state: 'progressing' as const, ready: 0, desired: 1, message: 'not created yet' };
        latest.set(name, { assessment, namespace: ns });
      }
    }
    const seen = clock.now() - started;
    const left = options.timeoutMs - elapsed;
    for (const [name, { assessment }] of latest) {
      const text = `${name}: ${assessment.ready}/${assessment.desired} ready${assessment.state === 'progressing' && assessment.message ? ` (${assessment.message})` : ''}`;
      const prev = lastLine.get(name);
      if (!prev || prev.text !== text || clock.now() - prev.at >= heartbeatMs) {
        reporter.info(`${text}, ${formatSeconds(elapsed)}${assessment.state === 'ready' ? '' : `, ${formatSeconds(left)} left`}`);
        lastLine.set(name, { text, at: clock.now() });
      }
    }
    for (const [name, { assessment, namespace }] of latest) {
      if (assessment.state === 'failed') {
        const detail = await explain(kubectl, namespace, assessment);
        // Measured once the cluster has been read, so "detected after" is when Gantry knew.
        return { ready: false, timedOut: false, reason: assessment.reason ?? 'Failed', object: name, message: `${name} failed: ${assessment.message}${detail}`, elapsedMs: seen };
      }
    }
    if ([...latest.values()].every((l) => l.assessment.state === 'ready')) return { ready: true, elapsedMs: seen, live: seenObjects };
    if (elapsed >= options.timeoutMs) {
      const [name, slow] = [...latest].find(([, l]) => l.assessment.state !== 'ready')!;
      const detail = await explain(kubectl, slow.namespace, slow.assessment);
      return {
        ready: false, timedOut: true, reason: 'Timeout', object: name, elapsedMs: elapsed,
        message: `${name} was not ready after ${formatSeconds(options.timeoutMs)}: ${slow.assessment.ready}/${slow.assessment.desired} ready (${slow.assessment.message ?? 'not ready'})${detail}`,
      };
    }
    await options.onTick?.();
    await clock.sleep(Math.min(pollMs, Math.max(0, options.timeoutMs - (clock.now() - started))) || pollMs);
  }
}

/** The pod's recent events and its failing container's last log lines: what a user needs to see why. Two calls, only on failure. */
async function explain(kubectl: Kubectl, namespace: string, assessment: Assessment): Promise<string> {
  const pod = assessment.pod;
  if (!pod) return '';
  const parts: string[] = [];
  const events = await kubectl.events(namespace, 'Pod', pod.metadata.name).catch(() => [] as KubeObject[]);
  if (events.length > 0) {
    parts.push(`\nEvents of pod ${pod.metadata.name}:`);
    for (const e of events.slice(-8)) {
      const ev = e as KubeObject & { type?: string; reason?: string; message?: string; count?: number };
      parts.push(`  ${ev.type ?? ''} ${ev.reason ?? ''}${ev.count && ev.count > 1 ? ` (x${ev.count})` : ''}: ${(ev.message ?? '').trim()}`);
    }
  }
  if (assessment.container) {
    const crashed = assessment.reason === 'CrashLoopBackOff' || assessment.reason === 'RunContainerError';
    const logs = (await kubectl.logs(namespace, pod.metadata.name, assessment.container, { tail: 20, previous: crashed })).trim();
    if (logs) parts.push(`\nLast log lines of container ${assessment.container}${crashed ? ' (previous run)' : ''}:`, ...logs.split('\n').map((l) => `  ${l}`));
  }
  return parts.join('\n');
}
