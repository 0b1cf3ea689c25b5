// The manual and PR-check starters (workflows/manual.yml, workflows/pr-check.yml), copied
// unchanged into a throwaway repository and run for real under act against the local cluster
// and the recording GitHub API:
// - workflow_dispatch deploy of an image by digest (the first deploy), then of the next one,
//   which stops at the rollout's pause;
// - a pull_request: the plan is posted as one sticky comment; a YAML error fails the check
//   with an annotation at its file:line;
// - workflow_dispatch promote of the paused canary, from its own run;
// - workflow_dispatch rollback to the previous revision.
// No kubeconfig credential or token may appear in any run's output.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flatKubeconfig, kubeconfigCredentials, outputOf, runAct, type ActRun } from '../support/act.js';
import { REPO_ROOT } from '../support/bundle.js';
import { FakeGitHub } from '../support/github-api.js';
import { stack, uniqueName } from '../support/stack.js';

const { kubeconfig, sampleImage, registry } = stack();
const TOKEN = `ghs_${Math.random().toString(36).slice(2)}Op`;
const ns = uniqueName('act-ops');
const runs: ActRun[] = [];
let github: FakeGitHub;
let kc: string;
const digests: Record<'v1' | 'v2', string> = { v1: '', v2: '' };

const kubectl = (...args: string[]) => execFileSync('kubectl', args, { encoding: 'utf8', env: { ...process.env, KUBECONFIG: kubeconfig } }).trim();
const liveImage = () => kubectl('-n', ns, 'get', 'deploy', 'sample-app', '-o', 'jsonpath={.spec.template.spec.containers[0].image}');
const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

/** The user's repository: the two starters unchanged, the sample app's manifests, a canary that pauses. */
function files(deployment = read('test/app/k8s/deployment.yaml')): Record<string, string> {
  return {
    '.github/workflows/manual.yml': read('workflows/manual.yml'),
    '.github/workflows/pr-check.yml': read('workflows/pr-check.yml'),
    'k8s/deployment.yaml': deployment,
    'k8s/service.yaml': read('test/app/k8s/service.yaml'),
    'deploy/rollout.yaml': [
      'steps:',
      '  - setWeight: 50',
      '  - analysis:',
      '      - http: {service: "${canary}", port: 80, path: /ready, expect-status: 200}',
      '  - pause: {}',
      '  - setWeight: 100',
      '',
    ].join('\n'),
  };
}

const repository = { full_name: 'acme/web', name: 'web', owner: { login: 'acme' }, default_branch: 'main' };

async function act(run: Parameters<typeof runAct>[0]): Promise<ActRun> {
  const result = await runAct({
    vars: { PRODUCTION_NAMESPACE: ns, REGISTRY: registry },
    secrets: { KUBECONFIG: kc, GITHUB_TOKEN: TOKEN },
    githubApiUrl: github.url,
    timeoutMs: 200_000,
    ...run,
  });
  runs.push(result);
  console.log(`act ${run.event} (${JSON.stringify((run.payload as { inputs?: unknown } | undefined)?.inputs ?? '')}): ${result.wallMs} ms, exit ${result.exitCode}`);
  return result;
}

/** A workflow_dispatch of the manual starter from the Actions tab. */
const dispatch = (inputs: Record<string, string>) =>
  act({ event: 'workflow_dispatch', workflow: '.github/workflows/manual.yml', files: files(), payload: { inputs: { environment: 'production', 'image-ref': '', revision: '', ...inputs }, ref: 'refs/heads/main', repository } });

/** A pull_request (synchronize) to main, with the PR-check starter. */
const pullRequest = (deployment?: string) =>
  act({
    event: 'pull_request',
    workflow: '.github/workflows/pr-check.yml',
    files: files(deployment),
    payload: (sha) => ({
      action: 'synchronize', number: 7,
      pull_request: { number: 7, head: { ref: 'feature/replicas', sha, repo: { full_name: 'acme/web' } }, base: { ref: 'main', sha, repo: { full_name: 'acme/web' } } },
      repository,
    }),
  });

async function digestOf(tag: string): Promise<string> {
  const [, path] = /^[^/]+\/(.*)$/.exec(sampleImage)!;
  const res = await fetch(`http://${registry}/v2/${path}/manifests/${tag}`, {
    method: 'HEAD', headers: { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  const digest = res.headers.get('docker-content-digest');
  if (!res.ok || !digest) throw new Error(`no digest for ${sampleImage}:${tag}: HTTP ${res.status}`);
  return `${sampleImage}@${digest}`;
}

beforeAll(async () => {
  kubectl('create', 'namespace', ns);
  github = await FakeGitHub.start({ token: TOKEN });
  kc = flatKubeconfig(kubeconfig);
  digests.v1 = await digestOf('v1');
  digests.v2 = await digestOf('v2');
}, 60_000);

afterAll(async () => {
  await github?.stop();
  try {
    kubectl('delete', 'namespace', ns, '--wait=false');
  } catch {
    // already gone
  }
});

describe('the manual and PR-check starters under act', () => {
  it('deploys an image by digest from a workflow_dispatch (the first deploy)', async () => {
    const run = await dispatch({ action: 'deploy', 'image-ref': digests.v1 });
    expect(run.exitCode, run.log.split('\n').slice(-40).join('\n')).toBe(0);
    expect(outputOf(run, 'deploy', 'result')).toBe('deployed');
    expect(liveImage()).toBe(digests.v1);
    // nothing was built: image-ref is deployed as is
    expect(run.outputs.filter((o) => o.name === 'digest')).toEqual([]);
    // only the chosen job ran
    expect(run.log).not.toMatch(/\[manual\/(promote|abort|rollback)\//);
  }, 240_000);

  it('a pull request gets the plan as one sticky comment, and a YAML error fails the check at its file:line', async () => {
    const deployment = read('test/app/k8s/deployment.yaml').replace('replicas: 2', 'replicas: 3');
    const good = await pullRequest(deployment);
    expect(good.exitCode, good.log.split('\n').slice(-40).join('\n')).toBe(0);
    expect(outputOf(good, 'plan', 'has-changes')).toBe('true');
    let comments = github.comments('acme', 'web', 7);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toMatch(new RegExp(`^<!-- gantry-plan: ${ns}/web -->`));
    expect(comments[0]!.body).toMatch(/`Deployment\/sample-app` \| `spec\.replicas`/);
    expect(comments[0]!.body).toContain('**canary**');
    // the plan changed nothing
    expect(kubectl('-n', ns, 'get', 'deploy', 'sample-app', '-o', 'jsonpath={.spec.replicas}')).toBe('2');

    const broken = deployment.replace('  progressDeadlineSeconds: 120\n', '  progressDeadlineSeconds: 120\n  selector: [unclosed\n');
    const line = broken.split('\n').findIndex((l) => l.includes('[unclosed')) + 1;
    const bad = await pullRequest(broken);
    expect(bad.exitCode).toBe(1);
    expect(bad.annotations.join('\n')).toMatch(new RegExp(`::error .*file=k8s/deployment\\.yaml,line=(${line}|${line + 1})\\b`));
    comments = github.comments('acme', 'web', 7);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain('❌ **The plan failed**');
    expect(github.invalid()).toEqual([]);
  }, 240_000);

  it('a paused canary is promoted from a later workflow_dispatch', async () => {
    const start = await dispatch({ action: 'deploy', 'image-ref': digests.v2 });
    expect(start.exitCode, start.log.split('\n').slice(-40).join('\n')).toBe(0);
    expect(outputOf(start, 'deploy', 'result')).toBe('paused');
    // stable still serves v1, the canary v2 beside it
    expect(liveImage()).toBe(digests.v1);
    expect(kubectl('-n', ns, 'get', 'deploy', 'sample-app-canary', '-o', 'jsonpath={.spec.template.spec.containers[0].image}')).toBe(digests.v2);

    const promote = await dispatch({ action: 'promote' });
    expect(promote.exitCode, promote.log.split('\n').slice(-40).join('\n')).toBe(0);
    expect(outputOf(promote, 'promote', 'result')).toBe('deployed');
    expect(liveImage()).toBe(digests.v2);
    expect(kubectl('-n', ns, 'get', 'deploy', '-o', 'name')).toBe('deployment.apps/sample-app');
    expect(promote.log).not.toMatch(/\[manual\/(deploy|abort|rollback)\//);
  }, 240_000);

  it('a workflow_dispatch rollback puts the previous revision back', async () => {
    const run = await dispatch({ action: 'rollback' });
    expect(run.exitCode, run.log.split('\n').slice(-40).join('\n')).toBe(0);
    expect(outputOf(run, 'rollback', 'result')).toBe('rolled-back');
    // revisions 1 (v1) and 2 (v2, promoted) were live; the rollback records revision 3, restoring 1
    expect(outputOf(run, 'rollback', 'previous-revision')).toBe('2');
    expect(outputOf(run, 'rollback', 'revision')).toBe('3');
    expect(liveImage()).toBe(digests.v1);
    // every environment change is a GitHub Deployment of production, the last one a success
    const deployments = github.deployments('acme', 'web');
    expect(new Set(deployments.map((d) => d.environment))).toEqual(new Set(['production']));
    expect(deployments.at(-1)?.statuses.at(-1)?.state).toBe('success');
    expect(github.invalid()).toEqual([]);
  }, 240_000);

  it('never shows the kubeconfig\'s credentials or the token in any run\'s output', () => {
    expect(runs.length).toBeGreaterThanOrEqual(5);
    const secrets = [...kubeconfigCredentials(kc), TOKEN];
    expect(secrets.length).toBeGreaterThan(1);
    for (const run of runs) for (const s of secrets) expect(run.raw.includes(s), `a secret (${s.slice(0, 6)}…) is in a log`).toBe(false);
  });
});
