// What a merge would do to the objects in the cluster: which it creates, which fields of
// existing ones it changes, and what a YAML diff of each looks like. Changes are judged on
// the server's dry-run result against the live object, both without what the server owns
// (status, resourceVersion, managedFields, …) and without Gantry's per-run trace, so
// defaults, other managers' fields and a new run URL are no change.
import { createTwoFilesPatch } from 'diff';
import { stringify } from 'yaml';
import type { KubeObject } from './client.js';
import { isMapping } from './yaml-documents.js';
import { comparable, displayName, identity } from './snapshot.js';

export interface FieldChange {
  /** Where, as users read it: `spec.template.spec.containers[app].image`, `metadata.labels["app.kubernetes.io/version"]`. */
  path: string;
  op: 'add' | 'remove' | 'replace';
  before?: unknown;
  after?: unknown;
}

export interface ObjectDiff {
  action: 'create' | 'change';
  /** `Deployment/web`, with the namespace when it is not the target's. */
  name: string;
  /** Only for `change`: the fields that differ, Secret values hidden. */
  fields: FieldChange[];
  /** The live object it was compared with, when that has another name (blue-green's `web-r3` for `web`). */
  liveAs?: string;
  /** A unified diff of the object as YAML (for `create`, all of it as added lines); Secret values hidden. */
  text: string;
}

/** How the live object is compared: with the server's dry-run result, or (no dry run allowed) only on the fields the manifest sets. */
export type Comparison = { dryRun: KubeObject } | { manifestFieldsOnly: true };

const HIDDEN = '***';

/** `.name` where a key is a plain word, `["app.kubernetes.io/name"]` where it is not. */
function keyPath(base: string, key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${base ? `${base}.` : ''}${key}` : `${base}[${JSON.stringify(key)}]`;
}

/** Lists whose items are mappings with a unique `name` (containers, env, ports, volumes) are matched by name, as Kubernetes merges them. */
function namedItems(list: unknown[]): Map<string, unknown> | undefined {
  const byName = new Map<string, unknown>();
  for (const item of list) {
    if (!isMapping(item) || typeof item.name !== 'string' || byName.has(item.name)) return undefined;
    byName.set(item.name, item);
  }
  return byName;
}

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Every field that differs between two JSON values, deepest first where it can say so. */
export function fieldChanges(before: unknown, after: unknown, path = ''): FieldChange[] {
  if (equal(before, after)) return [];
  if (isMapping(before) && isMapping(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => {
      const at = keyPath(path, k);
      if (!(k in after)) return [{ path: at, op: 'remove' as const, before: before[k] }];
      if (!(k in before)) return [{ path: at, op: 'add' as const, after: after[k] }];
      return fieldChanges(before[k], after[k], at);
    });
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const a = namedItems(before);
    const b = namedItems(after);
    if (a && b && (a.size > 0 || b.size > 0)) {
      const names = [...a.keys(), ...[...b.keys()].filter((n) => !a.has(n))];
      return names.flatMap((n) => {
        const at = `${path}[${n}]`;
        if (!b.has(n)) return [{ path: at, op: 'remove' as const, before: a.get(n) }];
        if (!a.has(n)) return [{ path: at, op: 'add' as const, after: b.get(n) }];
        return fieldChanges(a.get(n), b.get(n), at);
      });
    }
    // A list of scalars (args, ports of a NetworkPolicy) reads best as one value.
    if (before.length !== after.length || !before.every(isMapping)) return [{ path, op: 'replace', before, after }];
    return before.flatMap((item, i) => fieldChanges(item, after[i], `${path}[${i}]`));
  }
  return [{ path, op: 'replace', before, after }];
}

/**
 * The live object seen only where the manifest says something: what server-side apply
 * would compare when no dry run may show the merged result. Fields only the live object
 * has (defaults, other managers' fields) are left out rather than reported as removed.
 */
export function manifestView(live: unknown, desired: unknown): unknown {
  if (isMapping(live) && isMapping(desired)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(desired)) if (k in live) out[k] = manifestView(live[k], desired[k]);
    return out;
  }
  if (Array.isArray(live) && Array.isArray(desired)) {
    const liveByName = namedItems(live);
    if (liveByName && namedItems(desired)) {
      return desired.map((d) => {
        const l = liveByName.get((d as { name: string }).name);
        return l === undefined ? undefined : manifestView(l, d);
      }).filter((x) => x !== undefined);
    }
    return live.length === desired.length ? live.map((l, i) => manifestView(l, desired[i])) : live;
  }
  return live;
}

/**
 * Secret values never reach a plan, which PR comments make public: as `kubectl diff` does,
 * every value reads `***`, and a changed one `*** (before)` / `*** (after)`.
 */
function hideSecretValues(before: Record<string, unknown> | undefined, after: Record<string, unknown>): void {
  if (after.kind !== 'Secret') return;
  for (const field of ['data', 'stringData']) {
    const a = before && isMapping(before[field]) ? (before[field] as Record<string, unknown>) : undefined;
    const b = isMapping(after[field]) ? (after[field] as Record<string, unknown>) : undefined;
    for (const key of new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])) {
      const changed = !a || !b || !equal(a[key], b[key]);
      if (a && key in a) a[key] = changed ? `${HIDDEN} (before)` : HIDDEN;
      if (b && key in b) b[key] = changed ? `${HIDDEN} (after)` : HIDDEN;
    }
  }
}

/** Empty label and annotation maps are left out of what users read. */
function tidy(o: Record<string, unknown>): Record<string, unknown> {
  const meta = o.metadata as Record<string, unknown> | undefined;
  for (const field of ['labels', 'annotations', 'namespace']) {
    const v = meta?.[field];
    if (v === undefined || (isMapping(v) && Object.keys(v).length === 0)) delete meta?.[field];
  }
  return o;
}

function yaml(o: unknown): string {
  return o === undefined ? '' : stringify(o, { lineWidth: 0 });
}

function unified(name: string, before: unknown, after: unknown): string {
  // The `Index:`/`===` lines say nothing a reader of one object's diff needs.
  const patch = createTwoFilesPatch(name, name, yaml(before), yaml(after), 'live', 'after merge', { context: 3 });
  return patch.split('\n').filter((l) => !/^={5,}$/.test(l) && !l.startsWith('Index: ')).join('\n').trimEnd();
}

/**
 * The diff of one desired object against its live version (undefined: it does not exist),
 * or undefined when the merge would change nothing in it.
 */
export function objectDiff(desired: KubeObject, live: KubeObject | undefined, comparison: Comparison, namespace: string): ObjectDiff | undefined {
  const name = displayName(desired, namespace);
  if (!live) {
    // What the manifest says, not the server's defaulted copy: that is what the author wrote.
    const after = tidy(comparable(desired));
    hideSecretValues(undefined, after);
    return { action: 'create', name, fields: [], text: unified(name, undefined, after) };
  }
  const target = 'dryRun' in comparison ? comparison.dryRun : desired;
  const after = tidy(comparable(target));
  const before = tidy('dryRun' in comparison ? comparable(live) : (manifestView(comparable(live), after) as Record<string, unknown>));
  // Hiding keeps every change visible: a changed value reads differently before and after.
  hideSecretValues(before, after);
  const fields = fieldChanges(before, after);
  if (fields.length === 0) return undefined;
  return { action: 'change', name, fields, text: unified(name, before, after) };
}

/** The objects of `previous` (the last deployed revision) that `desired` no longer has. */
export function droppedObjects(previous: KubeObject[], desired: KubeObject[], namespace: string): KubeObject[] {
  const kept = new Set(desired.map((o) => identity(o, namespace)));
  return previous.filter((o) => !kept.has(identity(o, namespace)));
}
