// Snapshots: what the target looked like before a deploy touched it — the live
// objects that existed and the names of those that did not — and how to restore it.
import { gunzipSync, gzipSync } from 'node:zlib';
import { GantryError } from '../errors.js';
import { KubeClient, KubeObject, describeProblems, refOf } from './client.js';

export interface Snapshot {
  /** Live objects as they were, minus server-managed fields, ready to be replaced back. */
  existing: KubeObject[];
  /** Objects the deploy is about to create; restoring deletes them. */
  created: KubeObject[];
}

/** The annotations and labels Gantry adds for traceability; they change on every deploy by design. */
export const GANTRY_PREFIX = 'gantry.dev/';

/** Cluster-scoped kinds Gantry may meet in manifests; everything else is namespaced. */
const CLUSTER_SCOPED = new Set([
  'Namespace', 'Node', 'PersistentVolume', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition',
  'StorageClass', 'PriorityClass', 'IngressClass', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration',
  'APIService', 'RuntimeClass', 'CSIDriver', 'VolumeAttachment',
]);

/** `Deployment/web` or `Deployment/ns/web`… users read kind/name, so the namespace only appears when it is not the target's. */
export function displayName(o: KubeObject, namespace?: string): string {
  const ns = o.metadata.namespace;
  return ns && namespace && ns !== namespace ? `${o.kind}/${ns}/${o.metadata.name}` : `${o.kind}/${o.metadata.name}`;
}

/** Identity of an object regardless of apiVersion (apps/v1 vs extensions), for matching live to desired. */
export function identity(o: KubeObject, namespace?: string): string {
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
  const ns = CLUSTER_SCOPED.has(o.kind) ? '' : (o.metadata.namespace ?? namespace ?? '');
  return `${group}/${o.kind}/${ns}/${o.metadata.name}`;
}

/**
 * Strips what the server owns (status, uid, resourceVersion, managedFields, timestamps)
 * so the result can be sent back with a replace (PUT) and compared between versions.
 */
export function restorable(o: KubeObject): KubeObject {
  const copy = structuredClone(o) as KubeObject & { status?: unknown };
  delete copy.status;
  const m = copy.metadata as Record<string, unknown>;
  for (const field of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds']) delete m[field];
  return copy;
}

/**
 * What a user means by "the same object": spec-like content plus labels and annotations,
 * without server-managed fields and without the annotations the controllers keep for
 * themselves (a Deployment's revision counter) or Gantry's own traceability metadata.
 */
export function comparable(o: KubeObject): Record<string, unknown> {
  const copy = restorable(o) as unknown as Record<string, unknown>;
  const meta = copy.metadata as KubeObject['metadata'];
  const clean = (map: Record<string, string> | undefined): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(map ?? {})) {
      if (k.startsWith(GANTRY_PREFIX) || k === 'deployment.kubernetes.io/revision' || k === 'kubectl.kubernetes.io/last-applied-configuration') continue;
      out[k] = v;
    }
    return out;
  };
  copy.metadata = { name: meta.name, namespace: meta.namespace, labels: clean(meta.labels), annotations: clean(meta.annotations) };
  return sortKeys(copy) as Record<string, unknown>;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as Record<string, unknown>).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

export function sameContent(a: KubeObject, b: KubeObject): boolean {
  return JSON.stringify(comparable(a)) === JSON.stringify(comparable(b));
}

/** Below this many objects of one kind in one namespace, a GET each is cheaper than listing them all. */
const LIST_FROM = 20;

/**
 * The live versions of the given objects: one LIST per kind and namespace where a set has
 * many of a kind (1,000 ConfigMaps are one request, not 1,000), a GET each otherwise, and
 * GETs again where listing is not allowed.
 */
export async function liveObjects(client: KubeClient, desired: KubeObject[], namespace: string): Promise<KubeObject[]> {
  const groups = new Map<string, KubeObject[]>();
  for (const o of desired) {
    const key = `${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? namespace}`;
    groups.set(key, [...(groups.get(key) ?? []), o]);
  }
  const found = await Promise.all([...groups.values()].map(async (group) => {
    if (group.length < LIST_FROM) return client.getObjects(group);
    const first = group[0]!;
    const names = new Set(group.map((o) => o.metadata.name));
    try {
      const listed = await client.list(first.apiVersion, first.kind, first.metadata.namespace ?? namespace);
      return listed.items.filter((o) => names.has(o.metadata.name));
    } catch {
      return client.getObjects(group);
    }
  }));
  return found.flat();
}

/** Reads the live state of every desired object. */
export async function takeSnapshot(client: KubeClient, desired: KubeObject[], namespace: string): Promise<Snapshot> {
  const live = await liveObjects(client, desired, namespace);
  const liveIds = new Set(live.map((o) => identity(o, namespace)));
  return {
    existing: live.map(restorable),
    created: desired.filter((o) => !liveIds.has(identity(o, namespace))).map((o) => refOf(o) as KubeObject),
  };
}

/**
 * Which desired objects differ from the snapshot, judged on the server's dry-run result
 * (so defaults do not count as changes). New objects always count.
 */
export function changedObjects(snapshot: Snapshot, dryRun: KubeObject[], namespace: string): KubeObject[] {
  const before = new Map(snapshot.existing.map((o) => [identity(o, namespace), o]));
  return dryRun.filter((o) => {
    const old = before.get(identity(o, namespace));
    return !old || !sameContent(old, o);
  });
}

/**
 * Puts the target back: existing objects are replaced with their snapshot (fields the
 * failed deploy added disappear, because replace sends the whole object), created ones
 * are deleted. A snapshot object deleted meanwhile is created again.
 */
export async function restoreSnapshot(client: KubeClient, snapshot: Snapshot): Promise<{ restored: number; deleted: number }> {
  const problems: string[] = [];
  let pending = snapshot.existing;
  // A controller may write an object between our read and our replace (a conflict): read it again and retry.
  for (let attempt = 0; pending.length > 0; attempt++) {
    const live = await client.getObjects(pending);
    const liveById = new Map(live.map((o) => [identity(o), o]));
    // The live resourceVersion goes with each replace: custom resources refuse an update without one.
    const toReplace = pending.filter((o) => liveById.has(identity(o)))
      .map((o) => ({ ...o, metadata: { ...o.metadata, resourceVersion: liveById.get(identity(o))!.metadata.resourceVersion } }));
    const toCreate = pending.filter((o) => !liveById.has(identity(o)));
    const replaced = await client.replace(toReplace);
    const conflicts = replaced.problems.filter((p) => p.reason === 'Conflict' && p.index !== undefined);
    const others = replaced.problems.filter((p) => !conflicts.includes(p));
    if (others.length > 0) problems.push(describeProblems(others));
    if (conflicts.length > 0 && attempt < 5) {
      pending = conflicts.map((p) => toReplace[p.index!]!).map((o) => snapshot.existing.find((e) => identity(e) === identity(o))!);
    } else {
      if (conflicts.length > 0) problems.push(describeProblems(conflicts));
      pending = [];
    }
    const created = await client.create(toCreate);
    if (!created.ok) problems.push(describeProblems(created.problems));
  }
  const deleted = await client.delete(snapshot.created);
  if (!deleted.ok) problems.push(describeProblems(deleted.problems));
  if (problems.length > 0) {
    throw new GantryError(`Could not restore the snapshot: ${problems.join('; ')}`, {
      title: 'Rollback failed',
      hint: 'The rollout record still holds the snapshot; fix the cause and run `gantry rollback` or re-run the job to retry the restore.',
    });
  }
  return { restored: snapshot.existing.length, deleted: snapshot.created.length };
}

/** Snapshots travel inside a Secret: gzip keeps a 1,000-object snapshot well under the 1 MiB limit. */
export function encodeObjects(objects: KubeObject[]): string {
  return gzipSync(JSON.stringify(objects)).toString('base64');
}

export function decodeObjects(data: string): KubeObject[] {
  return JSON.parse(gunzipSync(Buffer.from(data, 'base64')).toString('utf8')) as KubeObject[];
}
