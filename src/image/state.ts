// What the main step of build-push leaves for its post step: the registry it logged in
// to, so the post step can remove those credentials.
import type { StateStore } from '../shared/action-state.js';

const REGISTRY = 'gantry-login-registry';
const DOCKER_CONFIG = 'gantry-login-docker-config';

export interface SavedLogin {
  registry: string;
  /** DOCKER_CONFIG at login time, so logout edits the same config file. */
  dockerConfig?: string;
}

export function rememberLogin(store: StateStore, login: SavedLogin): void {
  store.save(REGISTRY, login.registry);
  if (login.dockerConfig) store.save(DOCKER_CONFIG, login.dockerConfig);
}

export function savedLogin(store: StateStore): SavedLogin | undefined {
  const registry = store.get(REGISTRY);
  if (!registry) return undefined;
  const dockerConfig = store.get(DOCKER_CONFIG);
  return { registry, dockerConfig: dockerConfig || undefined };
}
