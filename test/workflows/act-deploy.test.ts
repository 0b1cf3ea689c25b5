// The deploy starter (workflows/deploy.yml), copied unchanged into a throwaway repository and
// run for real under act on a push to main: build and push to the local registry by digest,
// staging as a 2-step canary in one namespace, then production (a second namespace) with the
// very same digest; then a crashing version, which staging rolls back and production never
// sees. No secret may appear anywhere in act's output. The last test times a plain kubectl
// apply of the same manifests for comparison.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flatKubeconfig, kubeconfigCredentials, outputOf, runAct, type ActRun } from '../support/act.js';
import { REPO_ROOT } from '../support/bundle.js';
import { FakeGitHub } from '../support/github-api.js';
import { stack, uniqueName } from '../support/stack.js';

const { kubeconfig, registry } = stack();
const IMAGE = `${registry}/acme/web`;
const TOKEN = `ghs_${Math.random().toString(36).slice(2)}Act`;
const REGISTRY_PASSWORD = `pw-${Math.random().toString(36).slice(2)}-Rg7`;
const staging = uniqueName('act-staging');
const production = uniqueName('act-prod');
const plain = uniqueName('act-plain');

let binDir: string;
let github: FakeGitHub;
let run: ActRun;
let kc: string;

const kubectl = (...args: string[]) => execFileSync('kubectl', args, { encoding: 'utf8', env: { ...process.env, KUBECONFIG: kubeconfig } }).trim();
const manifest = readFileSync(join(REPO_ROOT, 'test/app/k8s/deployment.yaml'), 'utf8').replace('localhost:5000/gantry/sample-app:v1', `${IMAGE}:v1`);

beforeAll(async () => {
  binDir = mkdtempSync(join(tmpdir(), 'act-app-'));
  execFileSync('go', ['build', '-ldflags', '-X main.version=v1', '-o', join(binDir, 'sample-app'), '.'], {
    cwd: join(REPO_ROOT, 'test/app/sample-app'), env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' }, stdio: 'pipe',
  });
  for (const ns of [staging, production, plain]) kubectl('create', 'namespace', ns);
  // The version before this push, live in both environments, so staging has a stable to canary against.
  for (const ns of [staging, production]) kubectl('-n', ns, 'apply', '-f', join(REPO_ROOT, 'test/app/k8s'));
  for (const ns of [staging, production]) kubectl('-n', ns, 'rollout', 'status', 'deploy/sample-app', '--timeout=120s');
  github = await FakeGitHub.start({ token: TOKEN });
  kc = flatKubeconfig(kubeconfig);
}, 180_000);

afterAll(async () => {
  await github?.stop();
  for (const ns of [staging, production, plain]) {
    try {
      kubectl('delete', 'namespace', ns, '--wait=false');
    } catch {
      // already gone
    }
  }
  if (binDir) rmSync(binDir, { recursive: true, force: true });
});

/** A push to main of the user's repository: the starter unchanged, the sample app, its manifests. */
function pushToMain(dockerfileExtra = ''): Promise<ActRun> {
  return runAct({
    event: 'push',
    payload: (sha) => ({
      ref: 'refs/heads/main', before: '0'.repeat(40), after: sha,
      head_commit: { id: sha, message: 'user commit' },
      repository: { full_name: 'acme/web', name: 'web', owner: { login: 'acme' }, default_branch: 'main' },
      pusher: { name: 'ada' },
    }),
    files: {
      '.github/workflows/deploy.yml': readFileSync(join(REPO_ROOT, 'workflows/deploy.yml'), 'utf8'),
      Dockerfile: readFileSync(join(REPO_ROOT, 'test/app/sample-app/Dockerfile'), 'utf8') + dockerfileExtra,
      'sample-app': { copy: join(binDir, 'sample-app'), mode: 0o755 },
      'k8s/deployment.yaml': manifest,
      'k8s/service.yaml': readFileSync(join(REPO_ROOT, 'test/app/k8s/service.yaml'), 'utf8'),
      'ci/integration-tests.sh': { copy: join(REPO_ROOT, 'test/fixtures/act/integration-tests.sh'), mode: 0o755 },
      'deploy/rollout.yaml': { copy: join(REPO_ROOT, 'test/fixtures/act/rollout.yaml') },
    },
    vars: { REGISTRY: registry, IMAGE, STAGING_NAMESPACE: staging, PRODUCTION_NAMESPACE: production },
    secrets: { KUBECONFIG: kc, REGISTRY_PASSWORD, GITHUB_TOKEN: TOKEN },
    githubApiUrl: github.url,
    timeoutMs: 280_000,
  });
}

describe('the deploy starter under act', () => {
  it('builds once, deploys staging as a canary, then production with the same digest', async () => {
    run = await pushToMain();
    console.log(`act wall time: ${run.wallMs} ms (exit ${run.exitCode})`);
    if (run.exitCode !== 0) console.log(run.log.split('\n').slice(-80).join('\n'));
    expect(run.exitCode, run.log.split('\n').slice(-40).join('\n')).toBe(0);

    const image = outputOf(run, 'staging', 'image');
    expect(image).toMatch(new RegExp(`^${IMAGE.replace(/[.]/g, '\\.')}@sha256:[0-9a-f]{64}$`));
    const digest = image!.split('@')[1]!;
    // pushed by digest: the registry serves that manifest
    const res = await fetch(`http://${registry}/v2/acme/web/manifests/${digest}`, {
      method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json' },
    });
    expect(res.status).toBe(200);

    // staging: canary passed and the stable Deployment runs the digest
    expect(outputOf(run, 'staging', 'result')).toBe('deployed');
    expect(kubectl('-n', staging, 'get', 'deploy', 'sample-app', '-o', 'jsonpath={.spec.template.spec.containers[0].image}')).toBe(image);
    // production: the same digest, not rebuilt
    expect(outputOf(run, 'production', 'result')).toBe('deployed');
    expect(kubectl('-n', production, 'get', 'deploy', 'sample-app', '-o', 'jsonpath={.spec.template.spec.containers[0].image}')).toBe(image);
    expect(run.log).toContain(`staging=deployed production=deployed image=${image} production-image=${image}`);
    // the integration tests ran between them, against the staging image
    expect(run.log).toContain(`integration tests: ${image}`);
    // the build happened once
    expect(run.outputs.filter((o) => o.name === 'digest')).toHaveLength(1);
    // staging's summary: a 2-step canary, each step judged by its gate, then promoted
    const stagingSummary = run.summaries.filter((s) => s.job.startsWith('staging/')).map((s) => s.markdown).join('\n');
    expect(stagingSummary).toMatch(/step 2\/4: analysis \(http\).*✅/);
    expect(stagingSummary).toMatch(/step 4\/4: analysis \(http\).*✅/);
    expect(run.log).toContain('canary sample-app-canary removed; all traffic on sample-app');
    expect(run.summaries.map((s) => s.markdown).join('\n')).toContain('### Delivery');
    // the registry login used the password secret, as the pushing user
    expect(run.log).toMatch(new RegExp(`Logged in to ${registry} as ada`));

    // GitHub Deployments of both environments, at the pushed commit, valid against GitHub's API
    const deployments = github.deployments('acme', 'web');
    expect(deployments.map((d) => d.environment).sort()).toEqual(['production', 'staging']);
    for (const d of deployments) {
      expect(d.sha).toBe(run.sha);
      expect(d.statuses.at(-1)?.state).toBe('success');
    }
    expect(github.invalid()).toEqual([]);
  }, 300_000);

  it('never shows a secret in act\'s output', () => {
    expect(run, 'the run above did not happen').toBeDefined();
    const secrets = [...kubeconfigCredentials(kc), REGISTRY_PASSWORD, TOKEN];
    expect(secrets.length).toBeGreaterThan(2);
    for (const s of secrets) {
      const at = run.raw.indexOf(s);
      const where = at < 0 ? '' : run.raw.slice(Math.max(0, at - 300), at).split('\n').slice(-2).join('\n');
      expect(at, `a secret (${s.slice(0, 6)}…) appears in the log, after:\n${where}`).toBe(-1);
    }
  });

  it('a bad version: staging rolls back, production is never touched, the run fails with the reason', async () => {
    expect(run, 'the run above did not happen').toBeDefined();
    const good = outputOf(run, 'staging', 'image')!;
    // the new version crashes on start: the canary fails fast and is rolled back
    const bad = await pushToMain('ENV CRASH_ON_START=1\n');
    console.log(`act wall time (bad version): ${bad.wallMs} ms (exit ${bad.exitCode})`);
    expect(bad.exitCode, bad.log.split('\n').slice(-40).join('\n')).toBe(1);
    const badImage = outputOf(bad, 'staging', 'image');
    expect(badImage).toMatch(/@sha256:/);
    expect(badImage).not.toBe(good);
    expect(outputOf(bad, 'staging', 'result')).toBe('rolled-back');
    expect(bad.annotations.join('\n')).toMatch(/::error.*CrashLoopBackOff/);
    // staging is back on the good digest, without a canary; production never ran
    expect(kubectl('-n', staging, 'get', 'deploy', 'sample-app', '-o', 'jsonpath={.spec.template.spec.containers[0].image}')).toBe(good);
    expect(kubectl('-n', staging, 'get', 'deploy', '-o', 'name')).toBe('deployment.apps/sample-app');
    expect(kubectl('-n', production, 'get', 'deploy', 'sample-app', '-o', 'jsonpath={.spec.template.spec.containers[0].image}')).toBe(good);
    expect(bad.log).not.toContain('[production/');
    expect(bad.log).not.toContain('[deploy/integration-tests]');
    // act stops the whole run at the first failed job: the starter's `if: always()` report job
    // does not run under act (it does on GitHub), so the failure is read from the deliver job.
    expect(bad.log.trimEnd().split('\n').at(-1)).toBe("Error: Job 'deliver' failed");
    const deployments = github.deployments('acme', 'web').filter((d) => d.sha === bad.sha);
    expect(deployments.map((d) => [d.environment, d.statuses.at(-1)?.state])).toEqual([['staging', 'failure']]);
    for (const s of [...kubeconfigCredentials(kc), REGISTRY_PASSWORD, TOKEN]) expect(bad.raw.includes(s)).toBe(false);
  }, 300_000);

  it('compares with a plain kubectl apply of the same manifests', () => {
    expect(run, 'the run above did not happen').toBeDefined();
    const image = outputOf(run, 'staging', 'image')!;
    const dir = mkdtempSync(join(tmpdir(), 'act-plain-'));
    try {
      execFileSync('cp', ['-r', join(REPO_ROOT, 'test/app/k8s/service.yaml'), dir]);
      writeFileSync(join(dir, 'deployment.yaml'), manifest.replace(`${IMAGE}:v1`, image));
      // a first apply into an empty namespace, then an update of the live version (as staging's was)
      let t0 = Date.now();
      kubectl('-n', plain, 'apply', '-f', join(REPO_ROOT, 'test/app/k8s'));
      kubectl('-n', plain, 'rollout', 'status', 'deploy/sample-app', '--timeout=120s');
      const first = Date.now() - t0;
      t0 = Date.now();
      kubectl('-n', plain, 'apply', '-f', dir);
      kubectl('-n', plain, 'rollout', 'status', 'deploy/sample-app', '--timeout=120s');
      const update = Date.now() - t0;
      console.log(`plain kubectl apply + rollout status: first ${first} ms, update to the digest ${update} ms; ` +
        `act (build, staging canary, tests, production): ${run.wallMs} ms`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
