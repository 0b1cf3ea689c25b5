// The built bundles run as processes: dist/deploy, dist/deploy-post and dist/rollback the way
// the Actions runner runs them, and dist/cli the way a user runs `gantry`.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/kube/api-client.js';
import { RolloutStore } from '../../src/kube/state.js';
import { REPO_ROOT, runBundle } from '../support/bundle.js';
import { stack, uniqueName } from '../support/stack.js';
import { sampleFiles, workspace } from '../fixtures/deploy/sample.js';

const { sampleImage } = stack();
let ns: string;
beforeEach(() => {
  ns = uniqueName('bundle');
  execFileSync('kubectl', ['create', 'namespace', ns], { stdio: 'pipe' });
});
afterEach(() => {
  execFileSync('kubectl', ['delete', 'namespace', ns, '--wait=false'], { stdio: 'pipe' });
});

const runEnv = (ws: string, run: string) => ({ GITHUB_WORKSPACE: ws, GITHUB_RUN_ID: run, GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: 'deploy', GITHUB_REPOSITORY: 'acme/web', GITHUB_SERVER_URL: 'https://github.com', GITHUB_SHA: 'c0ffee' });

describe('dist/deploy as the runner runs it', () => {
  it('deploys the sample app and writes result, revision and changed outputs and a summary', async () => {
    const ws = workspace(sampleFiles({ image: `${sampleImage}:v1` }));
    const run = await runBundle('deploy', { inputs: { manifests: 'k8s', namespace: ns, app: 'web', timeout: '90s' }, env: runEnv(ws, '101'), timeoutMs: 170_000 });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.outputs).toMatchObject({ result: 'deployed', revision: '1', 'previous-revision': '', changed: '3' });
    expect(run.outputs['changed-objects']!.split('\n').sort()).toEqual(['ConfigMap/web-config', 'Deployment/web', 'Service/web']);
    expect(run.summary).toContain('✅ deployed');
    // The headline first, then the timeline and the delivery metrics the cluster keeps.
    expect(run.summary.split('\n')[0]).toBe('### Deployed r1');
    expect(run.summary).toContain('[run](https://github.com/acme/web/actions/runs/101/attempts/1)');
    expect(run.summary).toMatch(/\| \d\d:\d\d:\d\d \| \*\*waiting\*\* \| \d+ s \|/);
    expect(run.summary).toContain('| 1 (1 succeeded) | 0 % (0 of 1) | – | none |');
    expect(run.stdout).toContain('::group::Wait for 1 workloads to be ready');
    expect(run.stdout).toMatch(/rollout .*\/web r1: waiting → deployed/);
  }, 180_000);

  it('a deploy killed with SIGTERM mid-wait is rolled back by the post step', async () => {
    const ws = workspace(sampleFiles({ image: `${sampleImage}:v1` }));
    const inputs = { manifests: 'k8s', namespace: ns, app: 'web', timeout: '120s' };
    const good = await runBundle('deploy', { inputs, env: runEnv(ws, '201'), timeoutMs: 170_000 });
    expect(good.outputs.result, good.stdout).toBe('deployed');
    const before = execFileSync('kubectl', ['get', 'configmap', 'web-config', '-n', ns, '-o', 'jsonpath={.data}'], { encoding: 'utf8' });

    const neverReady = workspace(sampleFiles({ image: `${sampleImage}:v2`, env: { NEVER_READY: 'true' }, config: { GREETING: 'v2' } }));
    const client = ApiClient.fromConfig();
    const store = new RolloutStore(client, { namespace: ns, app: 'web' });
    const killed = await runBundle('deploy', {
      inputs, env: runEnv(neverReady, '202'), timeoutMs: 170_000,
      onStart: (pid) => {
        const poll = setInterval(() => {
          void store.read().then((s) => {
            if (s?.record.phase === 'waiting') {
              clearInterval(poll);
              process.kill(pid, 'SIGTERM');
            }
          }).catch(() => undefined);
        }, 500);
      },
    });
    expect(killed.exitCode).not.toBe(0);
    expect((await store.read())?.record.phase).toBe('waiting');

    const post = await runBundle('deploy-post', { inputs, env: runEnv(neverReady, '202'), state: killed.state, timeoutMs: 170_000 });
    expect(post.exitCode, post.stdout + post.stderr).toBe(0);
    expect(post.stdout).toMatch(/waiting → rolling-back/);
    expect((await store.read())?.record.phase).toBe('rolled-back');
    expect(execFileSync('kubectl', ['get', 'configmap', 'web-config', '-n', ns, '-o', 'jsonpath={.data}'], { encoding: 'utf8' })).toBe(before);
    expect(execFileSync('kubectl', ['get', 'deployment', 'web', '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].image}'], { encoding: 'utf8' })).toBe(`${sampleImage}:v1`);
    expect(await client.get({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'gantry-web', namespace: ns } })).toBeUndefined();
    client.close();
  }, 400_000);
});

describe('dist/rollback as the runner runs it', () => {
  it('restores the previous good revision on demand and reports it in its outputs', async () => {
    const inputs = { manifests: 'k8s', namespace: ns, app: 'web', timeout: '90s' };
    const v1 = await runBundle('deploy', { inputs, env: runEnv(workspace(sampleFiles({ image: `${sampleImage}:v1` })), '301'), timeoutMs: 170_000 });
    expect(v1.outputs.result, v1.stdout).toBe('deployed');
    const v2 = await runBundle('deploy', { inputs, env: runEnv(workspace(sampleFiles({ image: `${sampleImage}:v2` })), '302'), timeoutMs: 170_000 });
    expect(v2.outputs.result, v2.stdout).toBe('deployed');

    const back = await runBundle('rollback', { inputs: { namespace: ns, app: 'web', revision: '1', timeout: '90s' }, env: runEnv(workspace({}), '303'), timeoutMs: 170_000 });
    expect(back.exitCode, back.stdout + back.stderr).toBe(0);
    expect(back.outputs['previous-revision']).toBe('2');
    expect(execFileSync('kubectl', ['get', 'deployment', 'web', '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].image}'], { encoding: 'utf8' })).toBe(`${sampleImage}:v1`);
  }, 400_000);
});

describe('dist/cli as a user runs it', () => {
  const gantry = (...args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'dist/cli/index.js'), ...args], { encoding: 'utf8', timeout: 170_000 });

  it('deploy prints progress and outputs, status shows the revision, and bad flags fail before anything is applied', async () => {
    const ws = workspace(sampleFiles({ image: `${sampleImage}:v1` }));
    const bad = gantry('deploy', '--manifests', join(ws, 'k8s'), '--app', 'web', '--namespace', ns, '--timeout', 'soon');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('--timeout');
    expect(execFileSync('kubectl', ['get', 'deployments', '-n', ns, '-o', 'name'], { encoding: 'utf8' }).trim()).toBe('');

    const run = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/cli/index.js'), 'deploy', '--manifests', 'k8s', '--app', 'web', '--namespace', ns, '--timeout', '90s', '--commit', 'c0ffee'], { encoding: 'utf8', cwd: ws, timeout: 170_000 });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/web r1: waiting → deployed/);
    expect(run.stdout).toContain('result=deployed');

    const status = gantry('status', '--app', 'web', '--namespace', ns);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/last rollout: r1 deployed/);
    expect(status.stdout).toMatch(/r1 .*c0ffee/);
    // The manifests named a tag; the history records the digest the node actually ran.
    expect(status.stdout).toMatch(/r1 .*sample-app@sha256:[0-9a-f]{64}/);
  }, 400_000);
});
