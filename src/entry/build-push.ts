// Entry point of actions/build-push: inputs → one BuildPushConfig → log in, build, push,
// publish outputs. The post step (build-push-post) removes the credentials again.
import * as core from '@actions/core';
import { parseBuildPushConfig, readGitContext } from '../config/build-push.js';
import { EnvInputSource } from '../config/source.js';
import { runBuildPushStep } from '../image/step.js';
import { runAction } from '../report/action-runner.js';

await runAction(async (reporter) => {
  const config = parseBuildPushConfig(new EnvInputSource(), readGitContext(), {
    workspace: process.env.GITHUB_WORKSPACE ?? process.cwd(),
    now: new Date(),
  });
  await runBuildPushStep(config, reporter, { save: core.saveState, get: core.getState });
});
