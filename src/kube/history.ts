// Revision history: every successful rollout of a target (commit, images, time, run
// URL and the objects it applied), newest first, in one Secret per target. The
// rollback action redeploys an entry from here.
import { GantryError } from '../errors.js';
import { parseImage, repositoryOf } from '../shared/image-reference.js';
import type { Target } from '../shared/target.js';
import { KubeClient, KubeObject, describeProblems } from './client.js';
import { podTemplateOf } from './images.js';
import { decodeObjects, encodeObjects } from './snapshot.js';

export interface Revision {
  revision: number;
  commit?: string;
  /** Kind/name/container → image reference as the manifests gave it. */
  images: Record<string, string>;
  /** Image reference → the `repo@sha256:…` the node actually ran, read from the ready pods. */
  digests?: Record<string, string>;
  deployedAt: string;
  runUrl: string;
  /** Set when this revision restored an older one on demand. */
  rollbackOf?: number;
  /** The objects as Gantry applied them. */
  objects: KubeObject[];
}

export function historyName(target: Target): string {
  return `gantry-${target.app}-history`;
}

/** The images of every container and initContainer of the workloads among the objects. */
export function imagesOf(objects: KubeObject[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of objects) {
    const podSpec = podTemplateOf(o)?.spec as Record<string, unknown> | undefined;
    if (!podSpec) continue;
    for (const key of ['initContainers', 'containers']) {
      for (const c of (podSpec[key] as { name: string; image?: string }[] | undefined) ?? []) {
        if (c.image) out[`${o.kind}/${o.metadata.name}/${c.name}`] = c.image;
      }
    }
  }
  return out;
}

interface PodStatus {
  status?: { containerStatuses?: { image?: string; imageID?: string }[]; initContainerStatuses?: { image?: string; imageID?: string }[] };
}

/**
 * What each of `images` resolved to on the node, from the pods' container statuses: a tag
 * in the manifests is recorded together with the digest that actually ran.
 */
export function resolvedDigests(images: string[], pods: KubeObject[]): Record<string, string> {
  const wanted = new Set(images);
  const out: Record<string, string> = {};
  for (const pod of pods) {
    // Pods on their way out may still run what a moved tag used to name.
    if (pod.kind !== 'Pod' || pod.metadata.deletionTimestamp) continue;
    const status = (pod as KubeObject & PodStatus).status;
    for (const c of [...(status?.containerStatuses ?? []), ...(status?.initContainerStatuses ?? [])]) {
      if (!c.image || !c.imageID || !wanted.has(c.image) || out[c.image]) continue;
      const digest = /sha256:[0-9a-f]{64}/.exec(c.imageID)?.[0];
      const parsed = parseImage(c.image);
      if (digest && parsed) out[c.image] = `${repositoryOf(parsed)}@${digest}`;
    }
  }
  return out;
}

export class History {
  constructor(private readonly client: KubeClient, readonly target: Target, private readonly limit: number) {}

  /** Newest first. */
  async list(): Promise<Revision[]> {
    return History.decode(await this.client.get<KubeObject>(this.ref()));
  }

  ref(): KubeObject {
    return { apiVersion: 'v1', kind: 'Secret', metadata: { name: historyName(this.target), namespace: this.target.namespace } };
  }

  static decode(object: KubeObject | undefined): Revision[] {
    const secret = object as (KubeObject & { data?: Record<string, string> }) | undefined;
    if (!secret?.data?.revisions) return [];
    return decodeObjects(secret.data.revisions) as unknown as Revision[];
  }

  /** Adds a revision and drops the oldest beyond the limit. Returns the list as stored. */
  async record(entry: Revision, existing?: Revision[]): Promise<Revision[]> {
    const all = [entry, ...(existing ?? (await this.list())).filter((r) => r.revision !== entry.revision)].slice(0, this.limit);
    const secret: KubeObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'gantry.dev/history',
      metadata: {
        name: historyName(this.target),
        namespace: this.target.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'gantry', 'gantry.dev/app': this.target.app },
      },
      data: { revisions: encodeObjects(all as unknown as KubeObject[]) },
    };
    const result = await this.client.apply([secret], { fieldManager: 'gantry-state' });
    if (!result.ok) {
      throw new GantryError(`Could not record revision ${entry.revision} in Secret ${historyName(this.target)}: ${describeProblems(result.problems)}`, { title: 'History not saved' });
    }
    return all;
  }
}
