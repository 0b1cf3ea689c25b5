// Entry point of the all-in-one action (root action.yml): build and push when asked,
// then deploy the image by digest with automatic rollback.
import * as core from '@actions/core';
import { readGitContext } from '../config/build-push.js';
import { parseMainConfig, withBuiltImage } from '../config/main.js';
import { EnvInputSource } from '../config/source.js';
import { GantryError } from '../errors.js';
import { runBuildPushStep } from '../image/step.js';
import { runAction } from '../report/action-runner.js';
import { runDeployStep } from '../strategies/step.js';

await runAction(async (reporter) => {
  const config = parseMainConfig(new EnvInputSource(), readGitContext(), process.env, new Date());
  const store = { save: core.saveState, get: core.getState };
  let deploy = config.deploy;
  if (config.build) {
    const built = await runBuildPushStep(config.build, reporter, store);
    if (!built.image) throw new GantryError('The build pushed no image by digest, so there is nothing to deploy', { title: 'Build' });
    deploy = { ...deploy, images: withBuiltImage(deploy.images, built.image) };
    reporter.info(`deploying ${built.image}`);
  }
  await runDeployStep(deploy, reporter, store, core.addPath);
});
