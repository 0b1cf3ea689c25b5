// Settings of what a rollout tells the world outside the log: a GitHub Deployment for the
// environment (`github-token`, `environment`, `environment-url`) and a Slack-compatible
// webhook (`webhook-url`). The deploy, promote, abort and rollback actions read them here.
import type { Target } from '../shared/target.js';
import type { Reader } from './source.js';

export const REPORT_SETTINGS = ['github-token', 'environment', 'environment-url', 'webhook-url'] as const;

/** Where the rollout is recorded in GitHub: the repository and commit of the run, and the environment. */
export interface DeploymentsConfig {
  token: string;
  /** GITHUB_API_URL: api.github.com, a GitHub Enterprise server, or a test's recording server. */
  apiUrl: string;
  owner: string;
  repo: string;
  /** The run's commit (GITHUB_SHA) and ref (GITHUB_REF). */
  sha: string;
  ref: string;
  /** The GitHub environment: the `environment` input, else the target's namespace. */
  environment: string;
  /** Shown as the deployment's "View deployment" link. */
  environmentUrl?: string;
  /**
   * Whether people use this environment: GitHub only marks superseded deployments of
   * non-production environments inactive by itself, so Gantry does it for these.
   */
  production: boolean;
}

export interface ReportConfig {
  /** The environment's name and URL, for the deployment and the webhook message alike. */
  environment: string;
  environmentUrl?: string;
  /** Absent without `github-token`. */
  deployments?: DeploymentsConfig;
  /** A Slack-compatible incoming webhook; secret, never logged. */
  webhookUrl?: string;
}

/** An environment named production or prod (prod-eu, production-2…) is one end users reach. */
const PRODUCTION = /^prod(uction)?(\b|[-_])/i;

/** `commit` is the run's (GITHUB_SHA, or the CLI's --commit): the deployment is created at it. */
export function parseReport(r: Reader, target: Target, commit: string | undefined, env: NodeJS.ProcessEnv): ReportConfig {
  const token = r.string('github-token');
  const environment = r.string('environment', target.namespace)!.trim();
  const environmentUrl = url(r, 'environment-url');
  const webhookUrl = url(r, 'webhook-url');
  const [owner, repo] = (env.GITHUB_REPOSITORY ?? '').split('/');
  const report: ReportConfig = { environment, ...(environmentUrl ? { environmentUrl } : {}), ...(webhookUrl ? { webhookUrl } : {}) };
  if (token && (!owner || !repo || !commit)) {
    r.problem('github-token', 'is set, but the repository or commit to record the deployment for is unknown', 'Outside GitHub Actions, set GITHUB_REPOSITORY (owner/repo) and GITHUB_SHA or --commit.');
  } else if (token && owner && repo && commit) {
    report.deployments = {
      token, apiUrl: env.GITHUB_API_URL ?? 'https://api.github.com', owner, repo, sha: commit, ref: env.GITHUB_REF ?? commit,
      environment, production: PRODUCTION.test(environment),
      ...(environmentUrl ? { environmentUrl } : {}),
    };
  }
  return report;
}

function url(r: Reader, name: string): string | undefined {
  const text = r.string(name)?.trim();
  if (text === undefined) return undefined;
  let protocol: string | undefined;
  try {
    protocol = new URL(text).protocol;
  } catch {
    // reported below, without the value: a webhook URL is a secret
  }
  if (protocol !== 'https:' && protocol !== 'http:') {
    r.problem(name, name === 'webhook-url' ? 'is not an http(s) URL' : `must be an http(s) URL, got "${text}"`);
    return undefined;
  }
  return text;
}
