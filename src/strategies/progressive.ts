// What blue-green and canary share: finding the app's Deployment and Service in the set,
// the canary/preview twin of a Deployment, the record of where a progressive rollout
// stands, and the gate hook. The strategies themselves are canary.ts and blue-green.ts.
import type { GateSpecs } from '../config/progressive.js';
import { GantryError } from '../errors.js';
import type { Verdict } from '../checks/gate.js';
import type { KubeObject } from '../kube/client.js';
import { selects, type ServiceLike } from '../traffic/workload.js';
import { Clock, sleepUnless, systemClock } from '../kube/wait.js';

/** The pod label that tells a blue-green revision's pods apart from the live ones. */
export const REVISION_LABEL = 'gantry.dev/revision';

interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
}

export interface DeploymentLike extends KubeObject {
  spec: { replicas?: number; selector: { matchLabels?: Record<string, string> }; template: PodTemplate; [key: string]: unknown };
}

/** The one Deployment a progressive strategy rolls out: the one named like the app, or the only one. */
export function appDeployment(objects: KubeObject[], app: string): DeploymentLike {
  const deployments = objects.filter((o) => o.kind === 'Deployment') as DeploymentLike[];
  const named = deployments.find((d) => d.metadata.name === app);
  if (named) return named;
  if (deployments.length === 1) return deployments[0]!;
  throw new GantryError(`A progressive rollout needs the app's Deployment, and the manifests have ${deployments.length === 0 ? 'none' : `${deployments.length}: ${deployments.map((d) => d.metadata.name).join(', ')}`}`, {
    title: 'Invalid manifest',
    hint: deployments.length === 0 ? 'Add the Deployment to the manifests.' : 'Name the Deployment after `app`, so Gantry knows which one to roll out progressively.',
  });
}

/** A Service picks the pods when its selector is not empty (an empty one selects no pods) and every label matches. */
const picks = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  selector !== undefined && Object.keys(selector).length > 0 && selects(selector, labels);

/** The Service that fronts the Deployment's pods: the one named in the config, or the one in the set whose selector picks its pods. */
export function appService(objects: KubeObject[], deployment: DeploymentLike, named?: string): ServiceLike {
  const services = objects.filter((o) => o.kind === 'Service') as ServiceLike[];
  const labels = deployment.spec.template.metadata?.labels ?? {};
  if (named) {
    const s = services.find((o) => o.metadata.name === named);
    if (!s) throw new GantryError(`input "service" names ${named}, which is not among the manifests' Services (${services.map((o) => o.metadata.name).join(', ') || 'none'})`, { title: 'Invalid input' });
    if (!picks(s.spec.selector, labels)) throw new GantryError(`Service ${named} does not select the pods of Deployment ${deployment.metadata.name}`, { title: 'Invalid manifest', hint: 'Its selector must match the Deployment\'s pod template labels.' });
    return s;
  }
  const matching = services.filter((s) => picks(s.spec.selector, labels));
  if (matching.length === 1) return matching[0]!;
  throw new GantryError(`A progressive rollout needs the Service in front of Deployment ${deployment.metadata.name}; ${matching.length === 0 ? 'no Service in the manifests selects its pods' : `several do: ${matching.map((s) => s.metadata.name).join(', ')}`}`, {
    title: 'Invalid manifest',
    hint: matching.length === 0 ? 'Add the Service to the manifests.' : 'Set the `service` input to the one traffic goes through.',
  });
}

/** A copy of the Deployment under another name whose pods carry one more label, so they can be told apart and selected alone. */
export function twin(deployment: DeploymentLike, name: string, label: Record<string, string>, replicas: number): DeploymentLike {
  const copy = structuredClone(deployment);
  copy.metadata = { ...copy.metadata, name, labels: { ...(copy.metadata.labels ?? {}), ...label } };
  delete (copy.metadata as Record<string, unknown>).resourceVersion;
  delete (copy.metadata as Record<string, unknown>).uid;
  copy.spec.replicas = replicas;
  copy.spec.selector = { ...copy.spec.selector, matchLabels: { ...(copy.spec.selector.matchLabels ?? {}), ...label } };
  copy.spec.template = { ...copy.spec.template, metadata: { ...(copy.spec.template.metadata ?? {}), labels: { ...(copy.spec.template.metadata?.labels ?? {}), ...label } } };
  return copy;
}

/**
 * What gates may refer to at one point of a rollout, by role (preview/canary for the new
 * version, active/stable for the old): the Services, the Deployments, and the new version.
 */
export interface GateSides {
  services: Record<string, string>;
  workloads: Record<string, string>;
  version?: string;
}

/** Every role played by one Service and one Deployment: a first deploy, or the basic strategy. */
export function oneSide(service: string | undefined, workload: string | undefined, version?: string): GateSides {
  const all = (name: string | undefined): Record<string, string> => (name === undefined ? {} : { stable: name, active: name, canary: name, preview: name });
  return { services: all(service), workloads: all(workload), version };
}

/** The version a Deployment rolls out, as gates show it: its first container's image tag, or its digest. */
export function versionOf(deployment: DeploymentLike | undefined): string | undefined {
  const spec = deployment?.spec.template.spec as { containers?: Array<{ image?: string }> } | undefined;
  const image = spec?.containers?.[0]?.image;
  if (!image) return undefined;
  const at = image.indexOf('@');
  if (at >= 0) return image.slice(at + 1);
  const tag = /:([^:/]+)$/.exec(image);
  return tag ? tag[1] : 'latest';
}

/** The gate hook: runs a list of gates at one point of a rollout. checks/ provides the real runner. */
export interface GateRunner {
  /** Runs the gates to their verdict; `signal` stops them early (they do not pass then). */
  run(specs: GateSpecs, sides: GateSides, signal?: AbortSignal): Promise<{ passed: boolean; verdicts: Verdict[]; reason?: string }>;
  /** Gates that repeat until stopped; `failed` resolves with the reason when one fails beyond its limit. */
  background(specs: GateSpecs, sides: GateSides): { failed: Promise<string>; stop(): Promise<Verdict[]> };
}

/** Sleeps until `until`, waking early when `interrupt` resolves; returns the interruption's value if any. */
export async function sleepUntil<T>(clock: Clock = systemClock, until: number, interrupt: Promise<T>, tick: () => Promise<void>): Promise<T | undefined> {
  let interrupted: { value: T } | undefined;
  void interrupt.then((value) => { interrupted = { value }; });
  while (!interrupted && clock.now() < until) {
    await sleepUnless(clock, Math.min(1000, until - clock.now()), interrupt);
    await tick();
  }
  return interrupted?.value;
}
