// The built dist/plan as the runner runs it on a pull_request event, against the real
// cluster and the recording GitHub API: one sticky comment, edited by the next run; a YAML
// error annotated at file:line fails the check; and nothing in the cluster changes.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBundle } from '../support/bundle.js';
import { FakeGitHub } from '../support/github-api.js';
import { stack, uniqueName } from '../support/stack.js';
import { configYaml, deploymentYaml, sampleFiles, serviceYaml, workspace } from '../fixtures/deploy/sample.js';

const { sampleImage } = stack();
const EVENT = join(import.meta.dirname, '../fixtures/events/pull-request.json');
let ns: string;
let gh: FakeGitHub;

beforeAll(async () => {
  ns = uniqueName('plan');
  execFileSync('kubectl', ['create', 'namespace', ns], { stdio: 'pipe' });
  gh = await FakeGitHub.start({ token: 'ghs_plan' });
  // What main runs now: v1 with an extra ConfigMap, deployed by Gantry (so it is revision 1 in the history).
  const files = { ...sampleFiles({ image: `${sampleImage}:v1` }), 'k8s/extra.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-extra\ndata:\n  A: "1"\n' };
  const v1 = await runBundle('deploy', { inputs: { manifests: 'k8s', namespace: ns, app: 'web', timeout: '90s' }, env: { GITHUB_WORKSPACE: workspace(files), GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '1', GITHUB_SHA: 'c0ffee' }, timeoutMs: 170_000 });
  expect(v1.outputs.result, v1.stdout + v1.stderr).toBe('deployed');
}, 200_000);

afterAll(async () => {
  await gh?.stop();
  if (ns) execFileSync('kubectl', ['delete', 'namespace', ns, '--wait=false'], { stdio: 'pipe' });
});

const prEnv = (ws: string, run: string, extra: Record<string, string> = {}) => ({
  GITHUB_WORKSPACE: ws, GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: EVENT, GITHUB_REPOSITORY: 'acme/shop',
  GITHUB_SHA: 'f0e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d', GITHUB_RUN_ID: run, GITHUB_SERVER_URL: 'https://github.com', GITHUB_API_URL: gh.url, ...extra,
});
const inputs = () => ({ manifests: 'k8s', namespace: ns, app: 'web', 'github-token': 'ghs_plan' });
const liveImage = () => execFileSync('kubectl', ['get', 'deployment', 'web', '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].image}'], { encoding: 'utf8' });

describe('dist/plan on a pull request', () => {
  it('comments the plan once, and the next run edits that comment instead of adding one', async () => {
    const v2 = workspace(sampleFiles({ image: `${sampleImage}:v2`, config: { GREETING: 'hej' } }));
    const started = Date.now();
    const first = await runBundle('plan', { inputs: inputs(), env: prEnv(v2, '11'), timeoutMs: 60_000 });
    const firstMs = Date.now() - started;
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(first.outputs).toMatchObject({ changes: '2', 'has-changes': 'true' });
    const planned = JSON.parse(first.outputs.plan!) as { diff: Record<string, unknown> };
    expect(planned.diff).toMatchObject({
      status: 'done', validation: 'dry-run', create: [],
      change: expect.arrayContaining([
        { object: 'ConfigMap/web-config', fields: ['data.GREETING'] },
        { object: 'Deployment/web', fields: ['spec.template.spec.containers[app].image'] },
      ]),
      // Server defaults (imagePullPolicy, clusterIP, …) and Gantry's trace are no change: the Service is untouched.
      unchanged: 1,
      dropped: [{ name: 'ConfigMap/web-extra', revision: 1 }],
    });
    let comments = gh.comments('acme', 'shop', 57);
    expect(comments).toHaveLength(1);
    const { id } = comments[0]!;
    expect(comments[0]!.body).toMatch(new RegExp(`^<!-- gantry-plan: ${ns}/web -->`));
    expect(comments[0]!.body).toContain(`-          image: ${sampleImage}:v1`);
    expect(comments[0]!.body).toContain(`+          image: ${sampleImage}:v2`);
    expect(first.summary).toContain('| ✏️ change | `Deployment/web` | `spec.template.spec.containers[app].image` |');
    // A plan changes nothing.
    expect(liveImage()).toBe(`${sampleImage}:v1`);

    const v3 = workspace({ ...sampleFiles({ image: `${sampleImage}:v2`, config: { GREETING: 'hej' }, replicas: 2 }) });
    const second = await runBundle('plan', { inputs: inputs(), env: prEnv(v3, '12'), timeoutMs: 60_000 });
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    comments = gh.comments('acme', 'shop', 57);
    expect(comments.map((c) => c.id)).toEqual([id]);
    expect(comments[0]!.body).toMatch(/`Deployment\/web` \| `spec\.replicas`, `spec\.template\.spec\.containers\[app\]\.image` \|/);
    expect(gh.calls('issues/create-comment')).toHaveLength(1);
    expect(gh.calls('issues/update-comment')).toHaveLength(1);
    expect(gh.invalid()).toEqual([]);
    console.info(`plan bundle against the stack: ${firstMs} ms`);
  }, 150_000);

  it('fails on a YAML error with an annotation at its file:line, and says so in the comment', async () => {
    const broken = workspace({
      'k8s/config.yaml': configYaml({ image: '' }),
      'k8s/service.yaml': serviceYaml({ image: '' }),
      'k8s/deployment.yaml': deploymentYaml({ image: `${sampleImage}:v2` }).replace('  replicas: 1\n', '  replicas: 1\n  selector: [unclosed\n'),
    });
    const run = await runBundle('plan', { inputs: inputs(), env: prEnv(broken, '13'), timeoutMs: 60_000 });
    expect(run.exitCode).toBe(1);
    expect(run.annotations.some((a) => /^::error .*file=k8s\/deployment\.yaml,line=(9|10)\b/.test(a)), run.stdout).toBe(true);
    const comments = gh.comments('acme', 'shop', 57);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain('❌ **The plan failed**');
    expect(comments[0]!.body).toMatch(/`k8s\/deployment\.yaml:(9|10)(:\d+)?`/);
    expect(gh.invalid()).toEqual([]);
  }, 90_000);

  it('without a kubeconfig still renders and validates, and says the diff was skipped', async () => {
    const run = await runBundle('plan', { inputs: inputs(), env: prEnv(workspace(sampleFiles({ image: `${sampleImage}:v2` })), '14', { KUBECONFIG: '' }), timeoutMs: 60_000 });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.outputs).toMatchObject({ changes: '', 'has-changes': '' });
    expect(run.summary).toContain('**diff skipped**: no kubeconfig was given');
    expect(gh.comments('acme', 'shop', 57)[0]!.body).toContain('**diff skipped**');
    expect(gh.invalid()).toEqual([]);
  }, 90_000);

  it('diffs a blue-green target against its live twin web-r1, not as a new Deployment', async () => {
    const bg = uniqueName('plan-bg');
    execFileSync('kubectl', ['create', 'namespace', bg], { stdio: 'pipe' });
    try {
      const deployInputs = { manifests: 'k8s', namespace: bg, app: 'web', timeout: '90s', strategy: 'blue-green', 'scale-down-delay': '1s' };
      const v1 = await runBundle('deploy', { inputs: deployInputs, env: { GITHUB_WORKSPACE: workspace(sampleFiles({ image: `${sampleImage}:v1` })), GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '21', GITHUB_SHA: 'c0ffee' }, timeoutMs: 170_000 });
      expect(v1.outputs.result, v1.stdout + v1.stderr).toBe('deployed');
      const run = await runBundle('plan', { inputs: { ...inputs(), namespace: bg, strategy: 'blue-green', comment: 'false' }, env: prEnv(workspace(sampleFiles({ image: `${sampleImage}:v2` })), '22'), timeoutMs: 60_000 });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      expect(JSON.parse(run.outputs.plan!)).toMatchObject({ diff: { status: 'done', create: [], change: [{ object: 'Deployment/web', liveAs: 'web-r1', fields: ['spec.template.spec.containers[app].image'] }], unchanged: 2 } });
      expect(run.summary).toContain('**blue-green**');
    } finally {
      execFileSync('kubectl', ['delete', 'namespace', bg, '--wait=false'], { stdio: 'pipe' });
    }
  }, 200_000);
});
