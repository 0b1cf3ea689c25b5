// The blue-green strategy: the new version runs beside the live one as its own Deployment
// (`<name>-r<revision>`, pods labelled gantry.dev/revision), is waited for until every pod
// is Ready, judged through a preview Service that selects only its pods, and only then gets
// the traffic, by one patch of the active Service's selector. The old version stays at full
// scale for `scale-down-delay`, so a failed post-promotion gate switches back at once.
// Traffic never reaches pods that are not ready: the switch comes after the wait.
import type { GateSpecs } from '../config/progressive.js';
import type { Verdict } from '../checks/gate.js';
import { applySet } from '../kube/apply.js';
import { waitForEndpoints } from '../kube/endpoints.js';
import type { KubeObject } from '../kube/client.js';
import { formatSeconds, systemClock, waitForReady } from '../kube/wait.js';
import type { Deliver, DeliverContext, Delivered, Engine, RolloutMachine } from './basic.js';
import { formatLabels, selects, type ServiceLike } from '../traffic/workload.js';
import { DeploymentLike, GateRunner, GateSides, REVISION_LABEL, appDeployment, appService, sleepUntil, twin, versionOf } from './progressive.js';

export interface BlueGreenProgress {
  kind: 'blue-green';
  /** The Deployment as the manifests name it. */
  name: string;
  service: string;
  preview: string;
  /** The new version's Deployment and the active selector that picks only its pods. */
  next: { deployment: string; selector: Record<string, string> };
  /** The live version before this rollout (none on a first deploy) and the selector that picks only its pods. */
  previous?: { deployment: string; selector: Record<string, string> };
  switched: boolean;
  /** When the old version may go (ms). */
  scaleDownAt?: number;
  scaleDownDelayMs: number;
  postPromotion: GateSpecs;
  verdicts: Verdict[];
  objects: KubeObject[];
}

export interface BlueGreenDeps {
  gates: GateRunner;
  service?: string;
  prePromotion: GateSpecs;
  postPromotion: GateSpecs;
  scaleDownDelayMs: number;
}

/** The preview side is the new version, the active side the one live before it (or the new one on a first deploy). */
function sidesOf(progress: BlueGreenProgress): GateSides {
  const old = progress.previous?.deployment ?? progress.next.deployment;
  return {
    services: { preview: progress.preview, active: progress.service, stable: progress.service, canary: progress.preview },
    workloads: { preview: progress.next.deployment, canary: progress.next.deployment, active: old, stable: old },
    version: versionOf(progress.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === progress.name) as DeploymentLike | undefined),
  };
}

/** How long the new version keeps its pods after traffic switched back, for requests in flight. */
export const DRAIN_MS = 3000;

/** The Deployment the active Service sends traffic to now, and a selector that picks its pods alone. */
async function liveVersion(engine: Engine, service: ServiceLike | undefined, userSelector: Record<string, string>): Promise<BlueGreenProgress['previous']> {
  const selector = service?.spec.selector;
  if (!selector || Object.keys(selector).length === 0) return undefined;
  const { client, target } = engine;
  const deployments = await client.list<DeploymentLike>('apps/v1', 'Deployment', target.namespace);
  const live = deployments.items.find((d) => (d.spec.replicas ?? 1) > 0 && selects(selector, d.spec.template.metadata?.labels ?? {}));
  if (!live) return undefined;
  if (selector[REVISION_LABEL] !== undefined) return { deployment: live.metadata.name, selector };
  // A version deployed without blue-green: pin the active Service to its current pods (their
  // pod-template-hash) first, so the new pods, which carry the same app labels, get no traffic early.
  const revision = live.metadata.annotations?.['deployment.kubernetes.io/revision'];
  const sets = await client.list<KubeObject>('apps/v1', 'ReplicaSet', target.namespace);
  const rs = sets.items.find((r) => r.metadata.annotations?.['deployment.kubernetes.io/revision'] === revision
    && ((r.metadata.ownerReferences as { uid?: string }[] | undefined) ?? []).some((o) => o.uid === live.metadata.uid));
  const hash = rs?.metadata.labels?.['pod-template-hash'];
  return hash ? { deployment: live.metadata.name, selector: { ...userSelector, 'pod-template-hash': hash } } : undefined;
}

/**
 * One merge patch of the active Service's selector: the switch (and the switch back). It is
 * done when the Service lists only the pods the new selector picks, so a gate measured right
 * after it judges the version it means to.
 */
async function pointService(engine: Engine, service: string, selector: Record<string, string>, before: Record<string, string> | undefined): Promise<void> {
  const { client, target, reporter } = engine;
  const patch: Record<string, string | null> = { ...selector };
  for (const k of Object.keys(before ?? {})) if (!(k in selector)) patch[k] = null;
  await client.patch({ apiVersion: 'v1', kind: 'Service', metadata: { name: service, namespace: target.namespace } }, { spec: { selector: patch } });
  const pods = await client.list('v1', 'Pod', target.namespace, { labelSelector: formatLabels(selector) });
  const wanted = new Set(pods.items.map((p) => p.metadata.name));
  const done = await waitForEndpoints(client, target.namespace, service, (ready) => ready.size > 0 && [...ready].every((p) => wanted.has(p)), 30_000);
  if (!done) reporter.warning(`Service ${service} still lists pods of the other version 30 s after the switch`);
}

export function blueGreenDeliver(deps: BlueGreenDeps): Deliver {
  return async (ctx: DeliverContext): Promise<Delivered> => {
    const { engine, machine, objects, snapshot } = ctx;
    const { client, reporter, target } = engine;
    const ns = target.namespace;
    const revision = machine.record.revision;
    const desired = appDeployment(objects, target.app);
    const service = appService(objects, desired, deps.service);
    const userSelector = service.spec.selector ?? {};
    const liveService = snapshot.existing.find((o) => o.kind === 'Service' && o.metadata.name === service.metadata.name) as ServiceLike | undefined;
    const previous = await liveVersion(engine, liveService, userSelector);
    const progress: BlueGreenProgress = {
      kind: 'blue-green', name: desired.metadata.name, service: service.metadata.name, preview: `${service.metadata.name}-preview`,
      next: { deployment: `${desired.metadata.name}-r${revision}`, selector: { ...userSelector, [REVISION_LABEL]: String(revision) } },
      previous, switched: false, scaleDownDelayMs: deps.scaleDownDelayMs, postPromotion: deps.postPromotion, verdicts: [], objects,
    };
    machine.record.progress = progress;
    reporter.info(previous ? `live version: ${previous.deployment}; the new one is ${progress.next.deployment}` : `no live version: ${progress.next.deployment} is deployed, judged and made active`);
    const created = (kind: string, apiVersion: string, name: string): void => void snapshot.created.push({ apiVersion, kind, metadata: { name, namespace: ns } });

    // Everything but the Deployment and the active Service, which keeps pointing at the live version.
    if (previous && liveService && previous.selector !== liveService.spec.selector) await pointService(engine, service.metadata.name, previous.selector, liveService.spec.selector);
    const shared = objects.filter((o) => !(o.kind === 'Deployment' && o.metadata.name === desired.metadata.name) && !(o.kind === 'Service' && o.metadata.name === service.metadata.name));
    const activeService: ServiceLike = { ...structuredClone(service), spec: { ...structuredClone(service.spec), selector: previous?.selector ?? progress.next.selector } };
    const next = twin(desired, progress.next.deployment, { [REVISION_LABEL]: String(revision) }, desired.spec.replicas ?? 1);
    const previewService: ServiceLike = { apiVersion: 'v1', kind: 'Service', metadata: { name: progress.preview, namespace: ns, labels: { 'app.kubernetes.io/managed-by': 'gantry' } }, spec: { selector: progress.next.selector, ports: service.spec.ports } };
    if (!snapshot.existing.some((o) => o.kind === 'Service' && o.metadata.name === progress.preview)) created('Service', 'v1', progress.preview);
    created('Deployment', 'apps/v1', progress.next.deployment);
    await machine.to('progressing');
    const cleanup = blueGreenCleanup(engine, progress);
    const fail = (reason: string, object?: string): Delivered => ({ status: 'failed', reason, object, cleanup });
    // A first deploy has no live version to protect: its Service may select the new pods from the start (they count only once Ready).
    const applied = await reporter.group(`Apply ${shared.length + 3} objects beside the live version`, () => applySet(client, [...shared, ...(previous ? [activeService] : []), next, previewService], { timeoutMs: engine.timeoutMs, deferred: ctx.deferred }));
    if (!applied.ok) return fail(`The apply failed: ${applied.problems.map((p) => p.message).join('; ')}`);

    const nextLive = applied.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === progress.next.deployment)!;
    const waited = await reporter.group(`Wait until every pod of ${progress.next.deployment} is ready (timeout ${formatSeconds(engine.timeoutMs)})`, () =>
      waitForReady(client, [nextLive], reporter, { namespace: ns, timeoutMs: engine.timeoutMs, clock: engine.clock, pollMs: engine.pollMs, onTick: ctx.renew }));
    if (!waited.ready) return fail(waited.message, waited.object);
    const services = sidesOf(progress);
    if (deps.prePromotion.length > 0) {
      machine.note({ label: `pre-promotion analysis (${progress.preview})` });
      const verdict = await reporter.group('Pre-promotion analysis (preview Service)', () => deps.gates.run(deps.prePromotion, services));
      progress.verdicts = verdict.verdicts;
      machine.noteVerdicts(verdict.verdicts);
      if (!verdict.passed) return fail(`pre-promotion analysis failed: ${verdict.reason ?? 'a gate failed'}`);
    }
    if (!previous) await client.apply([activeService]);
    return afterReady(engine, machine, progress, deps.gates, ctx.renew, waited.live);
  };
}

/** From a ready, judged new version on: the switch, post-promotion gates, the scale-down delay. Resumable from the record. */
export async function afterReady(engine: Engine, machine: RolloutMachine, progress: BlueGreenProgress, gates: GateRunner, renew: () => Promise<void>, live: KubeObject[] = []): Promise<Delivered> {
  const { reporter } = engine;
  const clock = engine.clock ?? systemClock;
  const cleanup = blueGreenCleanup(engine, progress);
  const services = sidesOf(progress);
  if (!progress.switched) {
    machine.note({ label: `switch ${progress.service} to ${progress.next.deployment}`, weight: 100 });
    await pointService(engine, progress.service, progress.next.selector, progress.previous?.selector);
    progress.switched = true;
    progress.scaleDownAt = clock.now() + progress.scaleDownDelayMs;
    await machine.to('promoting');
    reporter.info(`switched Service ${progress.service} to ${progress.next.deployment}`);
  }
  if (progress.postPromotion.length > 0) {
    machine.note({ label: `post-promotion analysis (${progress.service})` });
    const verdict = await reporter.group('Post-promotion analysis (active Service)', () => gates.run(progress.postPromotion, services));
    progress.verdicts = [...progress.verdicts, ...verdict.verdicts].slice(-20);
    machine.noteVerdicts(verdict.verdicts);
    if (!verdict.passed) return { status: 'failed', reason: `post-promotion analysis failed: ${verdict.reason ?? 'a gate failed'}`, object: `Deployment/${progress.next.deployment}`, cleanup };
  }
  if (progress.previous) {
    reporter.info(`keeping ${progress.previous.deployment} at full scale for ${formatSeconds(progress.scaleDownDelayMs)}, for an instant switch back`);
    machine.note({ label: `${progress.previous.deployment} kept for scale-down-delay` });
    await machine.save();
    await sleepUntil(clock, progress.scaleDownAt ?? clock.now(), new Promise<never>(() => undefined), renew);
    await engine.client.delete([{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: progress.previous.deployment, namespace: engine.target.namespace } }]);
    reporter.info(`scaled down and removed ${progress.previous.deployment}`);
  }
  return { status: 'deployed', live };
}

/** Traffic back to the old version first (one patch), then the new version's Deployment and preview Service go. */
export function blueGreenCleanup(engine: Engine, progress: BlueGreenProgress): () => Promise<void> {
  return async () => {
    const { client, reporter, target } = engine;
    if (progress.switched && progress.previous) {
      await pointService(engine, progress.service, progress.previous.selector, progress.next.selector);
      progress.switched = false;
      reporter.info(`switched Service ${progress.service} back to ${progress.previous.deployment}`);
      // Nodes follow the Service a moment later, and connections already open finish on the new pods: let them drain.
      await (engine.clock ?? systemClock).sleep(DRAIN_MS);
    }
    await client.delete([
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: progress.next.deployment, namespace: target.namespace } },
    ]);
  };
}
