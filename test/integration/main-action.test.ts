// The all-in-one action (root action.yml → dist/main) as the runner runs it: it builds the
// sample app, pushes it, deploys exactly that digest, and the new version answers.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runBundle } from '../support/bundle.js';
import { serviceGet, stack, uniqueName } from '../support/stack.js';
import { sampleFiles, workspace } from '../fixtures/deploy/sample.js';

const { dockerHost, registry } = stack();
const ns = uniqueName('main');
const version = uniqueName('v');
let ws: string;

beforeAll(() => {
  execFileSync('kubectl', ['create', 'namespace', ns], { stdio: 'pipe' });
  // The manifests name the repository with a placeholder tag; the action swaps in the digest it pushed.
  ws = workspace(sampleFiles({ image: `${registry}/gantry/main-action:placeholder` }));
  mkdirSync(join(ws, 'app'));
  execFileSync('go', ['build', '-trimpath', '-ldflags', `-s -w -X main.version=${version}`, '-o', join(ws, 'app/sample-app'), '.'], {
    cwd: join(REPO_ROOT, 'test/app/sample-app'), env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' }, stdio: 'pipe',
  });
  copyFileSync(join(REPO_ROOT, 'test/app/sample-app/Dockerfile'), join(ws, 'app/Dockerfile'));
}, 120_000);
afterAll(() => {
  execFileSync('kubectl', ['delete', 'namespace', ns, '--wait=false'], { stdio: 'pipe' });
});

describe('the all-in-one action', () => {
  it('builds, pushes by digest, deploys that digest, and the new version answers', async () => {
    const run = await runBundle('main', {
      inputs: { image: `${registry}/gantry/main-action`, context: 'app', manifests: 'k8s', namespace: ns, app: 'web', timeout: '90s' },
      env: {
        DOCKER_HOST: dockerHost, DOCKER_CONFIG: join(ws, '.docker'), GITHUB_WORKSPACE: ws,
        GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/main', GITHUB_SHA: '9b2e6f0c4a1d3e5f7a9c1b3d5e7f9a1c3b5d7e9f',
        GITHUB_REPOSITORY: 'acme/web', GITHUB_SERVER_URL: 'https://github.com', GITHUB_RUN_ID: '4242', GITHUB_JOB: 'deliver',
      },
      timeoutMs: 240_000,
    });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.outputs.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(run.outputs.image).toBe(`${registry}/gantry/main-action@${run.outputs.digest}`);
    expect(run.outputs.result).toBe('deployed');
    const image = execFileSync('kubectl', ['get', 'deployment', 'web', '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].image}'], { encoding: 'utf8' });
    expect(image).toBe(run.outputs.image);
    const answer = await serviceGet(ns, 'web:80', '/version');
    expect(answer.trim()).toBe(version);
    // One summary with the build table and the deploy outcome.
    expect(run.summary).toContain(run.outputs.digest!);
    expect(run.summary).toContain('deployed');

    // The post step finds the rollout finished: nothing to undo, and it says nothing about it.
    const post = await runBundle('main-post', { state: run.state, env: { DOCKER_HOST: dockerHost, GITHUB_WORKSPACE: ws } });
    expect(post.exitCode, post.stdout + post.stderr).toBe(0);
    expect(post.stdout).not.toContain('rolling-back');
  }, 300_000);
});
