// Gateway API HTTPRoute: the route's rules that send to the stable Service get two weighted
// backendRefs instead, `<service>-stable` (the stable pods only, pinned by their
// pod-template-hash as Argo Rollouts does) and `<service>-canary` (the canary pods only).
// The weight is exact, so capacity follows it: the canary runs round(weight × stable) pods.
//
// Order keeps requests off pods that cannot serve them: canary pods are ready before the
// route sends them more, and pods the route sends less lose their place only after the
// data plane has had `drainMs` to follow the route (Accepted says the controller took the
// route, not that every proxy applies it yet). reset() puts back the backendRefs recorded
// in an annotation at prepare(), byte for byte.
//
// `<service>-stable` pins one ReplicaSet of the stable Deployment. prepare() and reset()
// move the pin to the current ReplicaSet once it is fully available (after a promotion,
// reset() thus hands traffic back to the new stable pods); until then it stays on the pods
// it had, so a strategy changing the stable pod template while the route sends the stable
// side a share must move that share to the canary first (promote at weight 100).
import { GantryError } from '../errors.js';
import { KubeApiError, describeProblems, type KubeClient, type KubeObject } from '../kube/client.js';
import type { WatchSpec } from '../kube/informer.js';
import { watchUntil } from '../kube/watch-until.js';
import { formatSeconds, systemClock, waitForReady, type Clock } from '../kube/wait.js';
import type { AppliedWeight, Router, RouterContext, RouteTarget } from './router.js';
import {
  CANARY_TRACK, TRACK_LABEL, TRAFFIC_FIELD_MANAGER, canaryReplicasFor, checkWeight, checkedStableService, deploymentRef, liveStable, pods, scaleCanary,
  serviceRef, stableReplicas, type DeploymentLike, type ServiceLike,
} from './workload.js';

export const ROUTE_API_VERSION = 'gateway.networking.k8s.io/v1';
/** On the route: the backendRefs of every rule that sent to the stable Service, by rule index, as they were before prepare(). */
export const ORIGINAL_REFS_ANNOTATION = 'gantry.dev/original-backend-refs';
/** On the Services this router creates: the stable Service they stand in for. A Service without it is never touched. */
export const TRAFFIC_FOR_LABEL = 'gantry.dev/traffic-for';

export interface GatewayRouterOptions {
  clock?: Clock;
  /** How long the Gateway controller may take to accept a route change with its backends resolved (default 30 s). */
  acceptTimeoutMs?: number;
  /** How long new canary pods may take to become ready before the route sends them traffic, and old ones to go at reset (default 5 min). */
  readyTimeoutMs?: number;
  /** How long pods keep serving after the route stops sending them traffic, so every proxy of the data plane has applied the route (default 5 s). */
  drainMs?: number;
}

export interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  [key: string]: unknown;
}

interface ParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

interface RouteCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

export interface HTTPRoute extends KubeObject {
  spec: { parentRefs?: ParentRef[]; rules?: { backendRefs?: BackendRef[]; [key: string]: unknown }[]; [key: string]: unknown };
  status?: { parents?: { parentRef: ParentRef; controllerName?: string; conditions?: RouteCondition[] }[] };
}

interface ReplicaSetLike extends KubeObject {
  spec?: { replicas?: number };
  status?: { availableReplicas?: number };
}

interface EndpointSliceLike extends KubeObject {
  endpoints?: { conditions?: { ready?: boolean } }[];
}

/** Rule index → that rule's backendRefs before prepare(). */
type Originals = Record<string, BackendRef[]>;

const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
const TEMPLATE_HASH_LABEL = 'pod-template-hash';
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export const stableServiceName = (service: string): string => `${service}-stable`;
export const canaryServiceName = (service: string): string => `${service}-canary`;

const routeRef = (namespace: string, name: string) => ({ apiVersion: ROUTE_API_VERSION, kind: 'HTTPRoute', metadata: { name, namespace } });

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class GatewayRouter implements Router {
  readonly kind = 'gateway-httproute' as const;
  private readonly clock: Clock;
  private readonly acceptTimeoutMs: number;
  private readonly readyTimeoutMs: number;
  private readonly drainMs: number;

  constructor(private readonly ctx: RouterContext, options: GatewayRouterOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.acceptTimeoutMs = options.acceptTimeoutMs ?? 30_000;
    this.readyTimeoutMs = options.readyTimeoutMs ?? 300_000;
    this.drainMs = options.drainMs ?? 5_000;
  }

  /** Creates the stable-only and canary-only Services, and records the route's backendRefs (once: a resumed rollout keeps the first record). */
  async prepare(target: RouteTarget): Promise<void> {
    const name = routeName(target);
    const route = await this.readRoute(target);
    if ((route.spec.parentRefs ?? []).length === 0) {
      throw new GantryError(`HTTPRoute ${name} in namespace ${target.namespace} has no parentRefs, so no Gateway routes by it`, { title: 'Invalid traffic router', hint: 'Attach the route to a Gateway (spec.parentRefs).' });
    }
    const hash = await this.syncServices(target);
    if (originalsOf(route) === undefined) {
      const originals: Originals = {};
      (route.spec.rules ?? []).forEach((rule, i) => {
        if ((rule.backendRefs ?? []).some((r) => sendsTo(r, target.namespace, target.stableService))) originals[String(i)] = rule.backendRefs ?? [];
      });
      if (Object.keys(originals).length === 0) {
        throw new GantryError(`HTTPRoute ${name} in namespace ${target.namespace} has no rule whose backendRefs name Service ${target.stableService}`, {
          title: 'Invalid traffic router', hint: 'The route must send to the stable Service (input `service`) for its weights to be set.',
        });
      }
      await this.writeRoute(target, (live) => (originalsOf(live) === undefined ? { annotation: JSON.stringify(originals) } : undefined));
    }
    this.ctx.reporter.info(`HTTPRoute ${name}: Services ${stableServiceName(target.stableService)} (pods of ${TEMPLATE_HASH_LABEL} ${hash}) and ${canaryServiceName(target.stableService)} ready; the route's backendRefs are recorded for the way back`);
  }

  async setWeight(target: RouteTarget, weight: number): Promise<AppliedWeight> {
    checkWeight(weight);
    const { client } = this.ctx;
    const route = await this.readRoute(target);
    if (originalsOf(route) === undefined) {
      throw new GantryError(`HTTPRoute ${route.metadata.name} in namespace ${target.namespace} has no ${ORIGINAL_REFS_ANNOTATION} annotation: the router was not prepared`, { title: 'Traffic router failed', hint: 'prepare() records the route before any weight is set.' });
    }
    const stable = await liveStable(client, target);
    const { replicas: stableCount, source } = await stableReplicas(client, target.namespace, stable);
    const canary = canaryReplicasFor(weight, stableCount);
    const before = await this.canaryReplicas(target);
    if (canary > before) await scaleCanary(client, target, canary);
    if (canary > 0) await this.waitCanaryReady(target, canary);
    await this.waitEndpoints(target, weight);
    const generation = await this.writeRoute(target, (live) => ({ rules: weightedRules(live, target, weight) }));
    await this.waitAccepted(target, generation);
    if (canary < before) {
      await this.clock.sleep(this.drainMs);
      await scaleCanary(client, target, canary);
    }
    return {
      requested: weight, effective: weight, canaryReplicas: canary,
      detail: `HTTPRoute ${route.metadata.name}: ${100 - weight} % to Service ${stableServiceName(target.stableService)}, ${weight} % to ${canaryServiceName(target.stableService)}; canary ${pods(canary)} beside ${stableCount} stable (${source})`,
    };
  }

  /** Weight 0 first (the canary drained, then scaled to 0), then the recorded backendRefs back, then the helper Services go. */
  async reset(target: RouteTarget): Promise<void> {
    const { client } = this.ctx;
    const name = routeName(target);
    const route = await client.get<HTTPRoute>(routeRef(target.namespace, name));
    if (route && originalsOf(route) !== undefined) {
      if (canaryWeight(route, target) > 0) {
        // After a promotion the stable side must follow the new stable pods before it takes everything back.
        await this.syncServices(target);
        await this.waitEndpoints(target, 0);
        await this.waitAccepted(target, await this.writeRoute(target, (live) => ({ rules: weightedRules(live, target, 0) })));
        await this.clock.sleep(this.drainMs);
      }
      await scaleCanary(client, target, 0);
      // The stable Service selects canary pods too: the route goes back to it only once they are gone, or the data plane may still pick a dying one.
      await this.waitCanaryGone(target);
      const generation = await this.writeRoute(target, (live) => {
        const originals = originalsOf(live);
        return originals === undefined ? undefined : { rules: restoredRules(live, originals, target.namespace), annotation: null };
      });
      await this.waitAccepted(target, generation);
    } else {
      await scaleCanary(client, target, 0);
    }
    const ours = (await client.getObjects([stableServiceName, canaryServiceName].map((n) => serviceRef(target.namespace, n(target.stableService)))))
      .filter((s) => s.metadata.labels?.[TRAFFIC_FOR_LABEL] === target.stableService);
    const deleted = await client.delete(ours);
    if (!deleted.ok) throw new GantryError(`Could not delete Services ${ours.map((s) => s.metadata.name).join(', ')} in namespace ${target.namespace}: ${describeProblems(deleted.problems)}`, { title: 'Traffic router failed' });
    this.ctx.reporter.info(`HTTPRoute ${name}: backendRefs restored as they were before the canary; Services ${stableServiceName(target.stableService)} and ${canaryServiceName(target.stableService)} removed`);
  }

  // ---------------------------------------------------------------- route

  private async readRoute(target: RouteTarget): Promise<HTTPRoute> {
    const name = routeName(target);
    const route = await this.ctx.client.get<HTTPRoute>(routeRef(target.namespace, name));
    if (!route) throw new GantryError(`HTTPRoute ${name} does not exist in namespace ${target.namespace}`, { title: 'Invalid traffic router', hint: 'Name the HTTPRoute that sends to the stable Service (input `route`).' });
    return route;
  }

  /**
   * Writes the rules (all of them: a merge patch replaces the array) and the annotation
   * (null removes it), conditional on the resourceVersion read, so a concurrent edit of the
   * route is read again rather than overwritten. Returns the generation to wait for.
   */
  private async writeRoute(target: RouteTarget, change: (live: HTTPRoute) => { rules?: HTTPRoute['spec']['rules']; annotation?: string | null } | undefined): Promise<number> {
    const ref = routeRef(target.namespace, routeName(target));
    for (let attempt = 1; ; attempt++) {
      const live = await this.readRoute(target);
      const wanted = change(live);
      const generation = (live.metadata.generation as number | undefined) ?? 0;
      if (!wanted) return generation;
      const sameRules = wanted.rules === undefined || JSON.stringify(wanted.rules) === JSON.stringify(live.spec.rules);
      const sameAnnotation = wanted.annotation === undefined || (live.metadata.annotations?.[ORIGINAL_REFS_ANNOTATION] ?? null) === wanted.annotation;
      if (sameRules && sameAnnotation) return generation;
      const patch: Record<string, unknown> = { metadata: { resourceVersion: live.metadata.resourceVersion, ...(sameAnnotation ? {} : { annotations: { [ORIGINAL_REFS_ANNOTATION]: wanted.annotation } }) } };
      if (!sameRules) patch.spec = { rules: wanted.rules };
      try {
        const written = await this.ctx.client.patch(ref, patch, { fieldManager: TRAFFIC_FIELD_MANAGER });
        return (written.metadata.generation as number | undefined) ?? generation;
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 409 && attempt < 5) continue;
        throw new GantryError(`Could not update HTTPRoute ${ref.metadata.name} in namespace ${target.namespace}: ${message(err)}`, { title: 'Traffic router failed', cause: err });
      }
    }
  }

  /** Waits until every parent of the route reports Accepted and ResolvedRefs for `generation` (or later). */
  private async waitAccepted(target: RouteTarget, generation: number): Promise<void> {
    const name = routeName(target);
    await this.watchUntil({ apiVersion: ROUTE_API_VERSION, kind: 'HTTPRoute', namespace: target.namespace, fieldSelector: `metadata.name=${name}` }, this.acceptTimeoutMs, (items) =>
      notAccepted(items.find((o) => o.metadata.name === name) as HTTPRoute | undefined, target.namespace, generation),
    (pending) => new GantryError(`HTTPRoute ${name} in namespace ${target.namespace} was not accepted with its backends resolved within ${formatSeconds(this.acceptTimeoutMs)} of the change to generation ${generation}: ${pending}`, {
      title: 'Traffic router failed', hint: 'The Gateway controller reports why in the route\'s status.parents; check the Gateway and the Services the route names.',
    }));
  }

  /**
   * Watches one kind until `pending` says nothing is left to wait for (it returns what is
   * still awaited, for the error), or throws `timedOut(what)` after `timeoutMs`.
   */
  private async watchUntil(spec: WatchSpec, timeoutMs: number, pending: (items: KubeObject[]) => string | undefined, timedOut: (pending: string) => Error): Promise<void> {
    const left = await watchUntil(this.ctx.client, spec, pending, timeoutMs, { clock: this.clock, onNotice: (m) => this.ctx.reporter.info(m) });
    if (left !== undefined) throw timedOut(left);
  }

  // ---------------------------------------------------------------- Services and pods

  /**
   * Creates or updates the stable-only and canary-only Services (server-side apply, so a
   * repeat is a no-op) with the stable pods' current pin; returns the pin.
   */
  private async syncServices(target: RouteTarget): Promise<string> {
    const { client } = this.ctx;
    const svc = target.stableService;
    const names = [stableServiceName(svc), canaryServiceName(svc)];
    for (const n of names) {
      if (n.length > 63) throw new GantryError(`Service ${svc} has too long a name for the router's ${n} (${n.length} characters, at most 63)`, { title: 'Invalid traffic router', hint: 'Give the stable Service a name of at most 56 characters.' });
    }
    const existing = (await client.getObjects(names.map((n) => serviceRef(target.namespace, n)))) as ServiceLike[];
    const foreign = existing.find((s) => s.metadata.labels?.[TRAFFIC_FOR_LABEL] !== svc);
    if (foreign) {
      throw new GantryError(`Service ${foreign.metadata.name} already exists in namespace ${target.namespace} and is not one the traffic router made for ${svc}`, {
        title: 'Invalid traffic router', hint: `The gateway-httproute router needs the names ${names.join(' and ')} for its own Services; rename that Service.`,
      });
    }
    const stable = await liveStable(client, target);
    const service = await checkedStableService(client, target, stable);
    const pinned = existing.find((s) => s.metadata.name === names[0])?.spec.selector?.[TEMPLATE_HASH_LABEL];
    const hash = await stablePin(client, target.namespace, stable, pinned);
    if (pinned !== undefined && pinned !== hash) this.ctx.reporter.info(`Service ${names[0]}: now the stable pods of ${TEMPLATE_HASH_LABEL} ${hash} (was ${pinned}), the current ReplicaSet of ${stable.metadata.name}`);
    await this.applyServices(target, service, hash);
    return hash;
  }

  private async applyServices(target: RouteTarget, service: ServiceLike, hash: string): Promise<void> {
    const svc = target.stableService;
    const names = [stableServiceName(svc), canaryServiceName(svc)];
    const selector = service.spec.selector ?? {};
    // Ports as the stable Service has them, without nodePorts: these Services are ClusterIP only.
    const ports = (service.spec.ports ?? []).map(({ nodePort: _nodePort, ...port }) => port);
    const helper = (name: string, select: Record<string, string>, purpose: string): KubeObject => ({
      apiVersion: 'v1', kind: 'Service',
      metadata: { name, namespace: target.namespace, labels: { [TRAFFIC_FOR_LABEL]: svc, 'app.kubernetes.io/managed-by': 'gantry' }, annotations: { 'gantry.dev/purpose': purpose } },
      spec: { type: 'ClusterIP', selector: select, ports },
    });
    const result = await this.ctx.client.apply([
      helper(names[0]!, { ...selector, [TEMPLATE_HASH_LABEL]: hash }, `the stable pods of ${svc} only, for weighted routing`),
      helper(names[1]!, { ...selector, [TRACK_LABEL]: CANARY_TRACK }, `the canary pods of ${svc} only, for weighted routing`),
    ], { fieldManager: TRAFFIC_FIELD_MANAGER, force: true });
    if (!result.ok) throw new GantryError(`Could not create the router's Services for ${svc} in namespace ${target.namespace}: ${describeProblems(result.problems)}`, { title: 'Traffic router failed' });
  }

  private async canaryReplicas(target: RouteTarget): Promise<number> {
    const canary = await this.ctx.client.get<DeploymentLike>(deploymentRef(target.namespace, target.canaryName));
    return canary?.spec.replicas ?? 0;
  }

  /**
   * Waits until each Service the route is about to send a share to has a ready endpoint:
   * pods being ready is not enough, the data plane routes to the endpoints it is told of.
   */
  private async waitEndpoints(target: RouteTarget, weight: number): Promise<void> {
    const services = [...(weight < 100 ? [stableServiceName(target.stableService)] : []), ...(weight > 0 ? [canaryServiceName(target.stableService)] : [])];
    for (const service of services) {
      const owns = (o: KubeObject): boolean => o.metadata.labels?.[SERVICE_NAME_LABEL] === service;
      await this.watchUntil({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespace: target.namespace, labelSelector: `${SERVICE_NAME_LABEL}=${service}` }, this.readyTimeoutMs, (items) =>
        ((items.filter(owns) as EndpointSliceLike[]).some((slice) => (slice.endpoints ?? []).some((e) => e.conditions?.ready !== false)) ? undefined : 'no ready endpoint'),
      () => new GantryError(`Service ${service} in namespace ${target.namespace} has no ready endpoint after ${formatSeconds(this.readyTimeoutMs)}, so HTTPRoute ${routeName(target)} was not changed to send it ${service.endsWith('-canary') ? weight : 100 - weight} %`, {
        title: 'Traffic router failed', hint: 'Check that the pods it selects are running and ready.',
      }));
    }
  }

  /** Waits until no canary pod is left (they are deleted once the canary is scaled to 0). */
  private async waitCanaryGone(target: RouteTarget): Promise<void> {
    const stable = await liveStable(this.ctx.client, target);
    // Canary pods carry the stable pods' labels plus the track label: this selects them, and no other app's canary.
    const labels = { ...(stable.spec.selector?.matchLabels ?? {}), [TRACK_LABEL]: CANARY_TRACK };
    const labelSelector = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
    await this.watchUntil({ apiVersion: 'v1', kind: 'Pod', namespace: target.namespace, labelSelector }, this.readyTimeoutMs, (items) => {
      const left = items.filter((p) => Object.entries(labels).every(([k, v]) => p.metadata.labels?.[k] === v));
      return left.length === 0 ? undefined : left.map((p) => p.metadata.name).join(', ');
    }, (pending) => new GantryError(`The canary pods ${pending} in namespace ${target.namespace} were still there ${formatSeconds(this.readyTimeoutMs)} after the canary was scaled to 0, so HTTPRoute ${routeName(target)} still sends to ${stableServiceName(target.stableService)}`, {
      title: 'Traffic router failed', hint: 'Check what keeps the pods (finalizers, a long terminationGracePeriodSeconds), then run the abort again.',
    }));
  }

  private async waitCanaryReady(target: RouteTarget, replicas: number): Promise<void> {
    const canary = await this.ctx.client.get<DeploymentLike>(deploymentRef(target.namespace, target.canaryName));
    if (!canary) throw new GantryError(`The canary Deployment ${target.canaryName} does not exist in namespace ${target.namespace}`, { title: 'No canary' });
    const outcome = await waitForReady(this.ctx.client, [canary], this.ctx.reporter, { namespace: target.namespace, timeoutMs: this.readyTimeoutMs, clock: this.clock });
    if (!outcome.ready) {
      throw new GantryError(`The canary Deployment ${target.canaryName} in namespace ${target.namespace} did not get ${pods(replicas)} ready, so the route sends it nothing more: ${outcome.reason}: ${outcome.message}`, { title: 'Canary not ready' });
    }
  }
}

function routeName(target: RouteTarget): string {
  if (!target.route) throw new GantryError('The gateway-httproute router needs the name of the HTTPRoute that sends to the stable Service', { title: 'Invalid traffic router', hint: 'Set the `route` input.' });
  return target.route;
}

/** Whether a backendRef names the Service `name` in `namespace` (a ref without namespace is in the route's). */
function sendsTo(ref: BackendRef, namespace: string, name: string): boolean {
  return (ref.group ?? '') === '' && (ref.kind ?? 'Service') === 'Service' && ref.name === name && (ref.namespace ?? namespace) === namespace;
}

function originalsOf(route: HTTPRoute): Originals | undefined {
  const text = route.metadata.annotations?.[ORIGINAL_REFS_ANNOTATION];
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Originals;
  } catch (err) {
    throw new GantryError(`HTTPRoute ${route.metadata.name}: annotation ${ORIGINAL_REFS_ANNOTATION} is not the JSON Gantry wrote (${message(err)})`, { title: 'Traffic router failed', hint: 'Restore the route\'s backendRefs by hand and remove the annotation.', cause: err });
  }
}

/**
 * The route's rules with the recorded ones sending `weight` % to the canary Service and the
 * rest to the stable-only one. The pair takes the place of the stable Service's ref (or of
 * an earlier pair), with the port and filters the stable ref had; other refs stay as they are.
 */
function weightedRules(route: HTTPRoute, target: RouteTarget, weight: number): HTTPRoute['spec']['rules'] {
  const originals = originalsOf(route) ?? {};
  const svc = target.stableService;
  const ours = (r: BackendRef): boolean => [svc, stableServiceName(svc), canaryServiceName(svc)].some((n) => sendsTo(r, target.namespace, n));
  return (route.spec.rules ?? []).map((rule, i) => {
    const original = originals[String(i)];
    if (!original) return rule;
    const { name: _name, namespace: _namespace, weight: _weight, ...stableRef } = original.find((r) => sendsTo(r, target.namespace, svc)) ?? { name: svc };
    const pair: BackendRef[] = [
      { ...stableRef, name: stableServiceName(svc), weight: 100 - weight },
      { ...stableRef, name: canaryServiceName(svc), weight },
    ];
    const refs = rule.backendRefs ?? [];
    const at = refs.findIndex(ours);
    const others = refs.filter((r) => !ours(r));
    const backendRefs = at < 0 ? [...others, ...pair] : [...others.slice(0, at), ...pair, ...others.slice(at)];
    return { ...rule, backendRefs };
  });
}

function restoredRules(route: HTTPRoute, originals: Originals, namespace: string): HTTPRoute['spec']['rules'] {
  const rules = route.spec.rules ?? [];
  for (const i of Object.keys(originals)) {
    if (!rules[Number(i)]) throw new GantryError(`HTTPRoute ${route.metadata.name} in namespace ${namespace} has lost rule ${i} since the canary began, so its backendRefs cannot be restored`, { title: 'Traffic router failed', hint: `Its recorded backendRefs are in the ${ORIGINAL_REFS_ANNOTATION} annotation.` });
  }
  return rules.map((rule, i) => (originals[String(i)] ? { ...rule, backendRefs: originals[String(i)] } : rule));
}

/** The weight the route gives the canary Service now (every recorded rule has the same). */
function canaryWeight(route: HTTPRoute, target: RouteTarget): number {
  const refs = (route.spec.rules ?? []).flatMap((r) => r.backendRefs ?? []);
  const canary = refs.find((r) => sendsTo(r, target.namespace, canaryServiceName(target.stableService)));
  return canary ? (canary.weight ?? 1) : 0;
}

/** Why the route is not yet taken at `generation` by every parent, or undefined when it is. */
function notAccepted(route: HTTPRoute | undefined, namespace: string, generation: number): string | undefined {
  if (!route) return 'the route was deleted';
  const reasons: string[] = [];
  for (const parent of route.spec.parentRefs ?? []) {
    const label = `parent ${parent.namespace ?? namespace}/${parent.name}${parent.sectionName ? `/${parent.sectionName}` : ''}`;
    const statuses = (route.status?.parents ?? []).filter((s) => sameParent(s.parentRef, parent, namespace));
    if (statuses.length === 0) {
      reasons.push(`${label}: no status from a Gateway controller yet`);
      continue;
    }
    const problems = statuses.map((s) => ['Accepted', 'ResolvedRefs'].flatMap((type) => {
      const c = s.conditions?.find((x) => x.type === type);
      if (!c) return [`${type} not reported`];
      // A condition without observedGeneration cannot be told stale; the Gateway API asks controllers to set it.
      const stale = c.observedGeneration !== undefined && c.observedGeneration < generation;
      if (c.status === 'True' && !stale) return [];
      return [`${type}=${c.status}${stale ? ` for generation ${c.observedGeneration}` : ''}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`];
    }));
    if (problems.some((p) => p.length === 0)) continue;
    reasons.push(`${label}: ${problems[0]!.join('; ')}`);
  }
  return reasons.length === 0 ? undefined : reasons.join('; ');
}

function sameParent(a: ParentRef, b: ParentRef, namespace: string): boolean {
  return a.name === b.name && (a.namespace ?? namespace) === (b.namespace ?? namespace) && (a.kind ?? 'Gateway') === (b.kind ?? 'Gateway')
    && (a.group ?? 'gateway.networking.k8s.io') === (b.group ?? 'gateway.networking.k8s.io') && (a.sectionName ?? '') === (b.sectionName ?? '') && (a.port ?? 0) === (b.port ?? 0);
}

/**
 * The pod-template-hash `<service>-stable` selects: the stable Deployment's current
 * ReplicaSet (the one of its revision) once it is fully available, so that after a
 * promotion the route's stable side follows the new pods; while a rollout of the stable
 * Deployment is under way, the pods it was pinned to before (`pinned`).
 */
async function stablePin(client: KubeClient, namespace: string, stable: DeploymentLike, pinned: string | undefined): Promise<string> {
  const revision = stable.metadata.annotations?.[REVISION_ANNOTATION];
  const uid = stable.metadata.uid as string | undefined;
  const selector = Object.entries(stable.spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  const sets = await client.list<ReplicaSetLike>('apps/v1', 'ReplicaSet', namespace, selector ? { labelSelector: selector } : {});
  const current = sets.items.find((rs) =>
    ((rs.metadata.ownerReferences as { uid?: string }[] | undefined) ?? []).some((o) => o.uid === uid) && rs.metadata.annotations?.[REVISION_ANNOTATION] === revision);
  const hash = current?.metadata.labels?.[TEMPLATE_HASH_LABEL];
  const wanted = current?.spec?.replicas ?? 0;
  const available = wanted > 0 && (current?.status?.availableReplicas ?? 0) >= wanted;
  if (hash && (available || pinned === undefined)) return hash;
  if (pinned !== undefined) return pinned;
  throw new GantryError(`The stable Deployment ${stable.metadata.name} in namespace ${namespace} has no current ReplicaSet${revision ? ` for its revision ${revision}` : ''} with a ${TEMPLATE_HASH_LABEL} label, so its pods cannot be selected apart from the canary's`, {
    title: 'Invalid traffic router', hint: 'Wait until the stable Deployment has rolled out, then start the canary.',
  });
}
