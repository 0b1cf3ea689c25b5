// What every router reads about the stable workload and does to the canary's capacity:
// how many pods the stable version runs (the HPA's count when one scales it), how many
// canary pods a weight needs, scaling the canary, and the check that the stable Service
// really fronts the stable pods. Routers never write the stable Deployment or its HPA.
import { GantryError } from '../errors.js';
import { KubeApiError, type KubeClient, type KubeObject } from '../kube/client.js';
import type { RouteTarget } from './router.js';

/** The pod label that tells canary pods apart: canary pods carry the stable pod labels plus this one. */
export const TRACK_LABEL = 'gantry.dev/track';
export const CANARY_TRACK = 'canary';
/** The field manager of every write a router makes, so `managedFields` shows which changes were traffic's. */
export const TRAFFIC_FIELD_MANAGER = 'gantry-traffic';

export interface DeploymentLike extends KubeObject {
  spec: { replicas?: number; selector?: { matchLabels?: Record<string, string> }; template?: { metadata?: { labels?: Record<string, string> } }; [key: string]: unknown };
}

export interface ServiceLike extends KubeObject {
  spec: { selector?: Record<string, string>; ports?: ServicePort[]; [key: string]: unknown };
}

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
  nodePort?: number;
}

interface HorizontalPodAutoscaler extends KubeObject {
  spec?: { scaleTargetRef?: { apiVersion?: string; kind?: string; name?: string } };
  status?: { currentReplicas?: number };
}

export const deploymentRef = (namespace: string, name: string) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace } });
export const serviceRef = (namespace: string, name: string) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace } });

/** `app=web,tier=front`, for messages. */
export const formatLabels = (labels: Record<string, string> | undefined): string =>
  Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '(none)';

/** Whether an equality selector picks an object with these labels. */
export const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

export function checkWeight(weight: number): void {
  if (!Number.isFinite(weight) || weight < 0 || weight > 100) {
    throw new GantryError(`A canary weight must be a percentage from 0 to 100, got ${weight}`, { title: 'Invalid weight' });
  }
}

/** The stable Deployment as it is live: replica counts, the pod-template-hash and the HPA are read from the cluster, not from the manifests. */
export async function liveStable(client: KubeClient, target: RouteTarget): Promise<DeploymentLike> {
  const name = target.stable.metadata.name;
  const live = await client.get<DeploymentLike>(deploymentRef(target.namespace, name));
  if (!live) {
    throw new GantryError(`The stable Deployment ${name} does not exist in namespace ${target.namespace}`, {
      title: 'No stable version', hint: 'A canary runs beside a live version; deploy it once with the basic strategy first.',
    });
  }
  return live;
}

/** The labels of the stable pods, from the live pod template. */
export const podLabels = (d: DeploymentLike): Record<string, string> => d.spec.template?.metadata?.labels ?? {};

/**
 * The stable Service, checked: its selector must pick the stable pods, or no router can
 * steer their traffic. Canary pods carry the same labels plus the track label, so a
 * selector that picks the stable pods picks the canary pods too (what replica ratio needs).
 */
export async function checkedStableService(client: KubeClient, target: RouteTarget, stable: DeploymentLike): Promise<ServiceLike> {
  const name = target.stableService;
  const service = await client.get<ServiceLike>(serviceRef(target.namespace, name));
  if (!service) {
    throw new GantryError(`Service ${name} does not exist in namespace ${target.namespace}`, {
      title: 'Invalid traffic router', hint: 'Name the Service that fronts the stable pods (input `service`).',
    });
  }
  const selector = service.spec.selector ?? {};
  const labels = podLabels(stable);
  if (Object.keys(selector).length === 0 || !selects(selector, labels)) {
    throw new GantryError(`Service ${name} in namespace ${target.namespace} does not select the pods of Deployment ${stable.metadata.name}: its selector is ${formatLabels(selector)}, the pods' labels are ${formatLabels(labels)}`, {
      title: 'Invalid traffic router', hint: 'The Service\'s selector must match the Deployment\'s pod template labels.',
    });
  }
  if (TRACK_LABEL in selector) {
    throw new GantryError(`Service ${name} in namespace ${target.namespace} selects on ${TRACK_LABEL}, the label Gantry uses to tell canary pods apart`, {
      title: 'Invalid traffic router', hint: `Remove ${TRACK_LABEL} from the Service's selector.`,
    });
  }
  return service;
}

/**
 * Replicas the stable version runs now: the HPA's current count when an HPA scales the
 * stable Deployment (it moves with load, and the canary follows it; Gantry never fights
 * it), else the Deployment's spec.
 */
export async function stableReplicas(client: KubeClient, namespace: string, stable: DeploymentLike): Promise<{ replicas: number; source: string }> {
  const hpas = await client.list<HorizontalPodAutoscaler>('autoscaling/v2', 'HorizontalPodAutoscaler', namespace);
  const hpa = hpas.items.find((h) => {
    const ref = h.spec?.scaleTargetRef;
    return ref?.kind === 'Deployment' && ref.name === stable.metadata.name && (ref.apiVersion === undefined || ref.apiVersion.startsWith('apps/'));
  });
  // A new HPA has no status yet; until it does, the Deployment's own count is what it will start from.
  if (hpa?.status?.currentReplicas !== undefined) return { replicas: hpa.status.currentReplicas, source: `HPA ${hpa.metadata.name} current replicas` };
  return { replicas: stable.spec.replicas ?? 1, source: hpa ? `spec.replicas; HPA ${hpa.metadata.name} has no status yet` : 'spec.replicas' };
}

/** Canary pods for a weight: round(weight × stable), and at least one as soon as any traffic is asked for. */
export function canaryReplicasFor(weight: number, stable: number): number {
  if (weight <= 0) return 0;
  // weight × stable first: a whole number, so 50 % of 3 is 1.5 and rounds up, free of float error.
  return Math.max(1, Math.round((weight * stable) / 100));
}

/** The share of pods that are canary pods, in whole percent: what a Service spreading connections evenly gives the canary. */
export function podShare(canary: number, stable: number): number {
  if (canary === 0) return 0;
  return Math.round((100 * canary) / (canary + stable));
}

export const pods = (n: number): string => `${n} pod${n === 1 ? '' : 's'}`;

/** Scales the canary Deployment to `replicas` (a no-op when it is there already); returns what it had. */
export async function scaleCanary(client: KubeClient, target: RouteTarget, replicas: number): Promise<number> {
  const ref = deploymentRef(target.namespace, target.canaryName);
  const canary = await client.get<DeploymentLike>(ref);
  if (!canary) {
    if (replicas === 0) return 0;
    throw new GantryError(`The canary Deployment ${target.canaryName} does not exist in namespace ${target.namespace}, so it cannot be scaled to ${pods(replicas)}`, {
      title: 'No canary', hint: 'The strategy creates the canary before it sets a weight.',
    });
  }
  const current = canary.spec.replicas ?? 1;
  if (current === replicas) return current;
  try {
    // Only spec.replicas: a merge patch of that one field leaves the rest of the canary as the strategy made it.
    await client.patch(ref, { spec: { replicas } }, { fieldManager: TRAFFIC_FIELD_MANAGER });
  } catch (err) {
    // Deleted between the read and the write (an abort racing a step): nothing is left to scale down.
    if (replicas === 0 && err instanceof KubeApiError && err.code === 404) return current;
    throw new GantryError(`Could not scale the canary Deployment ${target.canaryName} in namespace ${target.namespace} to ${pods(replicas)}: ${err instanceof Error ? err.message : String(err)}`, { title: 'Traffic router failed', cause: err });
  }
  return current;
}
