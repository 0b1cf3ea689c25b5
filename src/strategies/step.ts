// The deploy step as the actions run it, and its post half that undoes a rollout the
// main half did not finish (cancelled job, killed runner). Shared by actions/deploy and
// the all-in-one action.
import { Config } from '../config/deploy.js';
import { ApiClient } from '../kube/api-client.js';
import { IN_PROGRESS, RolloutStore } from '../kube/state.js';
import { control, progressOf } from './control.js';
import { defaultProgressiveDeps } from './wiring.js';
import { Reporter } from '../report/reporter.js';
import type { StateStore } from '../shared/action-state.js';
import { Engine, RolloutOutcome, recoverInterrupted } from './basic.js';
import { Runtime, clientFor, deploy, outcomeError, reportError, reportOutcome } from './commands.js';
import { GantryError } from '../errors.js';
import { Tools, prependPath } from '../shared/tools.js';
import { rememberFinish, rememberStart, unfinishedStep } from './post-state.js';
import { withAnnouncements } from './announce.js';

/**
 * The deploy step. `addPath` puts an installed kubectl or helm on PATH: the entries pass
 * core.addPath, so the job's later steps find that version too.
 */
export async function runDeployStep(config: Config, reporter: Reporter, store: StateStore, addPath: (dir: string) => void = prependPath): Promise<RolloutOutcome> {
  // Saved before anything can change the cluster: if the runner stops from here on, the post step looks.
  rememberStart(store, {
    target: config.target, holderId: config.run.id, runUrl: config.run.runUrl,
    kubectl: config.kubectl, timeoutMs: config.timeoutMs, lockTtlMs: config.lockTtlMs,
  });
  let outcome: RolloutOutcome;
  try {
    const client = clientFor(config);
    try {
      const tools = new Tools({ kubectl: config.kubectl, helm: config.helm }, { info: (line) => reporter.info(line), addPath });
      // The GitHub Deployment and the webhook are told around the rollout, never able to fail it.
      outcome = await withAnnouncements(config, 'deploy', client, reporter, () => deploy(config, { client, reporter, tools }));
      // While the client is open: the summary reads the rollout's timeline and the ledger.
      await reportOutcome(reporter, config, outcome, { client });
    } finally {
      client.close();
    }
  } catch (err) {
    // Failures before a rollout outcome (invalid manifests, a held lock) still say so in `result`.
    reporter.setOutput('result', 'failed');
    await reportError(reporter, config, err);
    throw err;
  } finally {
    rememberFinish(store);
  }
  const failed = outcomeError(outcome);
  if (failed) throw failed;
  return outcome;
}

/** Post half: if the cluster still records this run's rollout as unfinished, restore its snapshot. */
export async function recoverDeployStep(reporter: Reporter, store: StateStore): Promise<void> {
  const step = unfinishedStep(store);
  if (!step) return; // the main step finished (or never started a rollout): nothing to undo
  reporter.info(`the deploy step did not finish; checking ${step.target.namespace}/${step.target.app} for an unfinished rollout`);
  const client = ApiClient.fromConfig({ kubeconfig: step.kubectl.kubeconfig, context: step.kubectl.context });
  const engine: Engine = {
    client,
    reporter,
    target: step.target,
    holder: { id: step.holderId, runUrl: step.runUrl },
    timeoutMs: step.timeoutMs,
    lockTtlMs: step.lockTtlMs,
    // Recovery restores a snapshot and records no revision, so the history limit is not used.
    historyLimit: 1,
    rollbackOnFailure: true,
  };
  const outcome = await (async () => {
    // A canary or blue-green switch this run left running is aborted: stable takes all traffic again.
    const stored = await new RolloutStore(client, step.target).read();
    if (stored && progressOf(stored.record) && IN_PROGRESS.includes(stored.record.phase) && stored.record.phase !== 'paused' && stored.record.holder.id === step.holderId) {
      return control(engine, 'abort', defaultProgressiveDeps(client, step.target.namespace, reporter));
    }
    return recoverInterrupted(engine);
  })().finally(() => client.close());
  if (!outcome) {
    reporter.info('no unfinished rollout of this run in the cluster: nothing to roll back');
    return;
  }
  reporter.info(`post step: ${outcome.result} revision r${outcome.revision}`);
  if (outcome.result !== 'rolled-back' && outcome.result !== 'aborted') throw new Error(`The interrupted rollout r${outcome.revision} could not be rolled back: ${outcome.reason ?? 'unknown reason'}`);
}

/**
 * The actions that run one command on a target and report its outcome (rollback, promote,
 * abort): an API client for the step, the outputs and summary, and a failed step when the
 * outcome is not a success.
 */
export async function runOutcomeStep(
  config: Config, reporter: Reporter,
  command: (config: Config, runtime: Runtime) => Promise<RolloutOutcome>,
  failure: (outcome: RolloutOutcome) => GantryError | undefined,
): Promise<void> {
  if (config.command === 'status') throw new Error('status reports no outcome');
  const client = clientFor(config);
  let reported = false;
  try {
    const outcome = await withAnnouncements(config, config.command, client, reporter, () => command(config, { client, reporter }));
    await reportOutcome(reporter, config, outcome, { client });
    reported = true;
    const failed = failure(outcome);
    if (failed) throw failed;
  } catch (err) {
    reporter.setOutput('result', 'failed');
    if (!reported) await reportError(reporter, config, err);
    throw err;
  } finally {
    client.close();
  }
}
