// The build-push step as the actions run it: log in, build, push, publish outputs; and
// its post half, which removes the credentials. Shared by actions/build-push and the
// all-in-one action.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildPushConfig } from '../config/build-push.js';
import { Reporter } from '../report/reporter.js';
import type { StateStore } from '../shared/action-state.js';
import { BuildPushResult, buildAndPush } from './build-push.js';
import { Docker } from './docker.js';
import { loginToRegistry, logoutFromRegistry } from './login.js';
import { RegistryClient } from './registry.js';
import { rememberLogin, savedLogin } from './state.js';
import { publishResult } from './summary.js';

export async function runBuildPushStep(config: BuildPushConfig, reporter: Reporter, store: StateStore): Promise<BuildPushResult> {
  const login = config.login;
  const docker = new Docker();
  if (login) {
    await reporter.group(`Log in to ${login.registry}`, () => loginToRegistry(docker, login, reporter));
    rememberLogin(store, { registry: login.registry, dockerConfig: process.env.DOCKER_CONFIG });
  }
  const workDir = mkdtempSync(join(process.env.RUNNER_TEMP ?? tmpdir(), 'gantry-build-'));
  try {
    const registry = new RegistryClient({
      credentials: (host) => (login && login.registry === host ? { username: login.username, password: login.password } : undefined),
    });
    const result = await buildAndPush(config, { docker, registry, reporter, workDir });
    await publishResult(result, reporter);
    return result;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Post half: logs out of the registry the main half logged in to, if it did. */
export async function undoBuildPushLogin(reporter: Reporter, store: StateStore): Promise<void> {
  const saved = savedLogin(store);
  if (!saved) return; // the main step did not log in, or failed before it did
  const docker = new Docker({ env: saved.dockerConfig ? { DOCKER_CONFIG: saved.dockerConfig } : {} });
  await logoutFromRegistry(docker, saved.registry, reporter);
}
