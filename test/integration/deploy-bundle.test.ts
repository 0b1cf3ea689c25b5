// The built dist/deploy and dist/deploy-post bundles run as processes, the way the
// Actions runner runs them: a good deploy, and a deploy killed mid-wait whose post step rolls back.
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Kubectl } from '../../src/kube/kubectl.js';
import { RolloutStore } from '../../src/kube/state.js';
import { runBundle } from '../support/bundle.js';
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
    const store = new RolloutStore(new Kubectl(), { namespace: ns, app: 'web' });
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
    expect(await new Kubectl().get('lease', 'gantry-web', ns)).toBeUndefined();
  }, 400_000);
});
