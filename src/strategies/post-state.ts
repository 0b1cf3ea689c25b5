// What the deploy main step leaves for its post step: which target it was rolling out,
// as whom, and whether it finished. The entry backs StateStore with core.saveState/getState.
import type { StateStore } from '../shared/action-state.js';
import type { Target } from '../shared/target.js';

export interface DeployStepState {
  target: Target;
  holderId: string;
  runUrl: string;
  kubectl: { binary?: string; kubeconfig?: string; context?: string };
  timeoutMs: number;
  lockTtlMs: number;
}

const STARTED = 'gantry-deploy-started';
const FINISHED = 'gantry-deploy-finished';

export function rememberStart(store: StateStore, state: DeployStepState): void {
  store.save(STARTED, JSON.stringify(state));
}

/** Called when the main step ran to its end, success or not: the post step then has nothing to undo. */
export function rememberFinish(store: StateStore): void {
  store.save(FINISHED, 'true');
}

/** The rollout the main step started and did not finish, or undefined. */
export function unfinishedStep(store: StateStore): DeployStepState | undefined {
  const started = store.get(STARTED);
  if (!started || store.get(FINISHED) === 'true') return undefined;
  return JSON.parse(started) as DeployStepState;
}
