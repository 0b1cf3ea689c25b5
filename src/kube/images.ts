// Image references in workloads: finding every container of every workload kind, and
// swapping a repository for a new reference.
import { GantryError, GantryErrors } from '../errors.js';
import { formatReference, parseImage, repositoryOf, type ImageReference } from '../shared/image-reference.js';
import type { KubeObject } from './client.js';
import type { Manifest } from './yaml-documents.js';

/** One container whose image was replaced. */
export interface ImageChange {
  kind: string;
  name: string;
  namespace?: string;
  container: string;
  /** Which list the container is in: `containers`, `initContainers` or `ephemeralContainers`. */
  list: ContainerList;
  from: string;
  to: string;
  file: string;
  line: number;
}

export type ContainerList = 'containers' | 'initContainers' | 'ephemeralContainers';
const CONTAINER_LISTS: ContainerList[] = ['containers', 'initContainers', 'ephemeralContainers'];

type Mapping = Record<string, unknown>;

function isMapping(v: unknown): v is Mapping {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Where each workload kind keeps its pod template. A Pod is its own template.
const POD_TEMPLATE_PATHS: Record<string, string[]> = {
  Pod: [],
  PodTemplate: ['template'],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

/** The pod template (`metadata` + `spec`) of a workload, or the Pod itself; undefined for other kinds. */
export function podTemplateOf(o: KubeObject): Mapping | undefined {
  const path = POD_TEMPLATE_PATHS[o.kind];
  if (!path) return undefined;
  let node: unknown = o;
  for (const key of path) node = isMapping(node) ? node[key] : undefined;
  return isMapping(node) ? node : undefined;
}

interface ContainerSlot {
  container: Mapping & { image: string };
  list: ContainerList;
}

function containersOf(o: KubeObject): ContainerSlot[] {
  const spec = podTemplateOf(o)?.spec;
  if (!isMapping(spec)) return [];
  const slots: ContainerSlot[] = [];
  for (const list of CONTAINER_LISTS) {
    const containers = spec[list];
    if (!Array.isArray(containers)) continue;
    for (const c of containers) {
      if (isMapping(c) && typeof c.image === 'string') slots.push({ container: c as Mapping & { image: string }, list });
    }
  }
  return slots;
}

interface Rule {
  key: string;
  ref: ImageReference;
  to: string;
  toRef: ImageReference;
  matched: boolean;
}

/**
 * Replaces the image of every container whose repository is a key of `images`.
 *
 * - The match is on the whole repository (registry with port + path), never a prefix,
 *   so `localhost:5000/app` does not touch `localhost:5000/app-other`.
 * - A key may carry a tag or digest (`app:v1`); then only images with that tag/digest match.
 * - A value with a tag or digest replaces the whole reference. A bare repository as
 *   value only renames the repository and keeps the old tag and digest.
 * - A key that matches no container at all is an error: deploying without the image
 *   you just built is almost always a typo in the key.
 *
 * Nothing is changed when any key or value is invalid or unmatched.
 */
export function substituteImages(manifests: Manifest[], images: Record<string, string>): ImageChange[] {
  const errors: GantryError[] = [];
  const rules = new Map<string, Rule[]>();
  for (const [key, to] of Object.entries(images)) {
    const ref = parseImage(key);
    const toRef = parseImage(to);
    if (!ref) errors.push(new GantryError(`images: "${key}" is not an image repository`, { title: 'Invalid input', hint: 'Use a repository such as localhost:5000/app or ghcr.io/owner/app.' }));
    if (!toRef) errors.push(new GantryError(`images: the new reference "${to}" for "${key}" is not an image reference`, { title: 'Invalid input', hint: 'Use a reference such as localhost:5000/app@sha256:… (the image output of build-push).' }));
    if (!ref || !toRef) continue;
    const repo = repositoryOf(ref);
    const same = rules.get(repo) ?? [];
    const clash = same.find((r) => r.ref.tag === ref.tag && r.ref.digest === ref.digest && r.to !== to);
    if (clash) {
      errors.push(new GantryError(`images: "${key}" and "${clash.key}" name the same repository but map it to different images ("${to}" and "${clash.to}")`, { title: 'Invalid input', hint: 'Keep one of them.' }));
      continue;
    }
    same.push({ key, ref, to, toRef, matched: false });
    rules.set(repo, same);
  }
  if (errors.length > 0) throw new GantryErrors(errors);

  const planned: { slot: ContainerSlot; change: ImageChange }[] = [];
  const seen = new Set<string>();
  for (const m of manifests) {
    for (const slot of containersOf(m.object)) {
      const from = slot.container.image;
      const ref = parseImage(from);
      if (!ref) continue; // e.g. "$(IMAGE)"; the server will judge it, we only swap what we understand
      seen.add(repositoryOf(ref));
      const rule = rules.get(repositoryOf(ref))?.find((r) => (r.ref.tag === undefined || r.ref.tag === ref.tag) && (r.ref.digest === undefined || r.ref.digest === ref.digest));
      if (!rule) continue;
      rule.matched = true;
      const to = rule.toRef.tag || rule.toRef.digest ? rule.to : formatReference({ ...rule.toRef, tag: ref.tag, digest: ref.digest });
      if (to === from) continue;
      const o = m.object;
      planned.push({
        slot,
        change: { kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace, container: String(slot.container.name ?? ''), list: slot.list, from, to, file: m.file, line: m.line },
      });
    }
  }

  const unmatched = [...rules.values()].flat().filter((r) => !r.matched);
  if (unmatched.length > 0) {
    const found = [...seen].sort();
    throw new GantryErrors(
      unmatched.map(
        (r) =>
          new GantryError(`images: "${r.key}" matches no container in the manifests`, {
            title: 'Invalid input',
            hint: found.length > 0 ? `Repositories used by the manifests: ${found.slice(0, 10).join(', ')}${found.length > 10 ? ', …' : ''}. The match is exact (registry, port and path).` : 'The manifests contain no containers with an image.',
          }),
      ),
    );
  }

  for (const { slot, change } of planned) slot.container.image = change.to;
  return planned.map((p) => p.change);
}
