// A command run with its GitHub Deployment and webhook told before and after (report/
// announcer.ts), plus what the cluster knows that the outcome does not carry: which commit
// a promote continues, which revision a rollback restores, where a paused canary waits.
// Shared by the actions' steps and the CLI; reading those facts never fails a step.
import type { Config } from '../config/deploy.js';
import type { KubeClient } from '../kube/client.js';
import { History } from '../kube/history.js';
import { RolloutStore } from '../kube/state.js';
import { Announcer, type RolloutFacts } from '../report/announcer.js';
import type { DeploymentCommand } from '../report/deployments.js';
import type { Reporter } from '../report/reporter.js';
import { type RolloutOutcome, pickRevision } from './basic.js';
import { progressOf } from './control.js';

/**
 * Runs `run` (deploy, promote, abort or rollback on `client`) between the announcer's
 * started and finished; a command that throws is announced as failed and the error rethrown.
 */
export async function withAnnouncements(config: Config, command: DeploymentCommand, client: KubeClient, reporter: Reporter, run: () => Promise<RolloutOutcome>): Promise<RolloutOutcome> {
  const announcer = new Announcer(config, command, reporter);
  let outcome: RolloutOutcome;
  let facts: RolloutFacts = {};
  try {
    if (announcer.active) facts = await factsBefore(client, config, command, reporter);
    await announcer.started(facts);
    outcome = await run();
    if (announcer.active) facts = await factsAfter(client, config, outcome, facts);
  } catch (err) {
    await announcer.failed(err);
    throw err;
  }
  await announcer.finished(outcome, facts);
  return outcome;
}

/** Before the command: the commit a promote or abort continues, the revision a rollback restores. */
export async function factsBefore(client: KubeClient, config: Config, command: DeploymentCommand, reporter: Reporter): Promise<RolloutFacts> {
  try {
    if (command === 'promote' || command === 'abort') {
      const commit = (await new RolloutStore(client, config.target).read())?.record.commit;
      return commit ? { rolloutCommit: commit } : {};
    }
    if (command === 'rollback') {
      const { target } = pickRevision(await new History(client, config.target, config.historyLimit).list(), config.toRevision);
      return { restored: target.revision, ...(target.commit ? { restoredCommit: target.commit } : {}) };
    }
  } catch (err) {
    // The command itself reads the same and says what is wrong; the facts only enrich the report.
    reporter.info(`(for the deployment record: ${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
  }
  return {};
}

/** After the command: where a paused canary waits. */
export async function factsAfter(client: KubeClient, config: Config, outcome: RolloutOutcome, before: RolloutFacts): Promise<RolloutFacts> {
  if (outcome.result !== 'paused') return before;
  try {
    const progress = progressOf((await new RolloutStore(client, config.target).read())?.record);
    // The stored step is the next one to run: the pause just passed is step `progress.step`, counted from 1.
    if (progress?.kind === 'canary') return { ...before, pausedAt: { step: progress.step, steps: progress.steps.length, weight: progress.weight } };
  } catch {
    // the headline then says "Paused" without the step
  }
  return before;
}
