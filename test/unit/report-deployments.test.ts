// A rollout as GitHub shows it: the deployment's statuses, checked against the recording
// GitHub server (which validates every call against GitHub's OpenAPI description).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentsConfig } from '../../src/config/report.js';
import { GitHubDeployment, deploymentState, statusDescription } from '../../src/report/deployments.js';
import { githubClient } from '../../src/report/github.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import type { RolloutOutcome } from '../../src/strategies/basic.js';
import { FakeGitHub } from '../support/github-api.js';

const SHA = 'c0ffee'.padEnd(40, '0');
const OLD_SHA = 'bad'.padEnd(40, '1');
const RUN_URL = 'https://github.com/acme/web/actions/runs/77';
let gh: FakeGitHub;
let repoCount = 0;
beforeAll(async () => {
  gh = await FakeGitHub.start({ token: 'good-token' });
});
afterAll(() => gh.stop());

/** Each test gets its own repository on the shared server. */
function setup(overrides: Partial<DeploymentsConfig> = {}, token = 'good-token') {
  const repo = `web${++repoCount}`;
  const config: DeploymentsConfig = { token, apiUrl: gh.url, owner: 'acme', repo, sha: SHA, ref: 'refs/heads/main', environment: 'production', production: true, environmentUrl: 'https://web.example', ...overrides };
  const reporter = new MemoryReporter();
  const deployment = new GitHubDeployment(githubClient(token, reporter, gh.url), config, reporter);
  const start = { command: 'deploy' as const, sha: SHA, logUrl: RUN_URL, description: 'Gantry deploy of prod/web', payload: { gantry: { app: 'web' } } };
  const requests = () => gh.requests.filter((r) => r.path.startsWith(`/repos/acme/${repo}/`));
  return { repo, config, reporter, deployment, start, requests };
}

const outcome = (result: RolloutOutcome['result'], reason?: string): RolloutOutcome => ({ result, revision: 5, previousRevision: 4, changed: [], timings: { totalMs: 1000 }, ...(reason ? { reason } : {}) });

describe('GitHubDeployment', () => {
  it('records a good deploy: created at the commit, in_progress with the log, success with the URL, the previous production one inactive', async () => {
    const { repo, deployment, start, requests } = setup();
    const previous = gh.seedDeployment('acme', repo, { environment: 'production', sha: OLD_SHA, creator: 'someone', state: 'success' });
    await deployment.begin(start);
    await deployment.finish(outcome('deployed'), 'deploy', 'Deployed r5');

    const [mine, ...rest] = gh.deployments('acme', repo).filter((d) => d.id !== previous);
    expect(rest).toEqual([]);
    expect(mine).toMatchObject({ sha: SHA, environment: 'production', production_environment: true, transient_environment: false });
    expect(mine!.statuses).toEqual([
      expect.objectContaining({ state: 'in_progress', log_url: RUN_URL, description: 'Gantry deploy of prod/web' }),
      expect.objectContaining({ state: 'success', environment_url: 'https://web.example', description: 'Deployed r5' }),
    ]);
    const created = requests().find((r) => r.operation === 'repos/create-deployment')!;
    expect(created.body).toMatchObject({ ref: SHA, auto_merge: false, required_contexts: [] });
    expect(gh.deployments('acme', repo).find((d) => d.id === previous)!.statuses.map((s) => s.state)).toEqual(['success', 'inactive']);
    expect(requests().filter((r) => r.problems.length > 0)).toEqual([]);
  });

  it('creates no second deployment when the job declares the environment: it updates GitHub\'s own', async () => {
    const { repo, deployment, start, requests } = setup();
    const own = gh.seedDeployment('acme', repo, { environment: 'production', sha: SHA, state: 'in_progress' });
    await deployment.begin(start);
    await deployment.finish(outcome('deployed'), 'deploy', 'Deployed r5');
    expect(requests().filter((r) => r.operation === 'repos/create-deployment')).toEqual([]);
    expect(gh.deployments('acme', repo).map((d) => d.id)).toEqual([own]);
    expect(gh.deployments('acme', repo)[0]!.statuses.map((s) => s.state)).toEqual(['in_progress', 'in_progress', 'success']);
  });

  it('does not take over a finished deployment of an earlier run at the same commit', async () => {
    const { repo, deployment, start } = setup();
    const earlier = gh.seedDeployment('acme', repo, { environment: 'production', sha: SHA, state: 'failure' });
    await deployment.begin(start);
    expect(deployment.id).not.toBe(earlier);
    expect(gh.deployments('acme', repo)).toHaveLength(2);
  });

  it('records a rollback as failure, with the reason cut to GitHub\'s 140 characters', async () => {
    const { repo, deployment, start, requests } = setup({ environment: 'staging', production: false });
    const previous = gh.seedDeployment('acme', repo, { environment: 'staging', sha: OLD_SHA, state: 'success' });
    const line = `Rolled back: Deployment/web: CrashLoopBackOff of web-7d9 (container web exited 1: ${'panic: '.repeat(30)})`;
    await deployment.begin(start);
    await deployment.finish(outcome('rolled-back', line), 'deploy', line);
    const mine = gh.deployments('acme', repo).find((d) => d.id !== previous)!;
    expect(mine.statuses.map((s) => s.state)).toEqual(['in_progress', 'failure']);
    const description = mine.statuses[1]!.description!;
    expect(description).toHaveLength(140);
    expect(description.startsWith('Rolled back: Deployment/web: CrashLoopBackOff')).toBe(true);
    expect(mine.statuses[1]!.environment_url).toBeUndefined();
    // The previous version serves again: its deployment stays active.
    expect(gh.deployments('acme', repo).find((d) => d.id === previous)!.statuses.map((s) => s.state)).toEqual(['success']);
    expect(requests().filter((r) => r.problems.length > 0)).toEqual([]);
  });

  it('keeps a paused canary in progress, saying where it waits; the promote run finishes the same deployment', async () => {
    const first = setup();
    await first.deployment.begin(first.start);
    await first.deployment.finish(outcome('paused'), 'deploy', 'Paused at step 2/4 with 25 % — awaiting promote');
    // The promote runs later from another commit (a workflow_dispatch on main's head).
    const promote = new GitHubDeployment(githubClient('good-token', first.reporter, gh.url), { ...first.config, sha: 'f'.repeat(40) }, first.reporter);
    await promote.begin({ ...first.start, command: 'promote', sha: SHA, rolloutCommit: SHA, description: 'Gantry promote of prod/web' });
    await promote.finish(outcome('deployed'), 'promote', 'Promoted r5');
    const all = gh.deployments('acme', first.repo);
    expect(all).toHaveLength(1);
    expect(all[0]!.statuses.map((s) => [s.state, s.description])).toEqual([
      ['in_progress', 'Gantry deploy of prod/web'],
      ['in_progress', 'Paused at step 2/4 with 25 % — awaiting promote'],
      ['in_progress', 'Gantry promote of prod/web'],
      ['success', 'Promoted r5'],
    ]);
  });

  it('records an abort as inactive, and creates nothing when no deployment is in progress', async () => {
    const { repo, deployment, start } = setup();
    await deployment.begin(start);
    await deployment.finish(outcome('paused'), 'deploy', 'Paused');
    const abort = setup();
    const aborting = new GitHubDeployment(githubClient('good-token', abort.reporter, gh.url), { ...abort.config, repo }, abort.reporter);
    await aborting.begin({ ...start, command: 'abort', rolloutCommit: SHA });
    await aborting.finish(outcome('aborted', 'aborted by https://github.com/acme/web/actions/runs/78'), 'abort', 'Aborted r5');
    expect(gh.deployments('acme', repo)[0]!.statuses.map((s) => s.state)).toEqual(['in_progress', 'in_progress', 'in_progress', 'inactive']);

    const nothing = setup();
    await nothing.deployment.begin({ ...nothing.start, command: 'abort' });
    expect(gh.deployments('acme', nothing.repo)).toEqual([]);
    expect(nothing.reporter.lines).toContain('GitHub: no deployment of production is in progress; the abort records none');
  });

  it('warns once and never throws when GitHub refuses the token', async () => {
    const { repo, deployment, start, reporter } = setup({}, 'expired-token');
    await deployment.begin(start);
    await deployment.finish(outcome('deployed'), 'deploy', 'Deployed r5');
    expect(gh.deployments('acme', repo)).toEqual([]);
    expect(reporter.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^GitHub Deployments: could not record the deployment: HTTP 401, Bad credentials.*The rollout goes on.*Check github-token/)]);
  });

  it('retries a secondary rate limit and still records the status', async () => {
    const { repo, deployment, start, reporter } = setup();
    gh.rateLimitNext('POST', new RegExp(`/repos/acme/${repo}/deployments/\\d+/statuses$`), 1);
    await deployment.begin(start);
    expect(gh.deployments('acme', repo)[0]!.statuses.map((s) => s.state)).toEqual(['in_progress']);
    expect(reporter.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/secondary rate limit/)]);
  });
});

describe('deployment states', () => {
  it.each([
    ['deployed', 'deploy', 'success'],
    ['paused', 'deploy', 'in_progress'],
    ['rolled-back', 'deploy', 'failure'],
    ['rolled-back', 'rollback', 'success'],
    ['failed', 'promote', 'failure'],
    ['aborted', 'abort', 'inactive'],
  ] as const)('%s after %s is %s', (result, command, state) => {
    expect(deploymentState(outcome(result), command).state).toBe(state);
  });

  it('keeps descriptions on one line within 140 characters', () => {
    expect(statusDescription('a\n  b')).toBe('a b');
    expect(statusDescription('x'.repeat(200))).toBe(`${'x'.repeat(139)}…`);
  });
});
