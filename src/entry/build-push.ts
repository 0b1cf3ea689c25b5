// Entry point of actions/build-push: inputs → one BuildPushConfig → log in, build, push,
// publish outputs. The post step (build-push-post) removes the credentials again.
import * as core from '@actions/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBuildPushConfig, readGitContext } from '../config/build-push.js';
import { EnvInputSource } from '../config/source.js';
import { buildAndPush } from '../image/build-push.js';
import { Docker } from '../image/docker.js';
import { loginToRegistry } from '../image/login.js';
import { RegistryClient } from '../image/registry.js';
import { rememberLogin } from '../image/state.js';
import { publishResult } from '../image/summary.js';
import { runAction } from '../report/action-runner.js';

await runAction(async (reporter) => {
  const config = parseBuildPushConfig(new EnvInputSource(), readGitContext(), {
    workspace: process.env.GITHUB_WORKSPACE ?? process.cwd(),
    now: new Date(),
  });
  const login = config.login;
  const docker = new Docker();

  if (login) {
    await reporter.group(`Log in to ${login.registry}`, () => loginToRegistry(docker, login, reporter));
    rememberLogin({ save: core.saveState, get: core.getState }, { registry: login.registry, dockerConfig: process.env.DOCKER_CONFIG });
  }

  const workDir = mkdtempSync(join(process.env.RUNNER_TEMP ?? tmpdir(), 'gantry-build-'));
  try {
    const registry = new RegistryClient({
      credentials: (host) => (login && login.registry === host ? { username: login.username, password: login.password } : undefined),
    });
    const result = await buildAndPush(config, { docker, registry, reporter, workDir });
    await publishResult(result, reporter);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
});
