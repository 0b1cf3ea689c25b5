// Post step of actions/build-push: removes the registry credentials the main step stored.
import * as core from '@actions/core';
import { undoBuildPushLogin } from '../image/step.js';
import { runAction } from '../report/action-runner.js';

await runAction((reporter) => undoBuildPushLogin(reporter, { save: core.saveState, get: core.getState }));
