// The plan's sticky PR comment against the recording GitHub API (every request checked
// against GitHub's OpenAPI description): one comment per target, edited in place, never
// duplicated, written only for pull requests, and a failed plan replaces a stale one.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readGitContext } from '../../src/config/build-push.js';
import { parsePlanConfig, type PlanConfig } from '../../src/config/plan.js';
import { MapSource } from '../../src/config/source.js';
import { githubClient } from '../../src/report/github.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { marker, upsertComment } from '../../src/report/sticky-comment.js';
import { runPlanStep } from '../../src/strategies/plan-step.js';
import { FakeCluster } from '../fixtures/deploy/fake-cluster.js';
import { configYaml, serviceYaml, workspace } from '../fixtures/deploy/sample.js';
import { FakeGitHub } from '../support/github-api.js';

const EVENTS = join(import.meta.dirname, '../fixtures/events');
let gh: FakeGitHub;
beforeEach(async () => {
  gh = await FakeGitHub.start({ token: 'ghs_test' });
});
afterEach(async () => {
  await gh.stop();
});

function config(files: Record<string, string>, event = 'pull-request.json', eventName = 'pull_request', inputs: Record<string, string> = {}): PlanConfig {
  const env = { GITHUB_EVENT_PATH: join(EVENTS, event), GITHUB_EVENT_NAME: eventName, GITHUB_REPOSITORY: 'acme/shop', GITHUB_SHA: 'f0e1d2c3', GITHUB_RUN_ID: '77', GITHUB_WORKSPACE: workspace(files), KUBECONFIG: '/kubeconfig' };
  return parsePlanConfig(new MapSource({ manifests: 'k8s', app: 'web', namespace: 'default', 'github-token': 'ghs_test', ...inputs }, 'input'), readGitContext(env), env);
}

const deps = (cluster = new FakeCluster()) => ({ client: cluster, github: (token: string) => githubClient(token, new MemoryReporter(), gh.url) });

describe('the plan comment on a pull request', () => {
  it('is created once, then edited in place by the next run; no second comment appears', async () => {
    const cluster = new FakeCluster();
    const first = await runPlanStep(config({ 'k8s/config.yaml': configYaml({ image: '' }) }), new MemoryReporter(), deps(cluster));
    expect(first.diff.status).toBe('done');
    const comments = gh.comments('acme', 'shop', 57);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toMatch(/^<!-- gantry-plan: default\/web -->\n### Gantry plan: `default\/web`/);
    expect(comments[0]!.body).toContain('| ➕ create | `ConfigMap/web-config` | new |');
    const id = comments[0]!.id;

    const reporter = new MemoryReporter();
    await runPlanStep(config({ 'k8s/config.yaml': configYaml({ image: '' }), 'k8s/service.yaml': serviceYaml({ image: '' }) }), reporter, deps(cluster));
    const after = gh.comments('acme', 'shop', 57);
    expect(after.map((c) => c.id)).toEqual([id]);
    expect(after[0]!.body).toContain('| ➕ create | `Service/web` | new |');
    expect(gh.calls('issues/create-comment')).toHaveLength(1);
    expect(gh.calls('issues/update-comment')).toHaveLength(1);
    expect(reporter.lines).toContain(`PR comment updated: https://github.com/acme/shop/issues/57#issuecomment-${id}`);
    expect(gh.invalid()).toEqual([]);
  });

  it('leaves other comments alone and removes duplicates of its own', async () => {
    const mark = marker('gantry-plan: default/web');
    const person = gh.seedComment('acme', 'shop', 57, 'LGTM, but see the plan');
    const other = gh.seedComment('acme', 'shop', 57, `${marker('gantry-plan: prod/web')}\nanother target's plan`);
    const oldest = gh.seedComment('acme', 'shop', 57, `${mark}\nold plan`);
    gh.seedComment('acme', 'shop', 57, `${mark}\nduplicate from a race`);
    const github = githubClient('ghs_test', new MemoryReporter(), gh.url);
    const result = await upsertComment(github, { owner: 'acme', repo: 'shop', issue: 57 }, mark, `${mark}\nnew plan`);
    expect(result).toMatchObject({ action: 'updated', id: oldest });
    expect(gh.comments('acme', 'shop', 57).map((c) => [c.id, c.body.split('\n').at(-1)])).toEqual([[person, 'LGTM, but see the plan'], [other, "another target's plan"], [oldest, 'new plan']]);
    // Said twice, the same plan is not written again.
    expect(await upsertComment(github, { owner: 'acme', repo: 'shop', issue: 57 }, mark, `${mark}\nnew plan`)).toMatchObject({ action: 'unchanged' });
    expect(gh.calls('issues/update-comment')).toHaveLength(1);
    expect(gh.invalid()).toEqual([]);
  });

  it('finds its comment beyond the first page of a long discussion', async () => {
    const mark = marker('gantry-plan: default/web');
    for (let i = 0; i < 130; i++) gh.seedComment('acme', 'shop', 57, `comment ${i}`, 'ada');
    const mine = gh.seedComment('acme', 'shop', 57, `${mark}\nold plan`);
    const result = await upsertComment(githubClient('ghs_test', new MemoryReporter(), gh.url), { owner: 'acme', repo: 'shop', issue: 57 }, mark, `${mark}\nnew plan`);
    expect(result).toMatchObject({ action: 'updated', id: mine });
    expect(gh.calls('issues/create-comment')).toEqual([]);
  });

  it('replaces a stale plan with the errors when the manifests no longer validate, and fails', async () => {
    const cluster = new FakeCluster();
    await runPlanStep(config({ 'k8s/config.yaml': configYaml({ image: '' }) }), new MemoryReporter(), deps(cluster));
    const broken = config({ 'k8s/config.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  A: "unterminated\n' });
    await expect(runPlanStep(broken, new MemoryReporter(), deps(cluster))).rejects.toThrow(/k8s\/config\.yaml/);
    const comments = gh.comments('acme', 'shop', 57);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain('❌ **The plan failed**');
    expect(comments[0]!.body).toMatch(/`k8s\/config\.yaml:\d+(:\d+)?`/);
    expect(gh.invalid()).toEqual([]);
  });

  it('is not written for a push, nor when commenting is off; the summary still has the plan', async () => {
    const push = new MemoryReporter();
    await runPlanStep(config({ 'k8s/config.yaml': configYaml({ image: '' }) }, 'push-branch.json', 'push'), push, deps());
    expect(push.lines).toContain('no PR comment: the event is push, not a pull request');
    const off = new MemoryReporter();
    await runPlanStep(config({ 'k8s/config.yaml': configYaml({ image: '' }) }, 'pull-request.json', 'pull_request', { comment: 'false' }), off, deps());
    expect(off.lines).toContain('no PR comment: input "comment" is false');
    expect(off.summaries[0]).toMatch(/^<!-- gantry-plan: default\/web -->/);
    expect(gh.requests).toEqual([]);
  });

  it('warns, and still passes, when the token may not comment', async () => {
    const reporter = new MemoryReporter();
    const cfg = config({ 'k8s/config.yaml': configYaml({ image: '' }) });
    cfg.comment!.token = 'ghs_read_only';
    await runPlanStep(cfg, reporter, deps());
    expect(reporter.warnings[0]!.message).toMatch(/could not write the plan to pull request #57 \(HTTP 401\).*The plan is in the job summary/);
    expect(reporter.secrets).toContain('ghs_read_only');
  });
});
