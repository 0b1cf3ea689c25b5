// Traffic routers: how a canary gets its share of requests. One interface, one file per
// router (replica-ratio.ts, gateway-httproute.ts, …); the canary strategy only ever talks
// to a Router. Routers route: they never judge health and never decide the next step.
import type { KubeClient, KubeObject } from '../kube/client.js';
import type { Reporter } from '../report/reporter.js';

/** What a router works on: the stable workload, its canary twin, and the Services in front. */
export interface RouteTarget {
  namespace: string;
  /** The stable Deployment as it is live (name, labels, replicas); never modified by a router's weight changes except through its own scale subresource rules below. */
  stable: KubeObject;
  /** The canary Deployment's name (created by the strategy beside the stable one, same pod labels plus `gantry.dev/track: canary`). */
  canaryName: string;
  /** The Service that fronts the stable pods (its selector matches the stable pod labels). */
  stableService: string;
  /** Gateway API routers: the HTTPRoute that sends traffic to `stableService`. */
  route?: string;
}

export interface RouterContext {
  client: KubeClient;
  reporter: Reporter;
}

/** The weight a router actually achieved: replica ratios can only approximate (1 of 3 pods is 33 %). */
export interface AppliedWeight {
  requested: number;
  effective: number;
  /** One line for the log, e.g. "canary 1 pod, stable 3 pods (HPA current replicas): 25 %". */
  detail: string;
  /** Canary pods the weight needs (the strategy waits for them to be ready before traffic counts). */
  canaryReplicas: number;
}

export interface Router {
  readonly kind: 'replica-ratio' | 'gateway-httproute';
  /** Creates what routing needs (e.g. the canary and stable-only Services); idempotent, safe to call on resume. */
  prepare(target: RouteTarget): Promise<void>;
  /** Sends `weight` percent (0–100) of requests to the canary pods. Idempotent. */
  setWeight(target: RouteTarget, weight: number): Promise<AppliedWeight>;
  /** Puts routing back exactly as it was before `prepare` (weight 0 to the canary) and removes what `prepare` created. */
  reset(target: RouteTarget): Promise<void>;
}
