// Entry point of actions/deploy: inputs → Config → basic rollout → outputs and summary.
// The post step (deploy-post) undoes a rollout this step did not finish.
import * as core from '@actions/core';
import { parseConfig } from '../config/deploy.js';
import { EnvInputSource } from '../config/source.js';
import { runAction } from '../report/action-runner.js';
import { runDeployStep } from '../strategies/step.js';

await runAction(async (reporter) => {
  const config = parseConfig('deploy', new EnvInputSource());
  await runDeployStep(config, reporter, { save: core.saveState, get: core.getState }, core.addPath);
});
