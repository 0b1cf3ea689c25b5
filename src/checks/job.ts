// The job gate: the user's test image run once as a Kubernetes Job beside the app, told what
// to test through GANTRY_* variables, and waited for from watches of the Job and its pod.
// A Job that completes passes; one that fails or outlives its deadline fails, with its log
// as evidence; an image that cannot be pulled is inconclusive at once (nothing was tested).
// The Job goes, with its pod, whatever happens, also when the run is stopped mid-wait;
// ttlSecondsAfterFinished removes it even if Gantry itself dies first.
import { randomInt } from 'node:crypto';
import { describeProblems, type KubeObject, type ObjectRef } from '../kube/client.js';
import { Informer } from '../kube/informer.js';
import { sleepUnless, systemClock, type Clock } from '../kube/wait.js';
import { verdictOf, type Gate, type GateContext, type Verdict } from './gate.js';
import type { JobCheckSpec } from './spec/job.js';
import type { ServiceLike } from '../traffic/workload.js';
import { firstPort, lastLine, showDuration, tailOf, targetEnv } from './test-run.js';

/** Labels the Job and its pod, so the watches see exactly these. */
export const GATE_JOB_LABEL = 'gantry.dev/gate-job';
/** The gate's name as written, for whoever finds the Job with kubectl. */
export const GATE_ANNOTATION = 'gantry.dev/gate';
const CONTAINER = 'test';
/** Kept this long after it finished if Gantry could not delete it (its process died): time to read its log. */
export const JOB_TTL_SECONDS = 600;
/** Beyond the Job's own deadline, how long Gantry waits for the Job controller to end it. */
const CONTROLLER_GRACE_MS = 60_000;
/** How often a long wait says it is still waiting. */
const HEARTBEAT_MS = 30_000;
const LOG_LINES = 200;
/** Kubelet's words for an image it cannot pull: retrying would only repeat them. */
const PULL_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);

interface PodLike extends KubeObject {
  status?: {
    phase?: string;
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

interface ContainerStatus {
  name: string;
  state?: {
    waiting?: { reason?: string; message?: string };
    terminated?: { exitCode?: number; reason?: string; message?: string };
  };
}

interface JobLike extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/** How the wait ended. */
type Outcome =
  | { end: 'complete' }
  | { end: 'failed'; reason?: string; message?: string }
  | { end: 'deadline' }
  | { end: 'pull'; reason: string; message: string }
  | { end: 'gone' }
  | { end: 'stopped' };

/** `job ghcr.io/acme/web-e2e:1.4.2`. */
export function jobGateName(spec: JobCheckSpec): string {
  return `job ${spec.image}`;
}

/**
 * A Job name from the gate's: lowercase letters, digits and -, with a random suffix so runs
 * never collide, at most 63 characters (the Job controller puts it in a label value).
 */
export function jobNameFor(gate: string, suffix = randomSuffix()): string {
  const base = gate.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+/, '').slice(0, 63 - suffix.length - 1).replace(/-+$/, '');
  return `${base || 'gate'}-${suffix}`;
}

/** Five characters as Kubernetes' generateName uses: no vowels, so no words. */
function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return Array.from({ length: 5 }, () => alphabet[randomInt(alphabet.length)]).join('');
}

/** The in-cluster URL of a Service: its DNS name and first port, as the Job's pod reaches it. */
function inClusterUrl(namespace: string): (svc: ServiceLike) => string | undefined {
  return (svc) => {
    const port = firstPort(svc);
    return port === undefined ? undefined : `http://${svc.metadata.name}.${namespace}.svc:${port}`;
  };
}

export class JobGate implements Gate {
  constructor(readonly spec: JobCheckSpec, readonly name: string = jobGateName(spec)) {}

  /** `exit code == 0 within 5m`. */
  get condition(): string {
    return `exit code == 0 within ${showDuration(this.spec.timeoutMs)}`;
  }

  async measure(ctx: GateContext): Promise<Verdict> {
    const clock = ctx.clock ?? systemClock;
    const verdict = verdictOf(this, clock);
    let env: Record<string, string>;
    try {
      env = await targetEnv(ctx, inClusterUrl(ctx.namespace));
      if (this.spec.serviceAccount !== undefined && !(await ctx.client.get({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: this.spec.serviceAccount, namespace: ctx.namespace } }))) {
        // The Job controller would retry creating the pod until the deadline; say it now.
        return verdict('error', `no ServiceAccount "${this.spec.serviceAccount}" in namespace ${ctx.namespace} to run the Job as`);
      }
    } catch (err) {
      return verdict('error', `could not read the Services to test (or the ServiceAccount) from the API server: ${message(err)}`);
    }
    if (ctx.signal?.aborted) return verdict('error', 'stopped before the Job was created');

    const job = this.manifest(jobNameFor(this.name), ctx.namespace, env);
    const ref: ObjectRef = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: job.metadata.name, namespace: ctx.namespace } };
    let refused: string | undefined;
    try {
      const created = await ctx.client.create([job]);
      if (!created.ok) refused = `the API server refused the Job: ${describeProblems(created.problems)}`;
    } catch (err) {
      refused = `could not create the Job: ${message(err)}`;
    }
    if (refused !== undefined) {
      // A create whose answer was lost (then retried into AlreadyExists) may have made it: leave none behind.
      await ctx.client.delete([ref]).catch(() => undefined);
      return verdict('error', refused);
    }
    ctx.log?.(`gate ${this.name}: Job ${job.metadata.name} started (${this.spec.image}, up to ${showDuration(this.spec.timeoutMs)})`);
    try {
      const outcome = await this.wait(ctx, job.metadata.name, clock);
      return await this.judge(outcome, ctx, job.metadata.name, verdict);
    } finally {
      // Background propagation: the pod goes with the Job. Best effort: ttlSecondsAfterFinished is the net.
      await ctx.client.delete([ref]).catch(() => undefined);
    }
  }

  manifest(name: string, namespace: string, gantryEnv: Record<string, string>): KubeObject {
    const labels = { 'app.kubernetes.io/managed-by': 'gantry', [GATE_JOB_LABEL]: name };
    // Gantry's variables first, so the user's may refer to them: BASE_URL: $(GANTRY_CANARY_URL)/api.
    const env = [...Object.entries(gantryEnv), ...Object.entries(this.spec.env)].map(([k, v]) => ({ name: k, value: v }));
    const container: Record<string, unknown> = { name: CONTAINER, image: this.spec.image, env };
    if (this.spec.command) container.command = this.spec.command;
    if (this.spec.args) container.args = this.spec.args;
    const podSpec: Record<string, unknown> = { restartPolicy: 'Never', containers: [container] };
    if (this.spec.serviceAccount !== undefined) podSpec.serviceAccountName = this.spec.serviceAccount;
    return {
      apiVersion: 'batch/v1', kind: 'Job',
      metadata: { name, namespace, labels, annotations: { [GATE_ANNOTATION]: this.name } },
      spec: {
        // One try: a test that fails is the verdict, not something to retry until it passes.
        backoffLimit: 0,
        activeDeadlineSeconds: Math.ceil(this.spec.timeoutMs / 1000),
        ttlSecondsAfterFinished: JOB_TTL_SECONDS,
        template: { metadata: { labels }, spec: podSpec },
      },
    };
  }

  /** Watches the Job and its pod until one says how it ended, the deadline passes, or the run is stopped. */
  private async wait(ctx: GateContext, name: string, clock: Clock): Promise<Outcome> {
    const selector = `${GATE_JOB_LABEL}=${name}`;
    const informer = new Informer(ctx.client, [
      { apiVersion: 'batch/v1', kind: 'Job', namespace: ctx.namespace, labelSelector: selector },
      { apiVersion: 'v1', kind: 'Pod', namespace: ctx.namespace, labelSelector: selector },
    ], { onNotice: (line) => ctx.log?.(`gate ${this.name}: ${line}`) });
    let onAbort = (): void => undefined;
    const stopped = new Promise<void>((resolve) => {
      onAbort = resolve;
      if (ctx.signal?.aborted) resolve();
    });
    ctx.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await informer.start();
      const started = clock.now();
      const deadline = started + this.spec.timeoutMs + CONTROLLER_GRACE_MS;
      let phase: string | undefined;
      let heartbeat = started + HEARTBEAT_MS;
      for (;;) {
        const changes = informer.changes;
        const items = informer.items().filter((o) => o.metadata.labels?.[GATE_JOB_LABEL] === name);
        const outcome = assess(items);
        if (outcome) return outcome;
        if (ctx.signal?.aborted) return { end: 'stopped' };
        const now = clock.now();
        if (now >= deadline) return { end: 'deadline' };
        const pod = newestPod(items);
        if (pod?.status?.phase !== undefined && pod.status.phase !== phase) {
          phase = pod.status.phase;
          ctx.log?.(`gate ${this.name}: pod ${pod.metadata.name} ${phase}`);
        }
        if (now >= heartbeat) {
          heartbeat = now + HEARTBEAT_MS;
          const left = Math.max(0, Math.ceil((started + this.spec.timeoutMs - now) / 1000)) * 1000;
          ctx.log?.(`gate ${this.name}: Job ${name} still running, ${showDuration(left)} left`);
        }
        if (informer.changes === changes) await sleepUnless(clock, Math.min(1000, deadline - now), Promise.race([informer.changed(), stopped]));
      }
    } finally {
      informer.stop();
      ctx.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async judge(outcome: Outcome, ctx: GateContext, name: string, verdict: ReturnType<typeof verdictOf>): Promise<Verdict> {
    switch (outcome.end) {
      case 'complete':
        return verdict('pass', `Job ${name} completed (exit code 0)`, { value: '0' });
      case 'pull':
        return verdict('inconclusive', `the image could not be pulled (${outcome.reason}: ${oneLine(outcome.message)}); nothing was tested`, { detail: outcome.message });
      case 'gone':
        return verdict('error', `Job ${name} was deleted before it finished`);
      case 'stopped':
        return verdict('error', 'stopped before the Job finished');
      case 'deadline': {
        const log = await this.log(ctx, name);
        return verdict('fail', `did not finish within ${showDuration(this.spec.timeoutMs)}${log.last ? `; last line ${log.last}` : ''}`, { detail: log.tail });
      }
      case 'failed': {
        const pod = newestPod(await this.pods(ctx, name));
        const terminated = pod?.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state?.terminated;
        const log = await this.log(ctx, name, pod);
        const code = terminated?.exitCode;
        // OOMKilled, Error, ContainerStatusUnknown: worth saying unless it only repeats "Error".
        const why = terminated?.reason && terminated.reason !== 'Error' ? ` (${terminated.reason})` : '';
        if (code === undefined) {
          return verdict('fail', `Job ${name} failed: ${oneLine(outcome.message ?? outcome.reason ?? 'no reason given')}${log.last ? `; last line ${log.last}` : ''}`, { detail: log.tail });
        }
        return verdict('fail', `exit code ${code}${why}: ${log.last ?? 'no log output'}`, { value: String(code), detail: log.tail });
      }
    }
  }

  private async pods(ctx: GateContext, name: string): Promise<PodLike[]> {
    try {
      return (await ctx.client.list<PodLike>('v1', 'Pod', ctx.namespace, { labelSelector: `${GATE_JOB_LABEL}=${name}` })).items;
    } catch {
      return [];
    }
  }

  /** The pod's log tail and its last line; nothing when there is no pod or no log (it never started, or is gone). */
  private async log(ctx: GateContext, name: string, known?: PodLike): Promise<{ tail?: string; last?: string }> {
    const pod = known ?? newestPod(await this.pods(ctx, name));
    if (!pod) return {};
    try {
      const text = await ctx.client.logs(ctx.namespace, pod.metadata.name, CONTAINER, { tail: LOG_LINES });
      return text.trim() === '' ? {} : { tail: tailOf(text), last: lastLine(text) };
    } catch {
      return {};
    }
  }
}

/** How the Job ended, from its conditions and its pod, or undefined while it runs. */
function assess(items: KubeObject[]): Outcome | undefined {
  const job = items.find((o): o is JobLike => o.kind === 'Job');
  if (!job) return { end: 'gone' };
  const conditions = job.status?.conditions ?? [];
  const holds = (type: string) => conditions.find((c) => c.type === type && c.status === 'True');
  if (holds('Complete')) return { end: 'complete' };
  // FailureTarget comes first (Kubernetes 1.31+), Failed once the pod has stopped: for a
  // deadline the first is enough (the pod is being killed), for a failure the pod has exited.
  const failed = holds('Failed') ?? (holds('FailureTarget')?.reason === 'DeadlineExceeded' ? holds('FailureTarget') : undefined);
  if (failed) return failed.reason === 'DeadlineExceeded' ? { end: 'deadline' } : { end: 'failed', reason: failed.reason, message: failed.message };
  for (const pod of items.filter((o): o is PodLike => o.kind === 'Pod')) {
    for (const c of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
      const waiting = c.state?.waiting;
      if (waiting?.reason && PULL_FAILURES.has(waiting.reason)) return { end: 'pull', reason: waiting.reason, message: waiting.message ?? '' };
    }
  }
  return undefined;
}

function newestPod(items: KubeObject[]): PodLike | undefined {
  return items.filter((o): o is PodLike => o.kind === 'Pod')
    .sort((a, b) => String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')))
    .at(-1);
}

function message(err: unknown): string {
  return oneLine(err instanceof Error ? err.message : String(err));
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}
