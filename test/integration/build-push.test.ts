// actions/build-push against the real Docker engine and the stack's registry: the digest
// output is the registry's, push: false leaves no tag, and a broken Dockerfile is annotated.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBuildPushConfig, readGitContext } from '../../src/config/build-push.js';
import { MapSource } from '../../src/config/source.js';
import { buildAndPush, BuildPushResult } from '../../src/image/build-push.js';
import { Docker } from '../../src/image/docker.js';
import { RegistryClient } from '../../src/image/registry.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { REPO_ROOT, runBundle } from '../support/bundle.js';
import { stack, uniqueName } from '../support/stack.js';

const { dockerHost, registry } = stack();
const EVENTS = resolve(REPO_ROOT, 'test/fixtures/events');
const ACCEPT = 'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

let work: string;
let appContext: string;
let dockerConfig: string;
const dockerEnv = (): Record<string, string> => ({ DOCKER_HOST: dockerHost, DOCKER_CONFIG: dockerConfig });

function docker(...args: string[]): string {
  return execFileSync('docker', args, { env: { ...process.env, ...dockerEnv() }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** What the registry's HTTP API says a tag points at (Docker-Content-Digest), or undefined for 404. */
async function registryDigest(repo: string, tag: string): Promise<string | undefined> {
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, { headers: { Accept: ACCEPT } });
  if (res.status === 404) return undefined;
  expect(res.status).toBe(200);
  return res.headers.get('docker-content-digest') ?? undefined;
}

/** The sample app's build context: its Dockerfile and a freshly built static binary with a unique version. */
function sampleContext(dir: string, version: string): void {
  execFileSync('go', ['build', '-trimpath', '-ldflags', `-s -w -X main.version=${version}`, '-o', join(dir, 'sample-app'), '.'], {
    cwd: join(REPO_ROOT, 'test/app/sample-app'),
    env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' },
    stdio: 'pipe',
  });
  copyFileSync(join(REPO_ROOT, 'test/app/sample-app/Dockerfile'), join(dir, 'Dockerfile'));
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'gantry-bp-it-'));
  dockerConfig = join(work, 'docker-config');
  execFileSync('mkdir', ['-p', dockerConfig, join(work, 'app')]);
  appContext = join(work, 'app');
  sampleContext(appContext, uniqueName('it'));
}, 180_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('build-push on the local registry', () => {
  it('the bundle pushes the sample app, and its digest output is the one the registry reports', async () => {
    const repo = `gantry/${uniqueName('bp-bundle')}`;
    const run = await runBundle('build-push', {
      inputs: { image: `${registry}/${repo}`, context: '.' },
      env: {
        ...dockerEnv(),
        GITHUB_WORKSPACE: appContext,
        GITHUB_EVENT_NAME: 'push',
        GITHUB_EVENT_PATH: join(EVENTS, 'push-branch.json'),
        GITHUB_REF: 'refs/heads/feature/Login-Form',
        GITHUB_SHA: '9b2e6f0c4a1d3e5f7a9c1b3d5e7f9a1c3b5d7e9f',
        GITHUB_REPOSITORY: 'acme/shop',
        GITHUB_SERVER_URL: 'https://github.com',
      },
      timeoutMs: 180_000,
    });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.outputs.tags).toBe(`${registry}/${repo}:feature-Login-Form\n${registry}/${repo}:9b2e6f0`);

    const digest = await registryDigest(repo, 'feature-Login-Form');
    expect(run.outputs.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(run.outputs.digest).toBe(digest);
    expect(await registryDigest(repo, '9b2e6f0')).toBe(digest);
    expect(run.outputs.image).toBe(`${registry}/${repo}@${digest}`);

    const metadata = JSON.parse(run.outputs.metadata!) as { digest: string; labels: Record<string, string>; size: number };
    expect(metadata.digest).toBe(digest);
    expect(metadata.labels['org.opencontainers.image.revision']).toBe('9b2e6f0c4a1d3e5f7a9c1b3d5e7f9a1c3b5d7e9f');
    expect(metadata.size).toBeGreaterThan(1_000_000);
    expect(run.summary).toContain(`| Digest | \`${digest}\` |`);
    expect(run.summary).toMatch(/\| Build time \| \d+(\.\d)? s \|/);

    // Pulling by digest works once the local copies are gone, and the image carries the labels.
    docker('image', 'rm', '--force', `${registry}/${repo}:feature-Login-Form`, `${registry}/${repo}:9b2e6f0`);
    docker('pull', run.outputs.image!);
    const labels = JSON.parse(docker('image', 'inspect', '--format', '{{json .Config.Labels}}', run.outputs.image!)) as Record<string, string>;
    expect(labels['org.opencontainers.image.source']).toBe('https://github.com/acme/shop');
    docker('image', 'rm', '--force', run.outputs.image!);
  }, 200_000);

  it('push: false builds the image but leaves the registry without the tag', async () => {
    const repo = `gantry/${uniqueName('bp-nopush')}`;
    const reporter = new MemoryReporter();
    const config = parseBuildPushConfig(new MapSource({ context: appContext, tags: `${registry}/${repo}:pr-57`, push: 'false' }, 'input'), readGitContext({}), { workspace: work, now: new Date() });
    const result = await buildAndPush(config, { docker: new Docker({ env: dockerEnv() }), registry: new RegistryClient(), reporter, workDir: work });
    expect(result.pushed).toBe(false);
    expect(result.digest).toBeUndefined();
    expect(docker('image', 'inspect', '--format', '{{.Id}}', `${registry}/${repo}:pr-57`).trim()).toBe(result.imageId);
    expect(await registryDigest(repo, 'pr-57')).toBeUndefined();
    // The repository's tag list: unknown to the registry (404), or at least without the tag.
    const list = await fetch(`http://${registry}/v2/${repo}/tags/list`);
    const tags = list.status === 404 ? [] : ((await list.json()) as { tags: string[] | null }).tags ?? [];
    expect(tags).not.toContain('pr-57');
    docker('image', 'rm', '--force', `${registry}/${repo}:pr-57`);
  }, 120_000);

  it('a failing RUN step fails the step with an annotation at its Dockerfile line', async () => {
    const ctx = join(work, 'broken');
    execFileSync('mkdir', ['-p', ctx]);
    copyFileSync('/bin/busybox', join(ctx, 'busybox'));
    writeFileSync(join(ctx, 'Dockerfile'), ['FROM scratch', 'COPY busybox /bin/busybox', '', '# this step fails on purpose', 'RUN ["/bin/busybox", "sh", "-c", \\', '    "echo broken >&2; exit 3"]', 'CMD ["/bin/busybox"]', ''].join('\n'));
    const run = await runBundle('build-push', {
      inputs: { tags: `${registry}/gantry/${uniqueName('bp-broken')}:x`, context: 'broken' },
      env: { ...dockerEnv(), GITHUB_WORKSPACE: work },
      timeoutMs: 120_000,
    });
    expect(run.exitCode).toBe(1);
    const annotation = run.annotations.find((a) => a.startsWith('::error'));
    expect(annotation).toMatch(/^::error title=Build failed,file=broken\/Dockerfile,line=5::/);
    expect(annotation).toContain("returned a non-zero code: 3");
    expect(run.outputs.digest).toBeUndefined();
  }, 150_000);

  it('a missing Dockerfile fails before any build, naming the path', async () => {
    const run = await runBundle('build-push', {
      inputs: { tags: `${registry}/gantry/nothing:x`, context: '.', file: 'nope/Dockerfile' },
      env: { ...dockerEnv(), GITHUB_WORKSPACE: work },
    });
    expect(run.exitCode).toBe(1);
    expect(run.annotations.join('\n')).toContain('input "file" points at nope/Dockerfile, which does not exist');
    expect(run.stdout).not.toContain('Builder:');
  }, 60_000);

  it('cold and cached build+push of the sample app (times in the log)', async () => {
    const ctx = join(work, 'timing');
    execFileSync('mkdir', ['-p', ctx]);
    sampleContext(ctx, uniqueName('timing'));
    const repo = `gantry/${uniqueName('bp-timing')}`;
    const run = async (noCache: boolean): Promise<{ result: BuildPushResult; reporter: MemoryReporter; wallMs: number }> => {
      const reporter = new MemoryReporter();
      const config = parseBuildPushConfig(new MapSource({ context: ctx, tags: `${registry}/${repo}:v1`, 'no-cache': String(noCache) }, 'input'), readGitContext({}), { workspace: work, now: new Date() });
      const t0 = performance.now();
      const result = await buildAndPush(config, { docker: new Docker({ env: dockerEnv() }), registry: new RegistryClient(), reporter, workDir: work });
      return { result, reporter, wallMs: performance.now() - t0 };
    };
    const cold = await run(true);
    const cached = await run(false);
    // The cached run reuses the binary's layer and the registry already has its blob.
    expect(cached.reporter.lines.join('\n')).toMatch(/COPY sample-app \/sample-app\n ---> Using cache/);
    expect(cached.result.digest).toBe(await registryDigest(repo, 'v1'));
    const fmt = (r: typeof cold): string => `build ${(r.result.buildMs / 1000).toFixed(1)} s + push ${((r.result.pushMs ?? 0) / 1000).toFixed(1)} s = ${(r.wallMs / 1000).toFixed(1)} s wall`;
    console.log(`sample app cold (no cache, new binary): ${fmt(cold)}\nsample app cached: ${fmt(cached)}`);
    docker('image', 'rm', '--force', `${registry}/${repo}:v1`, ...[cold.result.imageId!].filter((id) => id !== cached.result.imageId));
  }, 240_000);
});
