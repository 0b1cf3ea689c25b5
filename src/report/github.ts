// The one way Gantry talks to GitHub's REST API: Octokit from @actions/github, aimed at
// GITHUB_API_URL (GitHub Enterprise, or the recording server the tests start), with
// retries on server errors and GitHub's advice on rate limits followed: a request that
// hits the primary or a secondary rate limit waits and is sent again, up to twice.
import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import type { Reporter } from './reporter.js';

export type GitHubClient = ReturnType<typeof getOctokit>;

/** The repository and run a step works for, from the Actions environment. */
export interface GitHubRun {
  owner: string;
  repo: string;
  /** The commit deployed or planned. */
  sha: string;
  ref: string;
  /** Links to this run, for summaries and messages. */
  runUrl?: string;
}

const RETRIES_ON_RATE_LIMIT = 2;

export function githubClient(token: string, reporter: Reporter, baseUrl = process.env.GITHUB_API_URL ?? 'https://api.github.com'): GitHubClient {
  const onLimit = (kind: string) => (after: number, options: { method: string; url: string }, _octokit: unknown, retryCount: number): boolean => {
    reporter.warning(`GitHub ${kind} rate limit on ${options.method} ${options.url}; ${retryCount < RETRIES_ON_RATE_LIMIT ? `retrying after ${after} s` : 'giving up'}`);
    return retryCount < RETRIES_ON_RATE_LIMIT;
  };
  return getOctokit(token, {
    baseUrl,
    throttle: { onRateLimit: onLimit('primary'), onSecondaryRateLimit: onLimit('secondary') },
  }, retry, throttling);
}

/** The run from GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_REF and the run's URL; undefined outside Actions. */
export function githubRun(env: NodeJS.ProcessEnv = process.env): GitHubRun | undefined {
  const [owner, repo] = (env.GITHUB_REPOSITORY ?? '').split('/');
  if (!owner || !repo || !env.GITHUB_SHA) return undefined;
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
  return {
    owner, repo, sha: env.GITHUB_SHA, ref: env.GITHUB_REF ?? env.GITHUB_SHA,
    ...(env.GITHUB_RUN_ID ? { runUrl: `${server}/${owner}/${repo}/actions/runs/${env.GITHUB_RUN_ID}` } : {}),
  };
}
