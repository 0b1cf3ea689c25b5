// The canary strategy: the new version runs beside the stable one as a second Deployment
// (`<name>-canary`), gets its share of traffic step by step through a Router, is judged by
// gates at each step and in the background, and is then promoted (the stable Deployment
// takes the new spec) or aborted (weight 0 and the canary removed in one transition, then
// the snapshot restored). The stable version keeps serving at full scale throughout.
//
// Where the canary stands lives in the rollout record (`progress`), so a later run can
// resume it from the recorded step, promote it or abort it.
import type { CanaryStep, GateSpecs, RouterKind } from '../config/progressive.js';
import type { Verdict } from '../checks/gate.js';
import { applySet } from '../kube/apply.js';
import { waitForEndpoints } from '../kube/endpoints.js';
import type { KubeObject } from '../kube/client.js';
import { currentPods, formatSeconds, systemClock, waitForReady } from '../kube/wait.js';
import type { Router, RouteTarget } from '../traffic/router.js';
import type { Deliver, DeliverContext, Delivered, Engine, RolloutMachine } from './basic.js';
import { TRACK_LABEL, canaryReplicasFor, formatLabels, stableReplicas } from '../traffic/workload.js';
import { DeploymentLike, GateRunner, GateSides, appDeployment, appService, oneSide, sleepUntil, twin, versionOf } from './progressive.js';

export interface CanaryProgress {
  kind: 'canary';
  stable: string;
  canary: string;
  service: string;
  router: RouterKind;
  route?: string;
  steps: CanaryStep[];
  /** The next step to run. */
  step: number;
  weight: number;
  effectiveWeight: number;
  /** A timed pause in progress ends at this time (ms): a resumed run waits only what is left. */
  pausedUntil?: number;
  /** A promote asked for the rest of the steps to be skipped. */
  full?: boolean;
  analysis: GateSpecs;
  verdicts: Verdict[];
  /** The desired set, for the revision history once promoted. */
  objects: KubeObject[];
}

export interface CanaryDeps {
  router: Router;
  gates: GateRunner;
  routerKind: RouterKind;
  route?: string;
  service?: string;
  steps: CanaryStep[];
  analysis: GateSpecs;
}

const canaryName = (stable: string): string => `${stable}-canary`;

/** How long a change of a Service's endpoints takes to reach the nodes' rules, which Gantry cannot observe. */
export const NODE_SETTLE_MS = 1500;

function routeTarget(progress: CanaryProgress, namespace: string, stable: KubeObject): RouteTarget {
  return { namespace, stable, canaryName: progress.canary, stableService: progress.service, route: progress.route };
}

/** The canary as the first run delivers it: shared objects, the canary Deployment, the routing, then the steps. */
export function canaryDeliver(deps: CanaryDeps): Deliver {
  return async (ctx: DeliverContext): Promise<Delivered> => {
    const { engine, machine, objects, snapshot } = ctx;
    const { client, reporter, target } = engine;
    const desired = appDeployment(objects, target.app);
    const service = appService(objects, desired, deps.service);
    const live = snapshot.existing.find((o) => o.kind === 'Deployment' && o.metadata.name === desired.metadata.name);
    if (!live) {
      // Nothing serves yet: there is no stable version to compare with, so the first version is deployed, judged and made stable.
      reporter.info(`no live ${desired.metadata.name} yet: the first version is deployed directly, then judged`);
      return firstVersion(ctx, deps);
    }
    const progress: CanaryProgress = {
      kind: 'canary', stable: desired.metadata.name, canary: canaryName(desired.metadata.name), service: service.metadata.name,
      router: deps.routerKind, route: deps.route, steps: deps.steps, step: 0, weight: 0, effectiveWeight: 0,
      analysis: deps.analysis, verdicts: [], objects,
    };
    // Everything but the stable Deployment goes out now: the stable version keeps its spec until promotion.
    const shared = objects.filter((o) => !(o.kind === 'Deployment' && o.metadata.name === desired.metadata.name));
    const applied = await reporter.group(`Apply ${shared.length} objects beside the stable version`, () => applySet(client, shared, { timeoutMs: engine.timeoutMs, deferred: ctx.deferred }));
    if (!applied.ok) return { status: 'failed', reason: `The apply failed: ${applied.problems.map((p) => p.message).join('; ')}` };
    const canary = twin(desired, progress.canary, { [TRACK_LABEL]: 'canary' }, 0);
    const created = await client.apply([canary]);
    if (!created.ok) return { status: 'failed', reason: `Could not create ${progress.canary}: ${created.problems.map((p) => p.message).join('; ')}` };
    // The canary is the rollout's own creation: a rollback removes it with everything else the rollout created.
    snapshot.created.push({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: progress.canary, namespace: target.namespace } });
    if (deps.routerKind === 'replica-ratio') {
      // Gates judge the canary alone through `${canary}`; the Gateway router makes this Service itself.
      const canaryService = { apiVersion: 'v1', kind: 'Service', metadata: { name: `${service.metadata.name}-canary`, namespace: target.namespace, labels: { 'app.kubernetes.io/managed-by': 'gantry' } }, spec: { selector: { ...(service.spec.selector ?? {}), [TRACK_LABEL]: 'canary' }, ports: service.spec.ports } };
      const made = await client.apply([canaryService]);
      if (!made.ok) return { status: 'failed', reason: `Could not create Service ${canaryService.metadata.name}: ${made.problems.map((p) => p.message).join('; ')}` };
      snapshot.created.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: canaryService.metadata.name, namespace: target.namespace } });
    }
    machine.record.progress = progress;
    await machine.to('progressing');
    return runSteps(engine, machine, progress, deps, ctx.renew);
  };
}

/** No stable version: deploy like the basic strategy, then run the analysis once. */
async function firstVersion(ctx: DeliverContext, deps: CanaryDeps): Promise<Delivered> {
  const { engine, objects } = ctx;
  const applied = await applySet(engine.client, objects, { timeoutMs: engine.timeoutMs, deferred: ctx.deferred });
  if (!applied.ok) return { status: 'failed', reason: `The apply failed: ${applied.problems.map((p) => p.message).join('; ')}` };
  await ctx.machine.to('waiting');
  const waited = await waitForReady(engine.client, applied.objects, engine.reporter, { namespace: engine.target.namespace, timeoutMs: engine.timeoutMs, clock: engine.clock, onTick: ctx.renew });
  if (!waited.ready) return { status: 'failed', reason: waited.message, object: waited.object };
  // A judge compares two versions, and here there is one: it waits for the next deploy.
  const gates = [...deps.analysis, ...deps.steps.flatMap((s) => ('analysis' in s ? s.analysis : []))].filter((g) => g.check.kind !== 'judge');
  if (gates.length > 0) {
    const desired = appDeployment(objects, engine.target.app);
    const service = appService(objects, desired, deps.service).metadata.name;
    ctx.machine.note({ label: 'analysis of the first version' });
    const verdict = await deps.gates.run(gates, oneSide(service, desired.metadata.name, versionOf(desired)));
    ctx.machine.noteVerdicts(verdict.verdicts);
    if (!verdict.passed) return { status: 'failed', reason: `analysis failed: ${verdict.reason ?? 'a gate failed'}` };
  }
  return { status: 'deployed', live: waited.live };
}

/** Weight 0 and the canary's removal, in one transition; what the snapshot restores comes after. */
export function canaryCleanup(engine: Engine, progress: CanaryProgress, router: Router): () => Promise<void> {
  return async () => {
    const { client, target, reporter } = engine;
    const leaving = await canaryPods(engine, progress);
    const stable = await client.get({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: progress.stable, namespace: target.namespace } });
    if (stable) await router.reset(routeTarget(progress, target.namespace, stable));
    await client.delete([
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: progress.canary, namespace: target.namespace } },
      ...(progress.router === 'replica-ratio' ? [{ apiVersion: 'v1', kind: 'Service', metadata: { name: `${progress.service}-canary`, namespace: target.namespace } }] : []),
    ]);
    // Done when the Service no longer lists a canary pod: from then on every request reaches stable.
    const out = await waitForEndpoints(client, target.namespace, progress.service, (ready) => leaving.every((p) => !ready.has(p)), 30_000);
    // Nodes reprogram their Service rules a moment after the Service changes (kube-proxy took up to ~1 s here).
    if (leaving.length > 0) await (engine.clock ?? systemClock).sleep(NODE_SETTLE_MS);
    reporter.info(`canary ${progress.canary} removed; ${out ? 'all traffic on' : 'its pods are still listed by the Service after 30 s; traffic is moving to'} ${progress.stable}`);
  };
}

/** The canary's pods that are ready and not on their way out. */
async function canaryPods(engine: Engine, progress: CanaryProgress): Promise<string[]> {
  const { client, target } = engine;
  const canary = await client.get<DeploymentLike>({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: progress.canary, namespace: target.namespace } });
  const pods = await client.list<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>('v1', 'Pod', target.namespace, { labelSelector: formatLabels(canary?.spec.selector.matchLabels ?? { [TRACK_LABEL]: 'canary' }) });
  return pods.items.filter((p) => !p.metadata.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).map((p) => p.metadata.name);
}

/**
 * Runs the steps from `progress.step` on: the first run, a resumed one, or a promote. Ends
 * paused (a `pause: {}` step), deployed (promoted) or failed (with the canary's cleanup).
 */
export async function runSteps(engine: Engine, machine: RolloutMachine, progress: CanaryProgress, deps: Pick<CanaryDeps, 'router' | 'gates'>, renew: () => Promise<void>): Promise<Delivered> {
  const { client, reporter, target } = engine;
  const clock = engine.clock ?? systemClock;
  const ns = target.namespace;
  const cleanup = canaryCleanup(engine, progress, deps.router);
  const fail = (reason: string): Delivered => ({ status: 'failed', reason, object: `Deployment/${progress.canary}`, cleanup });
  const services: GateSides = {
    services: { stable: progress.service, active: progress.service, canary: `${progress.service}-canary`, preview: `${progress.service}-canary` },
    workloads: { stable: progress.stable, active: progress.stable, canary: progress.canary, preview: progress.canary },
    version: versionOf(progress.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === progress.stable) as DeploymentLike | undefined),
  };
  const stableNow = async (): Promise<DeploymentLike> => {
    const s = await client.get<DeploymentLike>({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: progress.stable, namespace: ns } });
    if (!s) throw new Error(`the stable Deployment ${progress.stable} is gone`);
    return s;
  };
  let background: ReturnType<GateRunner['background']> | undefined;
  try {
    await deps.router.prepare(routeTarget(progress, ns, await stableNow()));
    for (; progress.step < progress.steps.length && !progress.full; progress.step++) {
      const step = progress.steps[progress.step]!;
      const label = `step ${progress.step + 1}/${progress.steps.length}`;
      if (!background && progress.analysis.length > 0 && progress.weight > 0) background = deps.gates.background(progress.analysis, services);
      if ('setWeight' in step) {
        const event = machine.note({ label: `${label}: setWeight ${step.setWeight}`, weight: step.setWeight });
        const stable = await stableNow();
        const { replicas } = await stableReplicas(client, ns, stable);
        const want = canaryReplicasFor(step.setWeight, replicas);
        // Capacity first, then traffic: the canary's pods are ready before any share is routed to them.
        await client.patch({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: progress.canary, namespace: ns } }, { spec: { replicas: want } });
        const canaryLive = await client.get({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: progress.canary, namespace: ns } });
        if (canaryLive && want > 0) {
          const waited = await waitForReady(client, [canaryLive], reporter, { namespace: ns, timeoutMs: engine.timeoutMs, clock: engine.clock, pollMs: engine.pollMs });
          if (!waited.ready) return fail(waited.message);
        }
        const applied = await deps.router.setWeight(routeTarget(progress, ns, stable), step.setWeight);
        if (progress.router === 'replica-ratio' && want > 0) {
          // The weight counts once the Service lists the canary's pods, not when they are ready.
          const pods = await canaryPods(engine, progress);
          const listed = await waitForEndpoints(client, ns, progress.service, (ready) => pods.filter((p) => ready.has(p)).length >= Math.min(want, pods.length), 30_000);
          if (!listed) reporter.warning(`Service ${progress.service} does not list the canary's ${want} pods after 30 s`);
        }
        progress.weight = step.setWeight;
        progress.effectiveWeight = applied.effective;
        if (applied.effective !== step.setWeight) event.effective = applied.effective;
        reporter.info(`${label}: weight ${step.setWeight} %${applied.effective !== step.setWeight ? `, effective ${applied.effective} %` : ''} (${applied.detail})`);
        if (!background && progress.analysis.length > 0 && progress.weight > 0) background = deps.gates.background(progress.analysis, services);
      } else if ('pause' in step) {
        if (step.pause.durationMs === undefined) {
          progress.step++;
          await machine.to('paused');
          reporter.info(`${target.namespace}/${target.app} r${machine.record.revision} is paused at ${label} with ${progress.weight} % of traffic on the canary. Promote it with the promote action (or \`gantry promote --app ${target.app} --namespace ${ns}\`), or abort it with the abort action.`);
          return { status: 'paused' };
        }
        if (progress.pausedUntil === undefined) machine.note({ label: `${label}: pause ${formatSeconds(step.pause.durationMs)}` });
        progress.pausedUntil ??= clock.now() + step.pause.durationMs;
        await machine.save();
        reporter.info(`${label}: pause ${formatSeconds(progress.pausedUntil - clock.now())} at ${progress.weight} %`);
        const failed = await sleepUntil(clock, progress.pausedUntil, background?.failed ?? new Promise<string>(() => undefined), renew);
        if (failed !== undefined) return fail(`background analysis failed: ${failed}`);
        progress.pausedUntil = undefined;
      } else {
        const names = step.analysis.map((g) => g.name ?? g.check.kind).join(', ');
        reporter.info(`${label}: analysis by ${names} at ${progress.weight} %`);
        machine.note({ label: `${label}: analysis (${names})` });
        // A background gate that fails meanwhile ends the step's analysis at once.
        const stop = new AbortController();
        const backgroundFailed = background?.failed.then((reason) => { stop.abort(); return reason; });
        const verdict = await deps.gates.run(step.analysis, services, stop.signal);
        progress.verdicts = [...progress.verdicts, ...verdict.verdicts].slice(-20);
        machine.noteVerdicts(verdict.verdicts);
        if (stop.signal.aborted) return fail(`background analysis failed: ${await backgroundFailed}`);
        if (!verdict.passed) return fail(`${label} analysis failed: ${verdict.reason ?? 'a gate failed'}`);
      }
      await machine.save();
    }
    if (background) {
      const verdicts = await background.stop();
      progress.verdicts = [...progress.verdicts, ...verdicts].slice(-20);
      machine.noteVerdicts(verdicts, { background: true });
      background = undefined;
    }
    return await promote(engine, machine, progress, deps.router);
  } catch (err) {
    return fail(`The canary was interrupted: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    // Stopped early (a failure, an interruption): what the background gates measured still goes on the timeline.
    const verdicts = await background?.stop().catch(() => undefined);
    if (verdicts?.length) {
      machine.noteVerdicts(verdicts, { background: true });
      // A failure is written when it settles; a pause was written already and waits for another run.
      if (machine.phase === 'paused') await machine.save().catch(() => undefined);
    }
  }
}

/** The stable Deployment takes the new spec and is waited for at full scale; then traffic goes back to it and the canary goes. */
async function promote(engine: Engine, machine: RolloutMachine, progress: CanaryProgress, router: Router): Promise<Delivered> {
  const { client, reporter, target } = engine;
  const ns = target.namespace;
  await machine.to('promoting');
  if (progress.router === 'gateway-httproute' && progress.weight < 100) {
    // The route's stable backend is pinned to the stable pods of today, which the promotion replaces:
    // the canary, at full capacity, carries everything meanwhile.
    const stable = await client.get({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: progress.stable, namespace: ns } });
    if (stable) {
      machine.note({ label: `all traffic on the canary while ${progress.stable} takes the new spec`, weight: 100 });
      const applied = await router.setWeight(routeTarget(progress, ns, stable), 100);
      progress.weight = 100;
      progress.effectiveWeight = applied.effective;
      reporter.info(`all traffic on the canary while ${progress.stable} takes the new spec (${applied.detail})`);
    }
  }
  const desired = appDeployment(progress.objects, target.app);
  const applied = await client.apply([desired]);
  if (!applied.ok) return { status: 'failed', reason: `Could not promote ${progress.stable}: ${applied.problems.map((p) => p.message).join('; ')}`, cleanup: canaryCleanup(engine, progress, router) };
  const waited = await reporter.group(`Promote: ${progress.stable} takes the new spec`, () =>
    waitForReady(client, applied.objects, reporter, { namespace: ns, timeoutMs: engine.timeoutMs, clock: engine.clock, pollMs: engine.pollMs }));
  if (!waited.ready) return { status: 'failed', reason: waited.message, object: waited.object, cleanup: canaryCleanup(engine, progress, router) };
  await canaryCleanup(engine, progress, router)();
  progress.weight = 0;
  progress.effectiveWeight = 0;
  // Promoted when the Service lists only the promoted pods: the old ones are gone from it too.
  const stableLive = waited.live.find((o) => o.kind === 'Deployment' && o.metadata.name === progress.stable);
  const promoted = new Set(stableLive ? currentPods(stableLive, waited.live).map((p) => p.metadata.name) : []);
  if (promoted.size > 0 && !(await waitForEndpoints(client, ns, progress.service, (ready) => ready.size > 0 && [...ready].every((p) => promoted.has(p)), 30_000))) {
    reporter.warning(`Service ${progress.service} still lists pods of the old version 30 s after the promotion`);
  }
  await (engine.clock ?? systemClock).sleep(NODE_SETTLE_MS);
  return { status: 'deployed', live: waited.live };
}
