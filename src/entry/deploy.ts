// Entry point of actions/deploy (and the root action): inputs → Config → basic rollout →
// outputs and summary. The post step (deploy-post) undoes a rollout this step did not finish.
import * as core from '@actions/core';
import { parseConfig } from '../config/deploy.js';
import { EnvInputSource } from '../config/source.js';
import { runAction } from '../report/action-runner.js';
import { deploy, kubectlFor, outcomeError, reportOutcome } from '../strategies/commands.js';
import { rememberFinish, rememberStart } from '../strategies/post-state.js';

await runAction(async (reporter) => {
  const config = parseConfig('deploy', new EnvInputSource());
  const store = { save: core.saveState, get: core.getState };
  // Saved before anything can change the cluster: if the runner stops from here on, the post step looks.
  rememberStart(store, {
    target: config.target, holderId: config.run.id, runUrl: config.run.runUrl,
    kubectl: config.kubectl, timeoutMs: config.timeoutMs, lockTtlMs: config.lockTtlMs,
  });
  let outcome;
  try {
    outcome = await deploy(config, { kubectl: kubectlFor(config), reporter });
  } catch (err) {
    // Failures before a rollout outcome (invalid manifests, a held lock) still say so in `result`.
    reporter.setOutput('result', 'failed');
    throw err;
  } finally {
    rememberFinish(store);
  }
  await reportOutcome(reporter, config, outcome);
  const failed = outcomeError(outcome);
  if (failed) throw failed;
});
