// Post step of actions/build-push: removes the registry credentials the main step stored.
import * as core from '@actions/core';
import { Docker } from '../image/docker.js';
import { logoutFromRegistry } from '../image/login.js';
import { savedLogin } from '../image/state.js';
import { runAction } from '../report/action-runner.js';

await runAction(async (reporter) => {
  const saved = savedLogin({ save: core.saveState, get: core.getState });
  if (!saved) return; // the main step did not log in, or failed before it did
  const docker = new Docker({ env: saved.dockerConfig ? { DOCKER_CONFIG: saved.dockerConfig } : {} });
  await logoutFromRegistry(docker, saved.registry, reporter);
});
