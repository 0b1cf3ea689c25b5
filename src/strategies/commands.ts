// The three things a user asks of the engine — deploy, rollback, status — from one Config
// to an outcome, plus the outputs and job summary they share. Actions and CLI call these.
import { Config } from '../config/deploy.js';
import { GantryError } from '../errors.js';
import { History, Revision } from '../kube/history.js';
import { ApiClient } from '../kube/api-client.js';
import { KubeClient, KubeObject } from '../kube/client.js';
import { Kubectl } from '../kube/kubectl.js';
import { Manifest, addMetadata, loadManifests, substituteImages } from '../kube/manifests.js';
import { identity } from '../kube/snapshot.js';
import { RolloutRecord } from '../kube/state.js';
import { Reporter } from '../report/reporter.js';
import { Engine, REVISION_ANNOTATION, RolloutOutcome, pickRevision, readStatus, recoverInterrupted, rollout } from './basic.js';
import { Clock } from '../kube/wait.js';

export interface Runtime {
  client: KubeClient;
  /** kubectl, for rendering kustomizations only; built from the config when absent. */
  kubectl?: Kubectl;
  reporter: Reporter;
  clock?: Clock;
  pollMs?: number;
  onRecorded?: (record: RolloutRecord) => void;
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
function trace(config: Config, revision: number, extra: Record<string, string> = {}): { labels: Record<string, string>; annotations: Record<string, string> } {
  const annotations: Record<string, string> = { [REVISION_ANNOTATION]: String(revision), 'gantry.dev/run-url': config.run.runUrl, ...extra };
  if (config.run.commit) annotations['gantry.dev/commit'] = config.run.commit;
  return { labels: { 'app.kubernetes.io/managed-by': 'gantry' }, annotations };
}

/** Loads and transforms the manifests; every problem in every file is reported before the cluster is touched. */
export async function prepareManifests(config: Config, runtime: Runtime): Promise<Manifest[]> {
  return runtime.reporter.group(`Load manifests from ${config.manifests.join(', ')}`, async () => {
    const manifests = await loadManifests({
      workspace: config.workspace,
      paths: config.manifests,
      kubectl: runtime.kubectl ?? new Kubectl({ binary: config.kubectl.binary }),
      namespace: config.target.namespace,
      helm: { binary: config.helm.binary, releaseName: config.helm.releaseName, namespace: config.target.namespace, valuesFiles: config.helm.valuesFiles, set: config.helm.set },
    });
    const changes = substituteImages(manifests, config.images);
    for (const c of changes) runtime.reporter.info(`image ${c.kind}/${c.name} ${c.container}: ${c.from} → ${c.to}`);
    runtime.reporter.info(`${manifests.length} objects loaded`);
    return manifests;
  });
}

export async function deploy(config: Config, runtime: Runtime): Promise<RolloutOutcome> {
  const manifests = await prepareManifests(config, runtime);
  return rollout(engineFor(config, runtime), (revision) => {
    // Per-run trace on the objects only: on pod templates it would restart every pod on every
    // deploy, even when nothing else changed. ReplicaSets copy it from their Deployment.
    addMetadata(manifests, trace(config, revision), { podTemplates: false });
    const locations = new Map(manifests.map((m) => [identity(m.object, config.target.namespace), { file: m.file, line: m.line }]));
    return { objects: manifests.map((m) => m.object), locations };
  });
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
    reporter.info(`last rollout: r${record.revision} ${record.phase} (started ${record.startedAt} by ${record.holder.runUrl})${record.reason ? `\n  reason: ${record.reason.split('\n')[0]}` : ''}`);
  } else {
    reporter.info('last rollout: none recorded');
  }
  if (revisions.length === 0) reporter.info('revisions: none');
  for (const r of revisions) {
    reporter.info(`  r${r.revision}  ${r.deployedAt}  ${r.commit ? r.commit.slice(0, 12) : '-'}  ${Object.values(r.images).map((i) => r.digests?.[i] ?? i).join(' ') || '-'}${r.rollbackOf ? `  (rollback to r${r.rollbackOf})` : ''}`);
  }
  reporter.setOutput('revision', revisions[0] ? String(revisions[0].revision) : '');
  reporter.setOutput('phase', record?.phase ?? '');
  return report;
}

/** Outputs and job summary of a finished rollout; the same for deploy and rollback. */
export async function reportOutcome(reporter: Reporter, config: Config, outcome: RolloutOutcome): Promise<void> {
  reporter.setOutput('result', outcome.result);
  reporter.setOutput('revision', outcome.revision === undefined ? '' : String(outcome.revision));
  reporter.setOutput('previous-revision', outcome.previousRevision === undefined ? '' : String(outcome.previousRevision));
  reporter.setOutput('changed', String(outcome.changed.length));
  reporter.setOutput('changed-objects', outcome.changed.join('\n'));
  const icon = outcome.result === 'deployed' ? '✅' : outcome.result === 'rolled-back' ? '↩️' : '❌';
  const rows = [
    ['Result', `${icon} ${outcome.result}`],
    ['Target', `${config.target.namespace}/${config.target.app}`],
    ['Revision', outcome.revision === undefined ? '–' : `r${outcome.revision}${outcome.previousRevision ? ` (previous r${outcome.previousRevision})` : ''}`],
    ['Changed', outcome.changed.length === 0 ? 'nothing' : `${outcome.changed.length}: ${outcome.changed.map((c) => `\`${c}\``).join(', ')}`],
    ['Duration', `${Math.round(outcome.timings.totalMs / 1000)} s${outcome.timings.detectMs !== undefined ? `, failure detected after ${Math.round(outcome.timings.detectMs / 1000)} s` : ''}${outcome.timings.rollbackMs !== undefined ? `, rollback ${Math.round(outcome.timings.rollbackMs / 1000)} s` : ''}`],
  ];
  let md = `### Gantry deploy: ${config.target.namespace}/${config.target.app}\n\n| | |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`;
  if (outcome.reason) md += `\n<details><summary>Why</summary>\n\n\`\`\`\n${outcome.reason}\n\`\`\`\n</details>\n`;
  await reporter.summary(md);
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
export function outcomeError(outcome: RolloutOutcome): GantryError | undefined {
  if (outcome.result === 'deployed') return undefined;
  const what = outcome.result === 'rolled-back' ? 'The rollout failed and was rolled back' : 'The rollout failed';
  return new GantryError(`${what}: ${outcome.reason ?? 'unknown reason'}`, {
    title: outcome.result === 'rolled-back' ? 'Rolled back' : 'Deploy failed',
    hint: outcome.result === 'rolled-back'
      ? 'The target runs the previous version again. Fix the cause shown above and deploy again.'
      : 'The target may not be healthy. Check `gantry status` and run the rollback action.',
  });
}
