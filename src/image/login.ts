// Registry login and logout through the docker CLI. The password goes to docker on
// stdin only, and failures say whether the registry was unreachable or refused the user.
import { RegistryLogin } from '../config/build-push.js';
import { GantryError } from '../errors.js';
import { Reporter } from '../report/reporter.js';
import { classifyRegistryFailure, Docker, oneLine } from './docker.js';

export async function loginToRegistry(docker: Docker, login: RegistryLogin, reporter: Reporter): Promise<void> {
  // Masked before anything can print it, including docker's own error messages.
  reporter.setSecret(login.password);
  const result = await docker.login(login.registry, login.username, login.password);
  const output = `${result.stdout}\n${result.stderr}`;
  if (result.exitCode === 0) {
    reporter.info(`Logged in to ${login.registry} as ${login.username}`);
    return;
  }
  throw registryError(login.registry, 'log in to', output, login.username);
}

export async function logoutFromRegistry(docker: Docker, registry: string, reporter: Reporter): Promise<void> {
  const result = await docker.logout(registry);
  if (result.exitCode === 0) reporter.info(`Removed the credentials for ${registry}`);
  else reporter.warning(`Could not remove the credentials for ${registry}: ${oneLine(result.stderr) || `exit code ${result.exitCode}`}`);
}

/** One clear message per kind of registry failure: unreachable, refused credentials, or docker's own words. */
export function registryError(registry: string, action: string, output: string, username?: string): GantryError {
  const detail = oneLine(output);
  switch (classifyRegistryFailure(output)) {
    case 'unreachable':
      return new GantryError(`Could not ${action} ${registry}: the registry is unreachable (${detail})`, {
        title: 'Registry unreachable',
        hint: 'check the registry host and port, and that the runner can reach it',
      });
    case 'unauthorized':
      return new GantryError(`Could not ${action} ${registry}: the registry refused ${username ? `the credentials of "${username}"` : 'access without credentials'} (${detail})`, {
        title: 'Registry authentication failed',
        hint: username
          ? 'check inputs "username" and "password" (for GHCR use a token with write:packages), and that this user may push to the repository'
          : 'set inputs "username" and "password" so Gantry can log in before pushing',
      });
    default:
      return new GantryError(`Could not ${action} ${registry}: ${detail}`, { title: 'Registry' });
  }
}
