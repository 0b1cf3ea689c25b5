// The buildx path on the real engine. buildx is not installed on this machine; it is built
// from its Go module into ~/.cache/gantry/tools/buildx and offered to docker through a
// private DOCKER_CONFIG only, so `docker build` elsewhere in the stack is unchanged.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBuildPushConfig, readGitContext } from '../../src/config/build-push.js';
import { MapSource } from '../../src/config/source.js';
import { GantryError } from '../../src/errors.js';
import { buildAndPush } from '../../src/image/build-push.js';
import { Docker } from '../../src/image/docker.js';
import { RegistryClient } from '../../src/image/registry.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { stack, uniqueName } from '../support/stack.js';

const { dockerHost, registry } = stack();
const BUILDX_VERSION = 'v0.38.2';
const TOOLS = join(process.env.GANTRY_TOOLS_DIR ?? join(homedir(), '.cache/gantry/tools'), 'buildx');
const BINARY = join(TOOLS, 'buildx');

/** Builds buildx once (minutes on a busy machine); returns why it is unavailable, or undefined. */
function ensureBuildx(): string | undefined {
  if (existsSync(BINARY)) return undefined;
  try {
    mkdirSync(TOOLS, { recursive: true });
    execFileSync('go', ['install', `github.com/docker/buildx/cmd/buildx@${BUILDX_VERSION}`], {
      env: { ...process.env, GOBIN: TOOLS, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' },
      stdio: 'pipe',
      timeout: 540_000,
    });
    return existsSync(BINARY) ? undefined : `go install finished but ${BINARY} is missing`;
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n').slice(-2).join(' ');
    return `buildx ${BUILDX_VERSION} could not be built from its Go module: ${stderr || String(err)}`;
  }
}

const unavailable = ensureBuildx();
if (unavailable) console.warn(`build-push buildx tests skipped: ${unavailable}`);

let work: string;
let dockerEnv: Record<string, string>;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'gantry-bp-buildx-'));
  const dockerConfig = join(work, 'docker-config');
  mkdirSync(join(dockerConfig, 'cli-plugins'), { recursive: true });
  if (!unavailable) symlinkSync(BINARY, join(dockerConfig, 'cli-plugins/docker-buildx'));
  dockerEnv = { DOCKER_HOST: dockerHost, DOCKER_CONFIG: dockerConfig };
  mkdirSync(join(work, 'app'));
  copyFileSync('/bin/busybox', join(work, 'app/busybox'));
  writeFileSync(join(work, 'app/Dockerfile'), ['FROM scratch', 'COPY busybox /bin/busybox', 'ARG GREETING=hello', 'RUN ["/bin/busybox", "sh", "-c", "echo $GREETING > /greeting"]', 'ENTRYPOINT ["/bin/busybox", "cat", "/greeting"]', ''].join('\n'));
  mkdirSync(join(work, 'broken'));
  copyFileSync('/bin/busybox', join(work, 'broken/busybox'));
  writeFileSync(join(work, 'broken/Dockerfile'), ['FROM scratch', 'COPY busybox /bin/busybox', '', 'RUN ["/bin/busybox", "sh", "-c", "exit 4"]', ''].join('\n'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(inputs: Record<string, string>): { promise: ReturnType<typeof buildAndPush>; reporter: MemoryReporter } {
  const reporter = new MemoryReporter();
  const config = parseBuildPushConfig(new MapSource(inputs, 'input'), readGitContext({}), { workspace: work, now: new Date() });
  return { promise: buildAndPush(config, { docker: new Docker({ env: dockerEnv }), registry: new RegistryClient(), reporter, workDir: work }), reporter };
}

describe.skipIf(unavailable !== undefined)(`build-push with docker buildx ${BUILDX_VERSION}${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('buildx builds and pushes in one command, and the digest is the registry\'s', async () => {
    const repo = `gantry/${uniqueName('bp-buildx')}`;
    const { promise, reporter } = run({ context: 'app', tags: `${registry}/${repo}:v1`, 'build-args': 'GREETING=from-buildx' });
    const result = await promise;
    expect(result.builder).toBe('buildx');
    expect(reporter.lines.some((l) => l.startsWith('docker buildx build ') && l.includes(' --push '))).toBe(true);
    const res = await fetch(`http://${registry}/v2/${repo}/manifests/v1`, { headers: { Accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json' } });
    expect(result.digest).toBe(res.headers.get('docker-content-digest'));
    const out = execFileSync('docker', ['run', '--rm', result.image!], { env: { ...process.env, ...dockerEnv }, encoding: 'utf8' });
    expect(out.trim()).toBe('from-buildx');
    execFileSync('docker', ['image', 'rm', '--force', `${registry}/${repo}:v1`, result.image!], { env: { ...process.env, ...dockerEnv }, stdio: 'ignore' });
  }, 240_000);

  it('a failing RUN under BuildKit is located at its Dockerfile line', async () => {
    const { promise } = run({ context: 'broken', tags: `${registry}/gantry/broken:x`, push: 'false' });
    const err = (await promise.catch((e: unknown) => e)) as GantryError;
    expect(err).toBeInstanceOf(GantryError);
    expect(err.location).toEqual({ file: 'broken/Dockerfile', line: 4 });
    expect(err.message).toContain('exit code: 4');
  }, 240_000);
});
