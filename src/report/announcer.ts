// What one run of deploy, promote, abort or rollback tells the outside: its GitHub
// Deployment's statuses and the webhook message. The steps call it around the command;
// neither the engine nor the cluster layer knows about GitHub. Nothing here throws.
import type { Config } from '../config/deploy.js';
import { toGantryError } from '../errors.js';
import type { RolloutOutcome } from '../strategies/basic.js';
import { type DeploymentCommand, GitHubDeployment } from './deployments.js';
import { type GitHubClient, githubClient } from './github.js';
import { type HeadlineContext, headline } from './headline.js';
import { type NotifyOptions, notify, notifyEvent, webhookMessage } from './notify.js';
import type { Reporter } from './reporter.js';

export interface AnnouncerDeps {
  /** The GitHub client; githubClient(token) on the configured API URL when absent. */
  github?: GitHubClient;
  notify?: NotifyOptions;
}

/** What the step learnt from the cluster that the outcome alone does not say. */
export interface RolloutFacts extends Omit<HeadlineContext, 'command'> {
  /** rollback: the restored revision's commit, which the deployment is recorded at. */
  restoredCommit?: string;
  /** promote and abort: the commit of the rollout continued. */
  rolloutCommit?: string;
}

export class Announcer {
  private readonly deployment: GitHubDeployment | undefined;

  constructor(private readonly config: Config, private readonly command: DeploymentCommand, private readonly reporter: Reporter, private readonly deps: AnnouncerDeps = {}) {
    const { deployments, webhookUrl } = config.report;
    // Both are secrets; registered before any line could carry them.
    if (webhookUrl) reporter.setSecret(webhookUrl);
    if (deployments) {
      reporter.setSecret(deployments.token);
      this.deployment = new GitHubDeployment(deps.github ?? githubClient(deployments.token, reporter, deployments.apiUrl), deployments, reporter);
    }
  }

  /** Whether there is anyone to tell: without a token and a webhook, the step need not gather facts. */
  get active(): boolean {
    return this.deployment !== undefined || this.config.report.webhookUrl !== undefined;
  }

  private get runUrl(): string | undefined {
    // Outside Actions the run "URL" is a description of the CLI process.
    return /^https?:\/\//.test(this.config.run.runUrl) ? this.config.run.runUrl : undefined;
  }

  /** Before the command changes anything: the deployment goes in_progress. */
  async started(facts: RolloutFacts = {}): Promise<void> {
    const d = this.config.report.deployments;
    if (!this.deployment || !d) return;
    const { namespace, app } = this.config.target;
    await this.deployment.begin({
      command: this.command,
      sha: this.command === 'rollback' ? facts.restoredCommit ?? d.sha : this.command === 'deploy' ? d.sha : facts.rolloutCommit ?? d.sha,
      ...(facts.rolloutCommit ? { rolloutCommit: facts.rolloutCommit } : {}),
      ...(this.runUrl ? { logUrl: this.runUrl } : {}),
      description: `Gantry ${this.command} of ${namespace}/${app}`,
      payload: { gantry: { command: this.command, namespace, app } },
    });
  }

  /** The command's outcome: the deployment's status, and a message when it is news. Returns the headline. */
  async finished(outcome: RolloutOutcome, facts: RolloutFacts = {}): Promise<string> {
    const line = headline(outcome, this.config.target, { ...facts, command: this.command });
    await this.deployment?.finish(outcome, this.command, line);
    const event = notifyEvent(outcome, this.command);
    if (event) {
      await this.send({ event, headline: line, ...(outcome.reason ? { reason: outcome.reason } : {}) },
        this.command === 'rollback' ? facts.restoredCommit : this.command === 'deploy' ? this.config.run.commit : facts.rolloutCommit);
    }
    return line;
  }

  /** The command failed before it had an outcome (bad manifests, a held lock, an unreachable cluster). */
  async failed(err: unknown): Promise<void> {
    const e = toGantryError(err);
    const line = `Failed: ${e.message.split('\n')[0]}`;
    await this.deployment?.error(line);
    await this.send({ event: 'failure', headline: line, reason: e.message }, this.config.run.commit);
  }

  private async send(m: { event: Parameters<typeof webhookMessage>[0]['event']; headline: string; reason?: string }, commit: string | undefined): Promise<void> {
    const url = this.config.report.webhookUrl;
    if (!url) return;
    const { environment, environmentUrl } = this.config.report;
    const message = webhookMessage({
      ...m, target: this.config.target, environment,
      ...(this.runUrl ? { runUrl: this.runUrl } : {}),
      ...(environmentUrl ? { environmentUrl } : {}),
      ...(commit ? { commit } : {}),
    });
    await notify(url, message, this.reporter, this.deps.notify);
  }
}
