// The plan: what merging a change would do, without doing it. The manifests are rendered
// and checked exactly as a deploy renders and checks them; with a cluster the whole set goes
// through one server-side dry run and each object is diffed against its live version; the
// rollout's strategy, steps and gates come from the same config the deploy would run.
import type { PlanConfig } from '../config/plan.js';
import type { CanaryStep, GateSpecs, RouterKind, Strategy } from '../config/progressive.js';
import { ErrorLocation, GantryError } from '../errors.js';
import { forNewCrd } from '../kube/apply.js';
import { KubeApiError, type BatchResult, type KubeClient, type KubeObject, type ObjectProblem } from '../kube/client.js';
import { droppedObjects, objectDiff, type Comparison, type ObjectDiff } from '../kube/diff.js';
import { History, type Revision } from '../kube/history.js';
import { addMetadata } from '../kube/manifests.js';
import { displayName, identity, liveObjects } from '../kube/snapshot.js';
import { IN_PROGRESS, RolloutStore } from '../kube/state.js';
import type { Target } from '../shared/target.js';
import type { Reporter } from '../report/reporter.js';
import { inNamespace, inNewNamespace, namespacesFirst, validationError } from './basic.js';
import { progressOf } from './control.js';
import { REVISION_LABEL } from './progressive.js';
import { gatesWithShorthand, leaveReplicasToAutoscalers, prepareManifests, toolsFor, trace, type Runtime } from './commands.js';

export interface RolloutPlan {
  strategy: Strategy;
  /** canary: the steps in order. */
  steps: CanaryStep[];
  router?: RouterKind;
  route?: string;
  service?: string;
  /** blue-green: how long the old version stays at full scale after the switch. */
  scaleDownDelayMs?: number;
  /** Gates before the switch (blue-green), after it or after the wait (basic), and beside a whole canary. */
  prePromotion: GateSpecs;
  postPromotion: GateSpecs;
  background: GateSpecs;
}

/** A dropped object: in the last deployed revision, no longer in the manifests, still in the cluster. */
export interface DroppedObject {
  name: string;
  /** The revision that last deployed it. */
  revision: number;
}

export type ClusterDiff =
  | {
    status: 'done';
    /** How the server checked the set: a dry run, or none (the credentials may not write) with the diff on the manifest's fields only. */
    validation: 'dry-run' | 'forbidden';
    changes: ObjectDiff[];
    unchanged: number;
    dropped: DroppedObject[];
  }
  | { status: 'skipped'; reason: string };

export interface Plan {
  target: { namespace: string; app: string };
  manifests: string[];
  /** How many objects the manifests rendered to. */
  objects: number;
  diff: ClusterDiff;
  rollout: RolloutPlan;
}

export interface PlanRuntime extends Omit<Runtime, 'client'> {
  /** The cluster to diff against; none when the config says why it is not asked. */
  client?: KubeClient;
}

/**
 * Renders, validates and diffs. Invalid manifests, and objects the server's dry run
 * rejects, throw (one GantryError per problem, at its file:line); a cluster that cannot
 * be asked only skips the diff and says why.
 */
export async function plan(config: PlanConfig, runtime: PlanRuntime): Promise<Plan> {
  const { deploy } = config;
  const { reporter } = runtime;
  // Rendering needs no cluster: toolsFor and prepareManifests read the runtime's reporter, tools and kubectl only.
  const tools = toolsFor(deploy, runtime as Runtime);
  if (deploy.kubectl.version !== undefined || deploy.helm.version !== undefined) await reporter.group('Install pinned tools', () => tools.installPinned());
  const manifests = await prepareManifests(deploy, { ...runtime, tools } as Runtime);
  leaveReplicasToAutoscalers(manifests, reporter);
  const objects = manifests.map((m) => m.object);
  // The shorthand gates need the app's Service: a deploy would refuse the same inputs.
  const gates = gatesWithShorthand(deploy, objects);
  const p = deploy.progressive;
  const rollout: RolloutPlan = {
    strategy: p.strategy,
    steps: p.strategy === 'canary' ? p.steps : [],
    ...(p.strategy === 'canary' ? { router: p.router, ...(p.route ? { route: p.route } : {}) } : {}),
    ...(p.service ? { service: p.service } : {}),
    ...(p.strategy === 'blue-green' ? { scaleDownDelayMs: p.scaleDownDelayMs } : {}),
    prePromotion: gates.prePromotion,
    postPromotion: gates.postPromotion,
    background: gates.analysis,
  };
  const base = { target: deploy.target, manifests: deploy.manifests, objects: objects.length, rollout };

  if (!runtime.client) {
    const reason = config.clusterSkipped ?? 'no cluster was given';
    reporter.info(`diff skipped: ${reason}`);
    return { ...base, diff: { status: 'skipped', reason } };
  }
  const { client } = runtime;
  const namespace = deploy.target.namespace;
  let revisions: Revision[];
  try {
    revisions = await new History(client, deploy.target, deploy.historyLimit).list();
  } catch (err) {
    return { ...base, diff: unreachable(err, reporter) };
  }
  // The trace a deploy would stamp, so the dry run shows what a deploy would leave (the
  // managed-by label included); the per-run annotations are then left out of the diff.
  addMetadata(manifests, trace(deploy, (revisions[0]?.revision ?? 0) + 1), { podTemplates: false });
  const set = namespacesFirst(inNamespace(objects, namespace));
  const locations = new Map(manifests.map((m) => [identity(m.object, namespace), { file: m.file, line: m.line }]));
  const locate = (problem: ObjectProblem): ErrorLocation | undefined => {
    const o = problem.index === undefined ? undefined : set[problem.index];
    return o ? locations.get(identity(o, namespace)) : undefined;
  };

  let dryRun: BatchResult;
  try {
    dryRun = await reporter.group(`Validate ${set.length} objects (server-side dry run)`, () => client.apply(set, { dryRun: true }));
  } catch (err) {
    return { ...base, diff: unreachable(err, reporter) };
  }
  // The server cannot check what goes into a namespace or of a kind this very set creates: those are created.
  const excused = dryRun.problems.filter((pr) => inNewNamespace(pr, set) || forNewCrd(pr, set));
  const forbidden = dryRun.problems.filter((pr) => pr.code === 403 && !excused.includes(pr));
  const blocking = dryRun.problems.filter((pr) => !excused.includes(pr) && !forbidden.includes(pr));
  if (blocking.length > 0 || (!dryRun.ok && dryRun.problems.length === 0)) throw validationError(blocking, set.length, locate);
  if (forbidden.length > 0) reporter.warning(`the server refused the dry run of ${forbidden.length} of ${set.length} objects (${forbidden[0]!.message.split('\n')[0]}); they are diffed on the fields their manifests set, and not validated by the server`);
  else reporter.info(`${set.length - excused.length} objects accepted by the server${excused.length ? `; ${excused.length} go into namespaces or are of kinds the set creates` : ''}`);

  // The batch returns accepted objects in input order; put each back at its index.
  const failed = new Set(dryRun.problems.map((pr) => pr.index));
  const merged: (KubeObject | undefined)[] = [];
  let next = 0;
  set.forEach((_, i) => merged.push(failed.has(i) ? undefined : dryRun.objects[next++]));

  try {
    const live = new Map((await liveObjects(client, set, namespace)).map((o) => [identity(o, namespace), o]));
    const twins = await blueGreenTwins(client, deploy.target, set, live);
    const changes: ObjectDiff[] = [];
    set.forEach((o, i) => {
      const result = merged[i];
      const comparison: Comparison = result ? { dryRun: twins.services.has(o.metadata.name) && o.kind === 'Service' ? unpinned(result) : result } : { manifestFieldsOnly: true };
      const d = objectDiff(o, live.get(identity(o, namespace)), comparison, namespace);
      const liveAs = o.kind === 'Deployment' ? twins.deployments.get(o.metadata.name) : undefined;
      if (d) changes.push(liveAs ? { ...d, liveAs } : d);
    });
    const last = revisions[0];
    const gone = last ? droppedObjects(inNamespace(last.objects, namespace), set, namespace) : [];
    const stillThere = gone.length ? await client.getObjects(gone) : [];
    const dropped = stillThere.map((o) => ({ name: displayName(o, namespace), revision: last!.revision }));
    reporter.info(`diff: ${count(changes, 'create')} to create, ${count(changes, 'change')} to change, ${set.length - changes.length} unchanged${dropped.length ? `, ${dropped.length} dropped from the manifests` : ''}`);
    return { ...base, diff: { status: 'done', validation: forbidden.length ? 'forbidden' : 'dry-run', changes, unchanged: set.length - changes.length, dropped } };
  } catch (err) {
    return { ...base, diff: unreachable(err, reporter) };
  }
}

/**
 * A blue-green target runs the manifests' Deployment as `<name>-r<revision>` and pins the
 * active Service to that revision's pods (strategies/blue-green.ts). The live twin stands in
 * for the Deployment, without its revision label, and the pin is left out on both sides of
 * the Service, so the diff says what the manifests change rather than how blue-green runs them.
 */
async function blueGreenTwins(client: KubeClient, target: Target, set: KubeObject[], live: Map<string, KubeObject>): Promise<{ deployments: Map<string, string>; services: Set<string> }> {
  const none = { deployments: new Map<string, string>(), services: new Set<string>() };
  const record = (await new RolloutStore(client, target).read())?.record;
  const progress = progressOf(record);
  if (!record || progress?.kind !== 'blue-green') return none;
  const onNext = record.phase === 'deployed' || (IN_PROGRESS.includes(record.phase) && progress.switched);
  const active = onNext ? progress.next.deployment : progress.previous?.deployment;
  const desired = set.find((o) => o.kind === 'Deployment' && o.metadata.name === progress.name);
  if (!active || !desired) return none;
  const [twin] = await client.getObjects([{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: active, namespace: target.namespace } }]);
  const service = set.find((o) => o.kind === 'Service' && o.metadata.name === progress.service);
  const liveService = service ? live.get(identity(service, target.namespace)) : undefined;
  if (liveService) live.set(identity(liveService, target.namespace), unpinned(liveService));
  if (!twin || live.has(identity(desired, target.namespace))) return { deployments: new Map(), services: new Set(service ? [service.metadata.name] : []) };
  const untwinned = structuredClone(twin) as KubeObject & { spec?: { selector?: { matchLabels?: Record<string, string> }; template?: { metadata?: { labels?: Record<string, string> } } } };
  untwinned.metadata.name = progress.name;
  for (const labels of [untwinned.metadata.labels, untwinned.spec?.selector?.matchLabels, untwinned.spec?.template?.metadata?.labels]) if (labels) delete labels[REVISION_LABEL];
  live.set(identity(desired, target.namespace), untwinned);
  return { deployments: new Map([[progress.name, active]]), services: new Set(service ? [service.metadata.name] : []) };
}

/** A Service without blue-green's pin of its selector to one revision's pods. */
function unpinned(service: KubeObject): KubeObject {
  const copy = structuredClone(service) as KubeObject & { spec?: { selector?: Record<string, string> } };
  if (copy.spec?.selector) delete copy.spec.selector[REVISION_LABEL];
  return copy;
}

function count(changes: ObjectDiff[], action: ObjectDiff['action']): number {
  return changes.filter((c) => c.action === action).length;
}

/** A cluster that cannot be read (down, refusing the credentials) skips the diff; the plan says so instead of failing the check. */
function unreachable(err: unknown, reporter: Reporter): ClusterDiff {
  if (err instanceof GantryError && !(err instanceof KubeApiError)) throw err;
  const reason = `the cluster could not be read: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  reporter.warning(`diff skipped: ${reason}`);
  return { status: 'skipped', reason };
}
