// Deploys of the sample app on the real stack, run through the built dist/deploy bundle the
// way the Actions runner runs it, with GitHub played by the recording server (every call
// checked against GitHub's OpenAPI description) and a local Slack-style webhook receiver.
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runBundle } from '../support/bundle.js';
import { FakeGitHub } from '../support/github-api.js';
import { stack, uniqueName } from '../support/stack.js';
import { WebhookReceiver } from '../support/webhook.js';
import { sampleFiles, workspace } from '../fixtures/deploy/sample.js';

const { sampleImage } = stack();
const ENVIRONMENT_URL = 'https://web.example.com';
let gh: FakeGitHub;
let receiver: WebhookReceiver;
let ns: string;
let repo: string;

beforeAll(async () => {
  [gh, receiver] = await Promise.all([FakeGitHub.start({ token: 'ghs_runtoken' }), WebhookReceiver.start()]);
});
afterAll(async () => {
  await Promise.all([gh.stop(), receiver.stop()]);
});
beforeEach(() => {
  ns = uniqueName('ghdeploy');
  repo = ns; // one repository per test on the shared recording server
  execFileSync('kubectl', ['create', 'namespace', ns], { stdio: 'pipe' });
});
afterEach(() => {
  execFileSync('kubectl', ['delete', 'namespace', ns, '--wait=false'], { stdio: 'pipe' });
});

const sha = (n: number): string => n.toString(16).padStart(40, 'c');
const runUrl = (run: string): string => `https://github.com/acme/${repo}/actions/runs/${run}`;

const reportInputs = () => ({ 'github-token': 'ghs_runtoken', environment: 'production', 'environment-url': ENVIRONMENT_URL, 'webhook-url': receiver.url });
const runnerEnv = (run: string, commit: string, ws: string) => ({
  GITHUB_WORKSPACE: ws, GITHUB_RUN_ID: run, GITHUB_JOB: 'deploy',
  GITHUB_REPOSITORY: `acme/${repo}`, GITHUB_SERVER_URL: 'https://github.com', GITHUB_SHA: commit, GITHUB_REF: 'refs/heads/main',
  GITHUB_API_URL: gh.url,
});

/** One run of dist/deploy for commit `commit`, with the GitHub and webhook inputs set. */
function deploy(image: string, run: string, commit: string, env: Record<string, string> = {}, inputs: Record<string, string> = {}) {
  return runBundle('deploy', {
    inputs: { manifests: 'k8s', namespace: ns, app: 'web', timeout: '90s', ...reportInputs(), ...inputs },
    env: runnerEnv(run, commit, workspace(sampleFiles({ image, env, replicas: 2 }))),
    timeoutMs: 170_000,
  });
}

/** Messages the webhook got about this test's target. */
const messagesHere = () => receiver.messages.filter((m) => JSON.stringify(m.body).includes(`${ns}/web`));

const statesOf = (id: number) => gh.deployments('acme', repo).find((d) => d.id === id)!.statuses;

describe('GitHub Deployments and notifications of dist/deploy', () => {
  it('a good deploy goes in_progress then success with the URL, and the previous deployment becomes inactive', async () => {
    const v1 = await deploy(`${sampleImage}:v1`, '1001', sha(1));
    expect(v1.exitCode, v1.stdout + v1.stderr).toBe(0);
    const v2 = await deploy(`${sampleImage}:v2`, '1002', sha(2));
    expect(v2.exitCode, v2.stdout + v2.stderr).toBe(0);
    expect(v2.outputs.result).toBe('deployed');

    const [first, second, ...more] = gh.deployments('acme', repo);
    expect(more).toEqual([]);
    expect(first).toMatchObject({ sha: sha(1), environment: 'production' });
    expect(second).toMatchObject({ sha: sha(2), environment: 'production', production_environment: true });
    expect(statesOf(second!.id).map((s) => [s.state, s.log_url, s.environment_url])).toEqual([
      ['in_progress', runUrl('1002'), undefined],
      ['success', runUrl('1002'), ENVIRONMENT_URL],
    ]);
    expect(statesOf(second!.id)[1]!.description).toBe('Deployed r2');
    expect(statesOf(first!.id).map((s) => s.state)).toEqual(['in_progress', 'success', 'inactive']);
    expect(gh.invalid()).toEqual([]);
    // A plain successful deploy is no news for the webhook.
    expect(messagesHere()).toEqual([]);
  }, 400_000);

  it('a bad version goes in_progress then failure, the webhook gets one rollback message with the reason, and the step fails with it', async () => {
    const v1 = await deploy(`${sampleImage}:v1`, '2001', sha(3));
    expect(v1.exitCode, v1.stdout + v1.stderr).toBe(0);
    const bad = await deploy(`${sampleImage}:v2`, '2002', sha(4), { CRASH_ON_START: '1' });

    expect(bad.exitCode).toBe(1);
    expect(bad.outputs.result).toBe('rolled-back');
    // The step's own failure, after the wait's annotation of the crashing pod.
    expect(bad.annotations.filter((a) => a.startsWith('::error'))).toContainEqual(expect.stringMatching(/^::error title=Rolled back::The rollout failed and was rolled back: .*CrashLoopBackOff/));

    const deployment = gh.deployments('acme', repo).find((d) => d.sha === sha(4))!;
    const statuses = statesOf(deployment.id);
    expect(statuses.map((s) => s.state)).toEqual(['in_progress', 'failure']);
    expect(statuses[1]!.description).toMatch(/^Rolled back: .*CrashLoopBackOff/);
    expect(statuses[1]!.description!.length).toBeLessThanOrEqual(140);
    // The version that serves again keeps its deployment active.
    expect(statesOf(gh.deployments('acme', repo).find((d) => d.sha === sha(3))!.id).map((s) => s.state)).toEqual(['in_progress', 'success']);

    const messages = messagesHere();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.body.text).toMatch(new RegExp(`^↩️ ${ns}/web \\(production\\): Rolled back: .*CrashLoopBackOff`));
    expect(JSON.stringify(messages[0]!.body.blocks)).toContain(`<${runUrl('2002')}|View the run>`);
    // The evidence, not the routine events: the crashing container's last words.
    expect(JSON.stringify(messages[0]!.body.blocks)).toContain('CRASH_ON_START is set; exiting with status 1');
    // The webhook URL and the token reach the log only in the runner's mask commands.
    const leaks = (bad.stdout + bad.stderr).split('\n').filter((l) => (l.includes(receiver.url) || l.includes('ghs_runtoken')) && !l.startsWith('::add-mask::'));
    expect(leaks).toEqual([]);
    expect(gh.invalid()).toEqual([]);
  }, 400_000);

  it('creates no second deployment when the job declares the environment: GitHub\'s own gets the statuses', async () => {
    const own = gh.seedDeployment('acme', repo, { environment: 'production', sha: sha(5), state: 'in_progress' });
    const run = await deploy(`${sampleImage}:v1`, '3001', sha(5));
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(gh.deployments('acme', repo).map((d) => d.id)).toEqual([own]);
    expect(gh.calls('repos/create-deployment').filter((r) => r.path.includes(repo))).toEqual([]);
    expect(statesOf(own).map((s) => [s.state, s.environment_url])).toEqual([['in_progress', undefined], ['in_progress', undefined], ['success', ENVIRONMENT_URL]]);
    expect(run.stdout).toContain(`GitHub deployment ${own} (production): GitHub's deployment for this job's environment`);
    expect(gh.invalid()).toEqual([]);
  }, 400_000);

  it('a paused canary stays in_progress saying where it waits; a promote from a later run finishes the same deployment', async () => {
    const v1 = await deploy(`${sampleImage}:v1`, '4001', sha(6));
    expect(v1.exitCode, v1.stdout + v1.stderr).toBe(0);
    const canary = await deploy(`${sampleImage}:v2`, '4002', sha(7), {}, { strategy: 'canary', steps: '- setWeight: 50\n- pause: {}\n- setWeight: 100\n' });
    expect(canary.exitCode, canary.stdout + canary.stderr).toBe(0);
    expect(canary.outputs.result).toBe('paused');
    const rollout = gh.deployments('acme', repo).find((d) => d.sha === sha(7))!;
    expect(statesOf(rollout.id).map((s) => [s.state, s.description])).toEqual([
      ['in_progress', `Gantry deploy of ${ns}/web`],
      ['in_progress', 'Paused at step 2/3 with 50 % — awaiting promote'],
    ]);

    // The promote runs from a workflow_dispatch on another commit: it continues the canary's deployment.
    const promote = await runBundle('promote', { inputs: { namespace: ns, app: 'web', timeout: '90s', ...reportInputs() }, env: runnerEnv('4003', sha(8), workspace({})), timeoutMs: 170_000 });
    expect(promote.exitCode, promote.stdout + promote.stderr).toBe(0);
    expect(promote.outputs.result).toBe('deployed');
    expect(gh.deployments('acme', repo).map((d) => d.sha)).toEqual([sha(6), sha(7)]);
    expect(statesOf(rollout.id).slice(2).map((s) => [s.state, s.description, s.log_url, s.environment_url])).toEqual([
      ['in_progress', `Gantry promote of ${ns}/web`, runUrl('4003'), undefined],
      ['success', 'Promoted r2', runUrl('4003'), ENVIRONMENT_URL],
    ]);
    expect(statesOf(gh.deployments('acme', repo).find((d) => d.sha === sha(6))!.id).map((s) => s.state)).toEqual(['in_progress', 'success', 'inactive']);
    expect(messagesHere().map((m) => m.body.text)).toEqual([
      `⏸️ ${ns}/web (production): Paused at step 2/3 with 50 % — awaiting promote`,
      `✅ ${ns}/web (production): Promoted r2`,
    ]);
    expect(gh.invalid()).toEqual([]);
  }, 400_000);

  it('an on-demand rollback records a deployment of the restored commit, and the replaced one goes inactive', async () => {
    for (const [n, image] of [[9, 'v1'], [10, 'v2']] as const) {
      const run = await deploy(`${sampleImage}:${image}`, `500${n}`, sha(n));
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    }
    const back = await runBundle('rollback', { inputs: { namespace: ns, app: 'web', timeout: '90s', ...reportInputs() }, env: runnerEnv('5011', sha(11), workspace({})), timeoutMs: 170_000 });
    expect(back.exitCode, back.stdout + back.stderr).toBe(0);
    const [v1, v2, restored, ...more] = gh.deployments('acme', repo);
    expect(more).toEqual([]);
    expect(restored!.sha).toBe(sha(9));
    expect(statesOf(restored!.id).map((s) => [s.state, s.description])).toEqual([
      ['in_progress', `Gantry rollback of ${ns}/web`],
      ['success', `Rolled back ${ns}/web to r1 (now r3)`],
    ]);
    expect(statesOf(v2!.id).map((s) => s.state)).toEqual(['in_progress', 'success', 'inactive']);
    expect(statesOf(v1!.id).map((s) => s.state)).toEqual(['in_progress', 'success', 'inactive']);
    expect(messagesHere().map((m) => m.body.text)).toEqual([`↩️ ${ns}/web (production): Rolled back ${ns}/web to r1 (now r3)`]);
    expect(gh.invalid()).toEqual([]);
  }, 400_000);
});
