// Replica ratio, the router that needs no mesh: canary pods carry the stable pods' labels
// (plus the track label), so the stable Service sends them their share of connections
// already, and the weight is set by how many canary pods there are beside the stable ones.
// The stable Deployment keeps its full scale throughout (and its HPA keeps control of it),
// so the achievable weights are steps of canary / (canary + stable): 1 of 4 pods is 25 %.
import { GantryError } from '../errors.js';
import type { AppliedWeight, Router, RouterContext, RouteTarget } from './router.js';
import {
  canaryReplicasFor, checkWeight, checkedStableService, deploymentRef, formatLabels, liveStable, podLabels, podShare, pods, scaleCanary, stableReplicas,
  type DeploymentLike, type ServiceLike,
} from './workload.js';

export class ReplicaRatioRouter implements Router {
  readonly kind = 'replica-ratio' as const;

  constructor(private readonly ctx: RouterContext) {}

  /** Nothing to create: only checks that the stable Service selects the stable pods, and the canary's too once it exists. */
  async prepare(target: RouteTarget): Promise<void> {
    const stable = await liveStable(this.ctx.client, target);
    const service = await checkedStableService(this.ctx.client, target, stable);
    await this.checkCanarySelected(target, service);
  }

  async setWeight(target: RouteTarget, weight: number): Promise<AppliedWeight> {
    checkWeight(weight);
    const { client } = this.ctx;
    const stable = await liveStable(client, target);
    const service = await checkedStableService(client, target, stable);
    if (weight > 0) await this.checkCanarySelected(target, service);
    const { replicas: stableCount, source } = await stableReplicas(client, target.namespace, stable);
    const canary = canaryReplicasFor(weight, stableCount);
    await scaleCanary(client, target, canary);
    const effective = podShare(canary, stableCount);
    const differs = effective === weight ? '' : `; ${weight} % was requested, and a replica ratio moves in whole pods`;
    const detail = `${effective} % for ${canary} of ${pods(canary + stableCount)} (stable ${stableCount}: ${source})${differs}`;
    return { requested: weight, effective, detail, canaryReplicas: canary };
  }

  /** Weight 0: the canary keeps no pods (the strategy deletes the Deployment itself). */
  async reset(target: RouteTarget): Promise<void> {
    await scaleCanary(this.ctx.client, target, 0);
  }

  /**
   * Canary pods the stable Service does not select would get no traffic at all, whatever
   * their number: say so before scaling them, naming both objects and the labels apart.
   */
  private async checkCanarySelected(target: RouteTarget, service: ServiceLike): Promise<void> {
    const canary = await this.ctx.client.get<DeploymentLike>(deploymentRef(target.namespace, target.canaryName));
    if (!canary) return;
    const labels = podLabels(canary);
    const selector = service.spec.selector ?? {};
    const missing = Object.entries(selector).filter(([k, v]) => labels[k] !== v);
    if (missing.length > 0) {
      throw new GantryError(`Service ${target.stableService} in namespace ${target.namespace} does not select the pods of the canary Deployment ${target.canaryName}: it needs ${formatLabels(Object.fromEntries(missing))}, the canary pods have ${formatLabels(labels)}`, {
        title: 'Invalid traffic router', hint: 'The replica-ratio router needs canary pods that carry the labels the stable Service selects; keep version-specific labels out of the Service\'s selector.',
      });
    }
  }
}
