// Post step of the all-in-one action: undo an unfinished rollout, then log out.
import * as core from '@actions/core';
import { undoBuildPushLogin } from '../image/step.js';
import { runAction } from '../report/action-runner.js';
import { recoverDeployStep } from '../strategies/step.js';

await runAction(async (reporter) => {
  const store = { save: core.saveState, get: core.getState };
  try {
    await recoverDeployStep(reporter, store);
  } finally {
    await undoBuildPushLogin(reporter, store);
  }
});
