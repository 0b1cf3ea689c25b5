// The rollout as a GitHub Deployment of its environment: the "Deployments" of a repository,
// an environment's history and a pull request's "View deployment" button come from here.
// Statuses follow the rollout: in_progress, then success (with the environment's URL),
// failure, or inactive for an aborted one; earlier successful deployments of the
// environment go inactive once a new one succeeds. GitHub being unreachable or refusing
// is a warning: it never fails the rollout.
import type { Command } from '../config/deploy.js';
import type { DeploymentsConfig } from '../config/report.js';
import type { RolloutOutcome } from '../strategies/basic.js';
import type { GitHubClient } from './github.js';
import type { Reporter } from './reporter.js';

export type DeploymentState = 'error' | 'failure' | 'inactive' | 'in_progress' | 'queued' | 'pending' | 'success';
export type DeploymentCommand = Exclude<Command, 'status'>;

/** GitHub refuses longer status descriptions. */
export const DESCRIPTION_LIMIT = 140;
/** Who creates the deployment of a job that declares `environment:`. */
export const ACTIONS_BOT = 'github-actions[bot]';
/** States after which a deployment takes no more progress: a later run starts a new one. */
const UNFINISHED: ReadonlySet<string> = new Set(['queued', 'pending', 'in_progress']);
/** How many earlier deployments of the environment are looked at to mark superseded ones inactive. */
const SUPERSEDED_SCAN = 10;

export interface DeploymentStart {
  command: DeploymentCommand;
  /** The commit the environment will run: the run's for a deploy, the restored revision's for a rollback. */
  sha: string;
  /** promote and abort: the commit the rollout being continued was deployed from. */
  rolloutCommit?: string;
  /** Shown on each status as the link to the log. */
  logUrl?: string;
  /** e.g. "Gantry deploy of prod/web". */
  description: string;
  /** Kept on a deployment Gantry creates, to tell what it was. */
  payload: Record<string, unknown>;
}

/** What a finished rollout means for its deployment. */
export function deploymentState(outcome: RolloutOutcome, command: DeploymentCommand): { state: DeploymentState; live: boolean } {
  switch (outcome.result) {
    case 'deployed':
      return { state: 'success', live: true };
    // A paused canary serves part of the traffic and waits for a promote: in progress, not queued.
    case 'paused':
      return { state: 'in_progress', live: true };
    // An on-demand rollback put the restored version live; a failed rollout's rollback did not deploy it.
    case 'rolled-back':
      return command === 'rollback' ? { state: 'success', live: true } : { state: 'failure', live: false };
    // Stopped on request: never live, and not a fault of the version either.
    case 'aborted':
      return { state: 'inactive', live: false };
    case 'failed':
      return { state: 'failure', live: false };
  }
}

/** A status description within GitHub's 140 characters. */
export function statusDescription(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= DESCRIPTION_LIMIT ? line : `${line.slice(0, DESCRIPTION_LIMIT - 1)}…`;
}

export class GitHubDeployment {
  /** The deployment statuses go to, once begin() found or created it. */
  id: number | undefined;
  /** Set after the first refusal: a token without the permission would fail every call the same way. */
  private broken = false;
  private logUrl: string | undefined;

  constructor(private readonly github: GitHubClient, private readonly config: DeploymentsConfig, private readonly reporter: Reporter) {}

  private get repo(): { owner: string; repo: string } {
    return { owner: this.config.owner, repo: this.config.repo };
  }

  /**
   * Finds the deployment this rollout belongs to, or creates one, and sets it in_progress.
   * promote and abort continue the deployment the rollout's deploy run left in progress; a
   * job with `environment:` already has one that GitHub created for it, used instead of a second.
   */
  async begin(start: DeploymentStart): Promise<void> {
    this.logUrl = start.logUrl;
    await this.guard('record the deployment', async () => {
      const { environment } = this.config;
      let found: { id: number; why: string } | undefined;
      if (start.command === 'promote' || start.command === 'abort') {
        const id = await this.unfinished(start.rolloutCommit);
        if (id !== undefined) found = { id, why: `the deployment of the rollout in progress` };
      }
      if (!found) {
        const id = await this.unfinished(this.config.sha, ACTIONS_BOT);
        if (id !== undefined) found = { id, why: `GitHub's deployment for this job's environment` };
      }
      if (found) {
        this.id = found.id;
        this.reporter.info(`GitHub deployment ${found.id} (${environment}): ${found.why}`);
      } else if (start.command === 'abort') {
        this.reporter.info(`GitHub: no deployment of ${environment} is in progress; the abort records none`);
        return;
      } else {
        this.id = await this.create(start);
        this.reporter.info(`GitHub deployment ${this.id} created for ${environment} at ${start.sha.slice(0, 12)}`);
      }
      await this.post('in_progress', start.description);
    });
  }

  /** The rollout's end: success (and superseded ones inactive), in_progress while paused, failure, or inactive. */
  async finish(outcome: RolloutOutcome, command: DeploymentCommand, headline: string): Promise<void> {
    if (this.id === undefined) return;
    const { state, live } = deploymentState(outcome, command);
    await this.guard(`set the deployment ${state}`, async () => {
      await this.post(state, headline, live ? this.config.environmentUrl : undefined);
      this.reporter.info(`GitHub deployment ${this.id} (${this.config.environment}): ${state}`);
      if (state === 'success') await this.inactivateSuperseded(headline);
    });
  }

  /** The step failed before the rollout had an outcome (bad manifests, a held lock). */
  async error(message: string): Promise<void> {
    if (this.id === undefined) return;
    await this.guard('set the deployment error', () => this.post('error', message));
  }

  private async create(start: DeploymentStart): Promise<number> {
    const { data } = await this.github.rest.repos.createDeployment({
      ...this.repo, ref: start.sha, environment: this.config.environment, task: 'deploy',
      // The commit is deployed as built: no merge of the default branch into it, and no
      // wait for its commit statuses (the workflow already decided to deploy it).
      auto_merge: false, required_contexts: [],
      description: statusDescription(start.description), payload: start.payload,
      transient_environment: false, production_environment: this.config.production,
    });
    // 202 answers "merged the default branch first", which auto_merge false rules out.
    if (!('id' in data)) throw new Error(`GitHub created no deployment: ${data.message ?? 'no reason given'}`);
    return data.id;
  }

  /** The newest deployment of the environment at `sha` (any commit when undefined) that is still in progress. */
  private async unfinished(sha: string | undefined, creator?: string): Promise<number | undefined> {
    const { data } = await this.github.rest.repos.listDeployments({ ...this.repo, environment: this.config.environment, ...(sha ? { sha } : {}), per_page: SUPERSEDED_SCAN });
    for (const d of data) {
      if (creator !== undefined && d.creator?.login !== creator) continue;
      const state = await this.latestState(d.id);
      // A deployment without statuses was just created (GitHub posts queued right after).
      if (state === undefined || UNFINISHED.has(state)) return d.id;
      // The newest one is finished: older ones belong to earlier runs.
      return undefined;
    }
    return undefined;
  }

  private async latestState(id: number): Promise<string | undefined> {
    const { data } = await this.github.rest.repos.listDeploymentStatuses({ ...this.repo, deployment_id: id, per_page: 1 });
    return data[0]?.state;
  }

  private async post(state: DeploymentState, description: string, environmentUrl?: string, id = this.id!): Promise<void> {
    await this.github.rest.repos.createDeploymentStatus({
      ...this.repo, deployment_id: id, state, description: statusDescription(description),
      ...(this.logUrl ? { log_url: this.logUrl } : {}),
      ...(environmentUrl ? { environment_url: environmentUrl } : {}),
    });
  }

  /**
   * GitHub marks earlier successful deployments inactive by itself only in non-production
   * environments; production ones would all stay "active" without this.
   */
  private async inactivateSuperseded(headline: string): Promise<void> {
    const { data } = await this.github.rest.repos.listDeployments({ ...this.repo, environment: this.config.environment, per_page: SUPERSEDED_SCAN + 1 });
    for (const d of data) {
      if (d.id >= this.id!) continue; // this one, or a later run's
      if (await this.latestState(d.id) !== 'success') continue;
      await this.post('inactive', `Superseded by deployment ${this.id}: ${headline}`, undefined, d.id);
      this.reporter.info(`GitHub deployment ${d.id} (${this.config.environment}, ${d.sha.slice(0, 12)}): inactive, superseded`);
    }
  }

  private async guard(what: string, fn: () => Promise<void>): Promise<void> {
    if (this.broken) return;
    try {
      await fn();
    } catch (err) {
      this.broken = true;
      this.reporter.warning(`GitHub Deployments: could not ${what}: ${describe(err)}. The rollout goes on; later deployment statuses of this run are skipped.${hintFor(err)}`);
    }
  }
}

function describe(err: unknown): string {
  const status = (err as { status?: unknown }).status;
  const message = err instanceof Error ? err.message : String(err);
  return typeof status === 'number' ? `HTTP ${status}, ${message}` : message;
}

function hintFor(err: unknown): string {
  switch ((err as { status?: unknown }).status) {
    case 401:
      return ' Check github-token: GitHub did not accept it.';
    case 403:
      return ' Give the job `permissions: deployments: write` (and the token access to the repository).';
    case 404:
      return ' The token cannot see the repository, or lacks `permissions: deployments: write`.';
    default:
      return '';
  }
}
