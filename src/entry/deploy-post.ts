// Post step of actions/deploy: runs even when the job was cancelled or the main step was
// killed. If the cluster still records our rollout as unfinished, restore its snapshot.
import * as core from '@actions/core';
import { Kubectl } from '../kube/kubectl.js';
import { runAction } from '../report/action-runner.js';
import { recoverInterrupted } from '../strategies/basic.js';
import { unfinishedStep } from '../strategies/post-state.js';

await runAction(async (reporter) => {
  const step = unfinishedStep({ save: core.saveState, get: core.getState });
  if (!step) return; // the main step finished (or never started a rollout): nothing to undo
  reporter.info(`the deploy step did not finish; checking ${step.target.namespace}/${step.target.app} for an unfinished rollout`);
  const outcome = await recoverInterrupted({
    kubectl: new Kubectl(step.kubectl),
    reporter,
    target: step.target,
    holder: { id: step.holderId, runUrl: step.runUrl },
    timeoutMs: step.timeoutMs,
    lockTtlMs: step.lockTtlMs,
    historyLimit: 1,
    rollbackOnFailure: true,
  });
  if (!outcome) {
    reporter.info('no unfinished rollout of this run in the cluster: nothing to roll back');
    return;
  }
  reporter.info(`post step: ${outcome.result} revision r${outcome.revision}`);
  if (outcome.result !== 'rolled-back') throw new Error(`The interrupted rollout r${outcome.revision} could not be rolled back: ${outcome.reason ?? 'unknown reason'}`);
});
