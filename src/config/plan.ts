// Inputs of actions/plan, parsed once into a typed PlanConfig: the deploy's own settings
// (manifests, images, target, Helm, the rollout), whether the cluster can be asked, and
// where the sticky PR comment goes. Nothing deeper reads inputs, GITHUB_* or KUBECONFIG.
import { GantryError, GantryErrors } from '../errors.js';
import type { GitContext } from './build-push.js';
import { Config, parseConfig } from './deploy.js';
import { Reader, Source } from './source.js';

/** Where the plan's comment goes: one pull request of one repository. */
export interface CommentTarget {
  owner: string;
  repo: string;
  issue: number;
  token: string;
}

export interface PlanConfig {
  /** The deploy the plan previews, parsed exactly as actions/deploy parses it. */
  deploy: Config;
  /** The kubeconfig to ask (the input, else $KUBECONFIG); undefined when there is none. */
  cluster?: { kubeconfig: string; context?: string };
  /** Why the cluster is not asked, for the plan's reader; set exactly when `cluster` is not. */
  clusterSkipped?: string;
  comment?: CommentTarget;
  /** Why no comment is written (not a pull request, commenting turned off, no token). */
  commentSkipped?: string;
  /** The commit planned: the pull request's head, not its ephemeral merge commit. */
  commit?: string;
  /** A link to this run, for "the full plan is in the job summary". */
  runUrl?: string;
}

const PULL_REQUEST_EVENTS = ['pull_request', 'pull_request_target'];

/** Every setting the plan reads beyond the deploy's. */
export const PLAN_SETTINGS = ['github-token', 'comment'] as const;

export function parsePlanConfig(source: Source, git: GitContext, env: NodeJS.ProcessEnv = process.env): PlanConfig {
  const errors: GantryError[] = [];
  let deploy: Config | undefined;
  try {
    deploy = parseConfig('deploy', source, env);
  } catch (err) {
    if (!(err instanceof GantryError)) throw err;
    errors.push(...(err instanceof GantryErrors ? err.errors : [err]));
  }
  const r = new Reader(source);
  const token = r.string('github-token');
  const wantComment = r.bool('comment', true);
  errors.push(...r.errors);
  if (errors.length > 0 || !deploy) throw errors.length === 1 ? errors[0]! : new GantryErrors(errors);

  // Cluster access is explicit: a PR from a fork gets no secrets, and then the plan still
  // renders and validates instead of failing on a kubeconfig it was never meant to have.
  const kubeconfig = deploy.kubectl.kubeconfig ?? (env.KUBECONFIG?.trim() || undefined);
  const config: PlanConfig = { deploy, ...(git.sha ? { commit: git.sha } : {}), ...(deploy.run.runUrl.startsWith('http') ? { runUrl: deploy.run.runUrl } : {}) };
  if (kubeconfig) config.cluster = { kubeconfig, ...(deploy.kubectl.context ? { context: deploy.kubectl.context } : {}) };
  else config.clusterSkipped = 'no kubeconfig was given (input "kubeconfig" or $KUBECONFIG)';

  const [owner, repo] = git.repository.split('/');
  if (!wantComment) config.commentSkipped = 'input "comment" is false';
  else if (!PULL_REQUEST_EVENTS.includes(git.eventName) || git.pullRequest === undefined) config.commentSkipped = `the event is ${git.eventName || 'unknown'}, not a pull request`;
  else if (!token) config.commentSkipped = 'input "github-token" is empty';
  else if (!owner || !repo) config.commentSkipped = 'GITHUB_REPOSITORY is not set';
  else config.comment = { owner, repo, issue: git.pullRequest, token };
  return config;
}
