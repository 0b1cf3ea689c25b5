// Applying a set of objects in the order the cluster needs: namespaces and CRDs first (and
// the CRDs waited for until Established), then what pods consume (ServiceAccounts,
// Secrets, ConfigMaps, claims, RBAC), then the rest. Each wave goes out in parallel.
import { BatchResult, KubeClient, KubeObject, ObjectProblem } from './client.js';
import { watchUntil } from './watch-until.js';

/** Kinds that must exist before anything else can be created in or of them. */
const FOUNDATION = new Set(['Namespace', 'CustomResourceDefinition']);

/** Kinds pods and controllers read: applied before the workloads, so a pod never starts before its Secret exists. */
const PREREQUISITES = new Set([
  'PriorityClass', 'StorageClass', 'ResourceQuota', 'LimitRange', 'PodSecurityPolicy', 'PodDisruptionBudget',
  'ServiceAccount', 'Secret', 'SecretList', 'ConfigMap', 'PersistentVolume', 'PersistentVolumeClaim',
  'ClusterRole', 'ClusterRoleList', 'ClusterRoleBinding', 'ClusterRoleBindingList', 'Role', 'RoleList', 'RoleBinding', 'RoleBindingList',
  'IngressClass', 'RuntimeClass',
]);

/** The waves of a set, in apply order; empty waves are left out. */
export function applyWaves(objects: KubeObject[]): KubeObject[][] {
  const waves: KubeObject[][] = [[], [], []];
  for (const o of objects) waves[FOUNDATION.has(o.kind) ? 0 : PREREQUISITES.has(o.kind) ? 1 : 2]!.push(o);
  return waves.filter((w) => w.length > 0);
}

/** The group and kind a CRD defines. */
function definedKind(crd: KubeObject): { group?: string; kind?: string } {
  const spec = crd.spec as { group?: string; names?: { kind?: string } } | undefined;
  return { group: spec?.group, kind: spec?.names?.kind };
}

/** Whether an object is a custom resource whose CRD is in the same set. */
export function definedBySet(o: KubeObject, objects: KubeObject[]): boolean {
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
  return objects.some((c) => c.kind === 'CustomResourceDefinition' && definedKind(c).group === group && definedKind(c).kind === o.kind);
}

/** A dry-run complaint that only says the kind is unknown, about a custom resource whose CRD this very set installs. */
export function forNewCrd(problem: ObjectProblem, objects: KubeObject[]): boolean {
  const o = problem.index === undefined ? undefined : objects[problem.index];
  return o !== undefined && problem.code === 404 && /no matches for kind/.test(problem.message) && definedBySet(o, objects);
}

/** Waits until every CRD is Established (its kinds are served), from a watch of the CRDs. */
export async function crdsEstablished(client: KubeClient, crds: KubeObject[], timeoutMs: number): Promise<string | undefined> {
  if (crds.length === 0) return undefined;
  const names = new Set(crds.map((c) => c.metadata.name));
  const late = await watchUntil(client, { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', namespace: '' }, (items) => {
    const pending = [...names].filter((name) => {
      const conditions = (items.find((o) => o.metadata.name === name)?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];
      return !conditions.some((c) => c.type === 'Established' && c.status === 'True');
    });
    return pending.length > 0 ? pending.join(', ') : undefined;
  }, timeoutMs);
  return late === undefined ? undefined : `CustomResourceDefinition ${late} not Established after ${Math.round(timeoutMs / 1000)} s`;
}

export interface SetApplyResult extends BatchResult {
  /** What was applied before the failure, for the log. */
  appliedCount: number;
}

/**
 * Applies the set wave by wave. Objects the dry run could not check (custom resources of a
 * CRD in the set) are checked with a dry run once the CRDs are Established, before
 * anything that depends on them is written.
 */
export async function applySet(client: KubeClient, objects: KubeObject[], options: { timeoutMs: number; deferred?: KubeObject[] }): Promise<SetApplyResult> {
  const all: KubeObject[] = [];
  let appliedCount = 0;
  for (const wave of applyWaves(objects)) {
    const result = await client.apply(wave);
    if (!result.ok) return { ...result, objects: [...all, ...result.objects], appliedCount: appliedCount + result.objects.length };
    all.push(...result.objects);
    appliedCount += result.objects.length;
    const crds = wave.filter((o) => o.kind === 'CustomResourceDefinition');
    if (crds.length > 0) {
      const late = await crdsEstablished(client, crds, options.timeoutMs);
      if (late) return { ok: false, objects: all, problems: [{ message: late }], appliedCount };
    }
    if (wave.some((o) => FOUNDATION.has(o.kind)) && options.deferred?.length) {
      const check = await client.apply(options.deferred, { dryRun: true });
      if (!check.ok) return { ok: false, objects: all, problems: check.problems.map((p) => ({ ...p, index: undefined })), appliedCount };
    }
  }
  return { ok: true, objects: all, problems: [], appliedCount };
}
