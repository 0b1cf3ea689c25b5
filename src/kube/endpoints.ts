// Which pods a Service actually sends traffic to: its EndpointSlices' ready endpoints. A
// Deployment can be ready a moment before its pods are in the Service (the EndpointSlice
// controller follows pod readiness), and a deleted pod leaves it a moment after; a traffic
// change counts from when the Service says so, watched rather than polled.
import type { KubeClient, KubeObject } from './client.js';
import { watchUntil } from './watch-until.js';

interface EndpointSlice extends KubeObject {
  endpoints?: { conditions?: { ready?: boolean }; targetRef?: { kind?: string; name?: string } }[];
}

/** Names of the pods the Service's EndpointSlices list as ready. */
export function readyPods(slices: KubeObject[]): Set<string> {
  const names = new Set<string>();
  for (const s of slices as EndpointSlice[]) {
    for (const e of s.endpoints ?? []) {
      if (e.targetRef?.kind === 'Pod' && e.targetRef.name && e.conditions?.ready !== false) names.add(e.targetRef.name);
    }
  }
  return names;
}

/** Waits until `until` holds for the Service's ready pods, or the timeout; returns whether it held. */
export async function waitForEndpoints(client: KubeClient, namespace: string, service: string, until: (ready: Set<string>) => boolean, timeoutMs: number): Promise<boolean> {
  const spec = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespace, labelSelector: `kubernetes.io/service-name=${service}` };
  return (await watchUntil(client, spec, (slices) => (until(readyPods(slices)) ? undefined : 'pending'), timeoutMs)) === undefined;
}
