// The three things a user asks of the engine — deploy, rollback, status — from one Config
// to an outcome, plus the outputs and job summary they share. Actions and CLI call these.
import { Config } from '../config/deploy.js';
import { GantryError } from '../errors.js';
import { History, Revision } from '../kube/history.js';
import { ApiClient } from '../kube/api-client.js';
import { KubeClient, KubeObject } from '../kube/client.js';
import { Kubectl } from '../kube/kubectl.js';
import { Manifest, addMetadata, loadManifests, substituteImages } from '../kube/manifests.js';
import { identity, sameContent } from '../kube/snapshot.js';
import { IN_PROGRESS, RolloutRecord, RolloutStore } from '../kube/state.js';
import { shorthandGates, shorthandPlacement, type GateSpecs, type ProgressiveConfig, type RouterKind } from '../config/progressive.js';
import type { Router } from '../traffic/router.js';
import { blueGreenDeliver } from './blue-green.js';
import { canaryDeliver } from './canary.js';
import { control, progressOf } from './control.js';
import { appDeployment, appService, oneSide, versionOf, type DeploymentLike, type GateRunner } from './progressive.js';
import { defaultProgressiveDeps } from './wiring.js';
import { Reporter } from '../report/reporter.js';
import { readSummaryData, renderErrorSummary, renderSummary } from '../report/summary.js';
import { Engine, REVISION_ANNOTATION, RolloutOutcome, inNamespace, pickRevision, readStatus, recoverInterrupted, rollout } from './basic.js';
import { Clock } from '../kube/wait.js';
import { Tools, prependPath } from '../shared/tools.js';

export interface Runtime {
  client: KubeClient;
  /** kubectl, for rendering kustomizations only; built from the config when absent. */
  kubectl?: Kubectl;
  /** Where kubectl and helm come from (installed when absent); built from the config when absent, with PATH for this process only. */
  tools?: Tools;
  reporter: Reporter;
  clock?: Clock;
  pollMs?: number;
  onRecorded?: (record: RolloutRecord) => void;
  /** Gates and routers for progressive rollouts; the real ones (checks/, traffic/) when absent. */
  progressive?: ProgressiveDeps;
}

function progressiveDeps(runtime: Runtime, config: Config): ProgressiveDeps {
  const { prometheus } = config.progressive;
  // Credentials of Prometheus are as secret as the kubeconfig: never in a log line.
  for (const secret of [prometheus?.bearerToken, prometheus?.password]) if (secret) runtime.reporter.setSecret(secret);
  return runtime.progressive ?? defaultProgressiveDeps(runtime.client, config.target.namespace, runtime.reporter, runtime.clock, { prometheus, workspace: config.workspace });
}

/**
 * The gates of each point of the rollout, with the shorthand settings expanded into the same
 * gates, placed where the strategy runs them. A smoke path needs the app Service's port,
 * which only the manifests know.
 */
export function gatesWithShorthand(config: Config, objects: KubeObject[]): Pick<ProgressiveConfig, 'prePromotion' | 'postPromotion' | 'analysis'> {
  const p = config.progressive;
  const lists = { 'pre-promotion': [...p.prePromotion], 'post-promotion': [...p.postPromotion], background: [...p.analysis] };
  const s = p.shorthand;
  if (s.smokeUrl !== undefined || s.maxErrorRate !== undefined || s.maxP95LatencyMs !== undefined) {
    let port: number | string | undefined;
    if (s.smokeUrl?.startsWith('/')) {
      try {
        port = appService(objects, appDeployment(objects, config.target.app), p.service).spec.ports?.[0]?.port;
      } catch (err) {
        throw new GantryError(`input "smoke-url" is a path (${s.smokeUrl}), which goes to the app's Service; ${err instanceof Error ? err.message : String(err)}`, { title: 'Invalid input', hint: 'Give a full URL instead, or add the Service to the manifests.' });
      }
      if (port === undefined) throw new GantryError(`input "smoke-url" is a path, and the app's Service has no port`, { title: 'Invalid input' });
    }
    const placement = shorthandPlacement(p.strategy);
    for (const gate of shorthandGates(s, port, p.prometheus?.url)) lists[gate.check.kind === 'http' ? placement.smoke : placement.metrics].push(gate);
  }
  return { prePromotion: lists['pre-promotion'], postPromotion: lists['post-promotion'], analysis: lists.background };
}

/** The API client for the configured kubeconfig and context. */
export function clientFor(config: Config): KubeClient {
  return ApiClient.fromConfig({ kubeconfig: config.kubectl.kubeconfig, context: config.kubectl.context });
}

export function engineFor(config: Config, runtime: Runtime): Engine {
  return {
    client: runtime.client,
    reporter: runtime.reporter,
    target: config.target,
    holder: { id: config.run.id, runUrl: config.run.runUrl },
    commit: config.run.commit,
    timeoutMs: config.timeoutMs,
    lockTtlMs: config.lockTtlMs,
    historyLimit: config.historyLimit,
    rollbackOnFailure: config.rollbackOnFailure,
    clock: runtime.clock,
    pollMs: runtime.pollMs,
    onRecorded: runtime.onRecorded,
  };
}

/** Gantry's traceability metadata for one revision. */
export function trace(config: Config, revision: number, extra: Record<string, string> = {}): { labels: Record<string, string>; annotations: Record<string, string> } {
  const annotations: Record<string, string> = { [REVISION_ANNOTATION]: String(revision), 'gantry.dev/run-url': config.run.runUrl, ...extra };
  if (config.run.commit) annotations['gantry.dev/commit'] = config.run.commit;
  return { labels: { 'app.kubernetes.io/managed-by': 'gantry' }, annotations };
}

/** The run's kubectl and helm: the runtime's, or found (and installed) as the config says. */
export function toolsFor(config: Config, runtime: Runtime): Tools {
  return runtime.tools ?? new Tools({ kubectl: config.kubectl, helm: config.helm }, { info: (line) => runtime.reporter.info(line), addPath: prependPath });
}

/** Loads and transforms the manifests; every problem in every file is reported before the cluster is touched. */
export async function prepareManifests(config: Config, runtime: Runtime): Promise<Manifest[]> {
  const tools = toolsFor(config, runtime);
  return runtime.reporter.group(`Load manifests from ${config.manifests.join(', ')}`, async () => {
    const manifests = await loadManifests({
      workspace: config.workspace,
      paths: config.manifests,
      // Located when a kustomization or a chart needs them: plain YAML needs neither tool.
      kubectl: runtime.kubectl ?? new Kubectl({ binary: tools.locator('kubectl') }),
      namespace: config.target.namespace,
      helm: { binary: tools.locator('helm'), releaseName: config.helm.releaseName, namespace: config.target.namespace, valuesFiles: config.helm.valuesFiles, set: config.helm.set },
    });
    const changes = substituteImages(manifests, config.images);
    for (const c of changes) runtime.reporter.info(`image ${c.kind}/${c.name} ${c.container}: ${c.from} → ${c.to}`);
    runtime.reporter.info(`${manifests.length} objects loaded`);
    return manifests;
  });
}

/** The gates and routers a progressive rollout uses; tests pass their own. */
export interface ProgressiveDeps {
  gates: GateRunner;
  routerFor: (progress: { router: RouterKind }) => Router;
}

/**
 * Replicas an HorizontalPodAutoscaler in the set owns are left to it: applying the
 * manifest's count would scale the workload back on every deploy, fighting the HPA.
 */
export function leaveReplicasToAutoscalers(manifests: Manifest[], reporter: Reporter): void {
  const scaled = new Set(manifests.map((m) => m.object).filter((o) => o.kind === 'HorizontalPodAutoscaler')
    .map((o) => (o.spec as { scaleTargetRef?: { kind?: string; name?: string } } | undefined)?.scaleTargetRef)
    .filter((r): r is { kind: string; name: string } => !!r?.kind && !!r.name).map((r) => `${r.kind}/${r.name}`));
  for (const { object } of manifests) {
    const spec = object.spec as { replicas?: number } | undefined;
    if (!scaled.has(`${object.kind}/${object.metadata.name}`) || spec?.replicas === undefined) continue;
    delete spec.replicas;
    reporter.info(`${object.kind}/${object.metadata.name}: replicas left to its HorizontalPodAutoscaler`);
  }
}

export async function deploy(config: Config, runtime: Runtime): Promise<RolloutOutcome> {
  const tools = toolsFor(config, runtime);
  if (config.kubectl.version !== undefined || config.helm.version !== undefined) await runtime.reporter.group('Install pinned tools', () => tools.installPinned());
  const manifests = await prepareManifests(config, { ...runtime, tools });
  leaveReplicasToAutoscalers(manifests, runtime.reporter);
  const engine = engineFor(config, runtime);
  const p = config.progressive;
  const deps = progressiveDeps(runtime, config);
  // A progressive rollout already in progress is resumed when this is the same set (a re-run
  // after the runner died), and refuses any other deploy until it is promoted or aborted.
  const stored = await new RolloutStore(runtime.client, config.target).read();
  const progress = progressOf(stored?.record);
  if (stored && progress && IN_PROGRESS.includes(stored.record.phase)) {
    addMetadata(manifests, trace(config, stored.record.revision), { podTemplates: false });
    const desired = inNamespace(manifests.map((m) => m.object), config.target.namespace);
    if (!sameSet(progress.objects, desired, config.target.namespace)) {
      throw new GantryError(`${config.target.namespace}/${config.target.app} has a ${progress.kind} rollout in progress: r${stored.record.revision} is ${stored.record.phase}${progress.kind === 'canary' ? ` at step ${progress.step + 1}/${progress.steps.length} with ${progress.weight} % of traffic` : ''}`, {
        title: 'Rollout in progress',
        hint: 'Promote it (the promote action, or `gantry promote`) or abort it (the abort action, or `gantry abort`) before deploying something else.',
      });
    }
    runtime.reporter.info(`resuming r${stored.record.revision}: the same set is already being rolled out (${progress.kind}, ${stored.record.phase})`);
    const resumed = await control(engine, 'resume', deps);
    if (resumed) return resumed;
  }
  engine.strategy = p.strategy;
  const gates = gatesWithShorthand(config, manifests.map((m) => m.object));
  if (p.strategy === 'canary') {
    engine.deliver = canaryDeliver({ router: deps.routerFor({ router: p.router }), gates: deps.gates, routerKind: p.router, route: p.route, service: p.service, steps: p.steps, analysis: gates.analysis });
  } else if (p.strategy === 'blue-green') {
    engine.deliver = blueGreenDeliver({ gates: deps.gates, service: p.service, prePromotion: gates.prePromotion, postPromotion: gates.postPromotion, scaleDownDelayMs: p.scaleDownDelayMs });
  } else if (gates.postPromotion.length > 0) {
    engine.afterReady = basicGates(config, manifests.map((m) => m.object), deps.gates, gates.postPromotion, runtime.reporter);
  }
  return rollout(engine, (revision) => {
    // Per-run trace on the objects only: on pod templates it would restart every pod on every
    // deploy, even when nothing else changed. ReplicaSets copy it from their Deployment.
    addMetadata(manifests, trace(config, revision), { podTemplates: false });
    const locations = new Map(manifests.map((m) => [identity(m.object, config.target.namespace), { file: m.file, line: m.line }]));
    return { objects: manifests.map((m) => m.object), locations };
  });
}

/** The basic strategy's gates, once the new version is ready: every role is the app's one Deployment and Service. */
function basicGates(config: Config, objects: KubeObject[], runner: GateRunner, specs: GateSpecs, reporter: Reporter): NonNullable<Engine['afterReady']> {
  const deployments = objects.filter((o) => o.kind === 'Deployment') as DeploymentLike[];
  const deployment = deployments.find((d) => d.metadata.name === config.target.app) ?? (deployments.length === 1 ? deployments[0] : undefined);
  let service: string | undefined;
  try {
    service = deployment ? appService(objects, deployment, config.progressive.service).metadata.name : undefined;
  } catch {
    service = undefined; // gates that name a Service say so when they run
  }
  return async (_live, record) => {
    const verdict = await reporter.group(`Analysis (${specs.length} gate${specs.length === 1 ? '' : 's'}, after the rollout)`, () => runner.run(specs, oneSide(service, deployment?.metadata.name, versionOf(deployment))));
    record(verdict.verdicts);
    return verdict.passed ? undefined : `analysis failed: ${verdict.reason ?? 'a gate failed'}`;
  };
}

/**
 * Restores the target. An unfinished rollout (a dead run's) is undone from its snapshot;
 * otherwise the last good revision from the history (or `--revision`) is redeployed and
 * objects the current revision added are removed.
 */
export async function rollback(config: Config, runtime: Runtime): Promise<RolloutOutcome> {
  const engine = engineFor(config, runtime);
  const recovered = await recoverInterrupted(engine, { anyHolder: true });
  if (recovered) return recovered;
  const outcome = await redeploy(config, runtime, engine);
  // For a rollback, success is the old revision running again; a redeploy that itself failed
  // was undone, which leaves the target where it was: not rolled back.
  return { ...outcome, result: outcome.result === 'deployed' ? 'rolled-back' : 'failed' };
}

async function redeploy(config: Config, runtime: Runtime, engine: Engine): Promise<RolloutOutcome> {
  const revisions = await new History(runtime.client, config.target, config.historyLimit).list();
  const { target, current } = pickRevision(revisions, config.toRevision);
  runtime.reporter.info(`rolling ${config.target.namespace}/${config.target.app} back from r${current?.revision ?? '?'} to r${target.revision}${target.commit ? ` (commit ${target.commit.slice(0, 12)})` : ''}, deployed ${target.deployedAt} by ${target.runUrl}`);
  return rollout(engine, (revision) => {
    const objects = structuredClone(target.objects);
    const manifests: Manifest[] = objects.map((object) => ({ object, file: `revision ${target.revision}`, line: 1 }));
    addMetadata(manifests, trace(config, revision, { 'gantry.dev/rollback-of': String(target.revision) }), { podTemplates: false });
    const keep = new Set(objects.map((o) => identity(o, config.target.namespace)));
    const prune = (current?.objects ?? []).filter((o: KubeObject) => !keep.has(identity(o, config.target.namespace)));
    return { objects, prune, rollbackOf: target.revision };
  });
}

export interface StatusReport {
  record?: RolloutRecord;
  revisions: Revision[];
}

export async function status(config: Config, runtime: Runtime): Promise<StatusReport> {
  const report = await readStatus(runtime.client, config.target, config.historyLimit);
  const { reporter } = runtime;
  const { record, revisions } = report;
  reporter.info(`target ${config.target.namespace}/${config.target.app}`);
  if (record) {
    reporter.info(`last rollout: r${record.revision} ${record.phase} (${record.strategy}, started ${record.startedAt} by ${record.holder.runUrl})${record.reason ? `\n  reason: ${record.reason.split('\n')[0]}` : ''}`);
  } else {
    reporter.info('last rollout: none recorded');
  }
  const progress = progressOf(record);
  if (progress?.kind === 'canary') {
    reporter.info(`  canary ${progress.canary} beside ${progress.stable}: ${progress.step}/${progress.steps.length} steps done, weight ${progress.weight} % (effective ${progress.effectiveWeight} %), router ${progress.router}${progress.route ? ` (HTTPRoute ${progress.route})` : ''}`);
    reporter.setOutput('weight', String(progress.weight));
  } else if (progress?.kind === 'blue-green') {
    reporter.info(`  blue-green: ${progress.switched ? `Service ${progress.service} on ${progress.next.deployment}` : `Service ${progress.service} on ${progress.previous?.deployment ?? 'nothing yet'}, ${progress.next.deployment} in preview (${progress.preview})`}`);
  }
  for (const v of progress?.verdicts ?? []) reporter.info(`  gate ${v.gate}: ${v.status}${v.value !== undefined ? ` (${v.value})` : ''} — ${v.message}`);
  if (revisions.length === 0) reporter.info('revisions: none');
  for (const r of revisions) {
    reporter.info(`  r${r.revision}  ${r.deployedAt}  ${r.commit ? r.commit.slice(0, 12) : '-'}  ${Object.values(r.images).map((i) => r.digests?.[i] ?? i).join(' ') || '-'}${r.rollbackOf ? `  (rollback to r${r.rollbackOf})` : ''}`);
  }
  reporter.setOutput('revision', revisions[0] ? String(revisions[0].revision) : '');
  reporter.setOutput('phase', record?.phase ?? '');
  return report;
}

/** Degraded: the last rollout failed, or was rolled back or aborted (the target runs an older version than the one last deployed). */
export function statusError(report: StatusReport): GantryError | undefined {
  const record = report.record;
  if (!record || !['failed', 'rolled-back', 'aborted'].includes(record.phase)) return undefined;
  return new GantryError(`The last rollout of ${record.namespace}/${record.app}, r${record.revision} (${record.strategy}), is ${record.phase}${record.reason ? `: ${record.reason.split('\n')[0]}` : ''}`, {
    title: 'Degraded',
    hint: record.phase === 'failed' ? 'Check the workloads; the rollback action restores the last good revision.' : 'The previous version serves; deploy a fixed version.',
  });
}

/** Whether two sets hold the same objects with the same content (Gantry's per-run trace aside). */
function sameSet(a: KubeObject[], b: KubeObject[], namespace: string): boolean {
  if (a.length !== b.length) return false;
  const byId = new Map(a.map((o) => [identity(o, namespace), o]));
  return b.every((o) => {
    const other = byId.get(identity(o, namespace));
    return other !== undefined && sameContent(other, o);
  });
}

/** Promote or abort the progressive rollout in progress, from this run. */
export async function promote(config: Config, runtime: Runtime): Promise<RolloutOutcome> {
  return (await control(engineFor(config, runtime), 'promote', progressiveDeps(runtime, config), { full: config.full, anyHolder: true }))!;
}

export async function abort(config: Config, runtime: Runtime): Promise<RolloutOutcome> {
  return (await control(engineFor(config, runtime), 'abort', progressiveDeps(runtime, config), { anyHolder: true }))!;
}

/** Where the summary gets what the outcome does not carry; without a client it shows the outcome alone. */
export interface SummarySources {
  /** Reads the rollout's timeline and the target's ledger. */
  client?: KubeClient;
  /** Default the `environment-url` input. */
  environmentUrl?: string;
  /** Default now. */
  now?: number;
}

/** Outputs and job summary of a finished rollout; the same for deploy, promote, abort and rollback. */
export async function reportOutcome(reporter: Reporter, config: Config, outcome: RolloutOutcome, sources: SummarySources = {}): Promise<void> {
  reporter.setOutput('result', outcome.result);
  reporter.setOutput('revision', outcome.revision === undefined ? '' : String(outcome.revision));
  reporter.setOutput('previous-revision', outcome.previousRevision === undefined ? '' : String(outcome.previousRevision));
  reporter.setOutput('changed', String(outcome.changed.length));
  reporter.setOutput('changed-objects', outcome.changed.join('\n'));
  let data: Awaited<ReturnType<typeof readSummaryData>> | undefined;
  try {
    data = sources.client ? await readSummaryData(sources.client, config.target, outcome.revision) : undefined;
  } catch (err) {
    // The summary is a report: a cluster that cannot be read now leaves out the timeline and metrics, not the outcome.
    reporter.warning(`the summary leaves out the timeline and delivery metrics: ${err instanceof Error ? err.message : String(err)}`);
  }
  await reporter.summary(renderSummary({
    command: config.command, target: config.target, outcome, record: data?.record, ledger: data?.ledger, now: sources.now ?? Date.now(),
    runUrl: config.run.runUrl, environmentUrl: sources.environmentUrl ?? config.report.environmentUrl,
  }));
}

/** The summary of a run that failed before its rollout had an outcome. */
export async function reportError(reporter: Reporter, config: Config, err: unknown): Promise<void> {
  const message = err instanceof Error ? err.message : String(err);
  await reporter.summary(renderErrorSummary({ command: config.command, target: config.target, message, runUrl: config.run.runUrl }));
}

/** A rollback that did not restore the target fails the step. */
export function rollbackError(outcome: RolloutOutcome): GantryError | undefined {
  if (outcome.result === 'rolled-back') return undefined;
  return new GantryError(`The rollback failed: ${outcome.reason ?? 'unknown reason'}`, {
    title: 'Rollback failed',
    hint: 'Check `gantry status`; the target runs whatever it ran before the rollback was attempted.',
  });
}

/** A rollout that did not deploy fails the step, with the reason users need. */
export function outcomeError(outcome: RolloutOutcome, success: readonly RolloutOutcome['result'][] = ['deployed', 'paused']): GantryError | undefined {
  if (success.includes(outcome.result)) return undefined;
  const what = outcome.result === 'rolled-back' ? 'The rollout failed and was rolled back' : 'The rollout failed';
  return new GantryError(`${what}: ${outcome.reason ?? 'unknown reason'}`, {
    title: outcome.result === 'rolled-back' ? 'Rolled back' : 'Deploy failed',
    hint: outcome.result === 'rolled-back'
      ? 'The target runs the previous version again. Fix the cause shown above and deploy again.'
      : 'The target may not be healthy. Check `gantry status` and run the rollback action.',
  });
}
