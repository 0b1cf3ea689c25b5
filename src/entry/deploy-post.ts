// Post step of actions/deploy: runs even when the job was cancelled or the main step was
// killed. If the cluster still records our rollout as unfinished, restore its snapshot.
import * as core from '@actions/core';
import { runAction } from '../report/action-runner.js';
import { recoverDeployStep } from '../strategies/step.js';

await runAction((reporter) => recoverDeployStep(reporter, { save: core.saveState, get: core.getState }));
