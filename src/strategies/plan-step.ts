// The plan step as actions/plan runs it: plan, then publish the result where people look —
// the outputs, the job summary and the one sticky comment on the pull request. A plan that
// fails still updates the comment, so it never shows an older commit's plan as current.
import type { PlanConfig } from '../config/plan.js';
import { toGantryError } from '../errors.js';
import { ApiClient } from '../kube/api-client.js';
import type { KubeClient } from '../kube/client.js';
import { githubClient, type GitHubClient } from '../report/github.js';
import { COMMENT_BUDGET, SUMMARY_LIMIT, planMarker, renderPlan, renderPlanFailure, setPlanOutputs, type RenderContext } from '../report/plan.js';
import type { Reporter } from '../report/reporter.js';
import { upsertComment } from '../report/sticky-comment.js';
import { plan, type Plan } from './plan.js';

export interface PlanStepDeps {
  /** The cluster, instead of an ApiClient from the configured kubeconfig (tests pass a fake). */
  client?: KubeClient;
  /** GitHub's API for a token, instead of githubClient at GITHUB_API_URL. */
  github?: (token: string) => GitHubClient;
}

/** How long an unreachable API server is retried before the diff is skipped: a PR check should not hang. */
const CLUSTER_RETRY_MS = 10_000;

export async function runPlanStep(config: PlanConfig, reporter: Reporter, deps: PlanStepDeps = {}): Promise<Plan> {
  const ctx = { commit: config.commit, runUrl: config.runUrl };
  let client = deps.client;
  let skipped = config.clusterSkipped;
  if (!client && config.cluster) {
    try {
      client = ApiClient.fromConfig({ ...config.cluster, retryForMs: CLUSTER_RETRY_MS });
    } catch (err) {
      // A kubeconfig that cannot be read skips the diff, like no kubeconfig: the manifests are still checked.
      skipped = `the kubeconfig could not be used: ${toGantryError(err).message}`;
      reporter.warning(`diff skipped: ${skipped}`);
    }
  }
  let result: Plan;
  try {
    result = await plan({ ...config, ...(skipped ? { clusterSkipped: skipped } : {}) }, { client, reporter });
  } catch (err) {
    const error = toGantryError(err);
    await publish(config, reporter, deps, (limit) => renderPlanFailure(config.deploy.target, error, { ...ctx, limit }));
    throw error;
  } finally {
    client?.close();
  }
  setPlanOutputs(reporter, result);
  await publish(config, reporter, deps, (limit) => renderPlan(result, { ...ctx, limit }));
  return result;
}

async function publish(config: PlanConfig, reporter: Reporter, deps: PlanStepDeps, render: (limit: RenderContext['limit']) => string): Promise<void> {
  await reporter.summary(render(SUMMARY_LIMIT));
  const where = config.comment;
  if (!where) {
    reporter.info(`no PR comment: ${config.commentSkipped ?? 'no pull request'}`);
    return;
  }
  reporter.setSecret(where.token);
  const github = deps.github ? deps.github(where.token) : githubClient(where.token, reporter);
  try {
    const done = await upsertComment(github, where, planMarker(config.deploy.target), render(COMMENT_BUDGET));
    reporter.info(`PR comment ${done.action}: ${done.url ?? `#${done.id}`}`);
  } catch (err) {
    // The check is the plan; a comment that cannot be written (a fork's read-only token) is a warning.
    const status = (err as { status?: number }).status;
    reporter.warning(`could not write the plan to pull request #${where.issue}${status ? ` (HTTP ${status})` : ''}: ${err instanceof Error ? err.message : String(err)}${status === 403 ? '; the workflow needs `permissions: pull-requests: write`, and a pull request from a fork gets a read-only token' : ''}. The plan is in the job summary.`);
  }
}
