// The build engine with docker and the registry replaced by in-memory fakes: which
// builder runs with which exact command, where failures point, and where the digest comes from.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BuildPushConfig } from '../../src/config/build-push.js';
import { GantryError } from '../../src/errors.js';
import { explainBuildFailure } from '../../src/image/build-failure.js';
import { buildAndPush } from '../../src/image/build-push.js';
import { chooseBuilder, planBuild } from '../../src/image/builder.js';
import { Docker, DockerVersion } from '../../src/image/docker.js';
import { instructions } from '../../src/image/dockerfile.js';
import { loginToRegistry, logoutFromRegistry } from '../../src/image/login.js';
import { Fetch, FetchResponse, MANIFEST_ACCEPT, RegistryClient } from '../../src/image/registry.js';
import { rememberLogin, savedLogin } from '../../src/image/state.js';
import { buildMetadata, publishResult, summaryMarkdown } from '../../src/image/summary.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { TaggedReference, parseTaggedReference } from '../../src/shared/image-reference.js';
import { CommandResult, CommandRunner, RunOptions } from '../../src/shared/process.js';

const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;
const IMAGE_ID = `sha256:${'1'.repeat(64)}`;
const CLI_28: DockerVersion = { client: '28.2.2', serverApi: '1.41', serverVersion: '20.10.24+dfsg1', serverOs: 'linux' };

// ---------------------------------------------------------------- fakes

type Handler = (args: string[], options: RunOptions) => CommandResult;

/** A docker CLI in memory: answers by argument prefix and records every call. */
class FakeDocker implements CommandRunner {
  readonly calls: { args: string[]; options: RunOptions }[] = [];
  private readonly handlers: { prefix: string[]; handle: Handler }[] = [];

  on(prefix: string[], handle: Handler | Partial<CommandResult>): this {
    this.handlers.push({ prefix, handle: typeof handle === 'function' ? handle : () => ({ exitCode: 0, stdout: '', stderr: '', ...handle }) });
    return this;
  }

  async run(command: string, args: string[], options: RunOptions = {}): Promise<CommandResult> {
    expect(command).toBe('docker');
    this.calls.push({ args, options });
    const h = this.handlers.find((x) => x.prefix.every((p, i) => args[i] === p));
    if (!h) throw new Error(`unexpected command: docker ${args.join(' ')}`);
    return h.handle(args, options);
  }

  commands(): string[] {
    return this.calls.map((c) => c.args.slice(0, 2).join(' '));
  }
}

/** An engine like the stack's: CLI 28, engine 20.10, optionally with buildx; builds write the iidfile like docker does. */
function fakeEngine(opts: { buildx?: boolean; build?: Partial<CommandResult>; push?: (ref: string) => Partial<CommandResult> } = {}): FakeDocker {
  const build: Handler = (args) => {
    const iid = args[args.indexOf('--iidfile') + 1]!;
    if ((opts.build?.exitCode ?? 0) === 0) writeFileSync(iid, IMAGE_ID);
    return { exitCode: 0, stdout: 'Successfully built 111111111111\n', stderr: '', ...opts.build };
  };
  return new FakeDocker()
    .on(['version'], { stdout: JSON.stringify({ Client: { Version: CLI_28.client }, Server: { Version: CLI_28.serverVersion, ApiVersion: '1.41', Os: 'linux' } }) })
    .on(['buildx', 'version'], opts.buildx ? { stdout: 'github.com/docker/buildx v0.38.2' } : { exitCode: 1, stderr: "docker: unknown command: docker buildx" })
    .on(['buildx', 'build'], build)
    .on(['build'], build)
    .on(['push'], (args) => ({ exitCode: 0, stdout: `v1: digest: ${DIGEST_A} size: 528\n`, stderr: '', ...opts.push?.(args[1]!) }))
    .on(['image', 'inspect'], { stdout: `"${IMAGE_ID}" 8412812\n` })
    .on(['login'], { stdout: 'Login Succeeded\n' })
    .on(['logout'], { stdout: 'Removing login credentials for localhost:5001\n' });
}

function response(status: number, body: unknown, headers: Record<string, string> = {}): FetchResponse {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { status, headers: { get: (name) => lower[name.toLowerCase()] ?? null }, text: async () => (typeof body === 'string' ? body : JSON.stringify(body)) };
}

const SINGLE_MANIFEST = {
  schemaVersion: 2,
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 1000, digest: `sha256:${'c'.repeat(64)}` },
  layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 2_488_140, digest: `sha256:${'d'.repeat(64)}` }],
};

/** A registry in memory: one manifest per path, optional auth, every request recorded. */
function fakeRegistry(manifests: Record<string, { digest: string; body: unknown }>, auth?: { basic?: string; bearer?: string }) {
  const requests: { url: string; headers: Record<string, string> }[] = [];
  const fetch: Fetch = async (url, init) => {
    const headers = init?.headers ?? {};
    requests.push({ url, headers });
    if (url.startsWith('https://auth.example/token')) {
      return headers.Authorization === auth?.basic ? response(200, { token: 'tok123' }) : response(401, 'denied');
    }
    if (url.startsWith('https://localhost')) throw new TypeError('fetch failed', { cause: new Error('wrong version number') });
    const path = new URL(url).pathname;
    if (auth?.basic && !auth.bearer && headers.Authorization !== auth.basic) return response(401, 'unauthorized', { 'WWW-Authenticate': 'Basic realm="Registry Realm"' });
    if (auth?.bearer && headers.Authorization !== `Bearer ${auth.bearer}`) {
      return response(401, 'unauthorized', { 'WWW-Authenticate': 'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:acme/shop:pull"' });
    }
    const m = manifests[path];
    if (!m) return response(404, { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
    return response(200, m.body, { 'Docker-Content-Digest': m.digest, 'Content-Type': (m.body as { mediaType: string }).mediaType });
  };
  return { fetch, requests };
}

function ref(text: string): TaggedReference {
  const r = parseTaggedReference(text);
  if ('problem' in r) throw new Error(r.problem);
  return r;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gantry-bp-engine-'));
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY busybox /bin/busybox\n\n# a comment\nRUN ["/bin/busybox", "sh", "-c", \\\n    "exit 3"]\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function config(overrides: Partial<BuildPushConfig> = {}): BuildPushConfig {
  return {
    context: dir,
    dockerfile: join(dir, 'Dockerfile'),
    dockerfileDisplay: 'app/Dockerfile',
    buildArgs: { VERSION: '1.4.2' },
    labels: { 'org.opencontainers.image.revision': 'c3d5e7f' },
    tags: [ref('localhost:5000/acme/shop:v1'), ref('localhost:5000/acme/shop:latest')],
    push: true,
    builder: 'auto',
    platforms: [],
    cacheFrom: [],
    cacheTo: [],
    noCache: false,
    ...overrides,
  };
}

// ---------------------------------------------------------------- builder choice and commands

describe('builder choice', () => {
  it.each([
    { name: 'buildx installed', requested: 'auto' as const, version: CLI_28, buildx: true, kind: 'buildx' },
    { name: 'CLI 20.10 on a BuildKit engine, no buildx', requested: 'auto' as const, version: { ...CLI_28, client: '20.10.24' }, buildx: false, kind: 'buildkit' },
    { name: 'CLI 28 without buildx (this machine)', requested: 'auto' as const, version: CLI_28, buildx: false, kind: 'classic' },
    { name: 'engine too old for BuildKit', requested: 'auto' as const, version: { ...CLI_28, client: '18.09.0', serverApi: '1.38' }, buildx: false, kind: 'classic' },
    { name: 'Windows engine', requested: 'auto' as const, version: { ...CLI_28, client: '20.10.0', serverOs: 'windows' }, buildx: false, kind: 'classic' },
    { name: 'builder: docker although buildx is installed', requested: 'docker' as const, version: CLI_28, buildx: false, kind: 'classic' },
  ])('$name → $kind', ({ requested, version, buildx, kind }) => {
    expect(chooseBuilder(requested, version, buildx).kind).toBe(kind);
  });

  it('an engine that cannot be reached is named before anything is built', async () => {
    const docker = new FakeDocker().on(['version'], { exitCode: 1, stdout: '{"Client":{"Version":"28.2.2"},"Server":null}\n', stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n' });
    const err = (await buildAndPush(config(), { docker: new Docker({ runner: docker }), registry: new RegistryClient({ fetch: fakeRegistry({}).fetch }), reporter: new MemoryReporter(), workDir: dir }).catch((e: unknown) => e)) as GantryError;
    expect(err.message).toBe('Cannot reach the Docker engine: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?');
    expect(err.hint).toContain('DOCKER_HOST');
    expect(docker.commands()).toEqual(['version --format']);
  });

  it('builder: buildx without the plugin is an error that says how to get it', () => {
    expect(() => chooseBuilder('buildx', CLI_28, false)).toThrow(/input "builder" is buildx, but the docker CLI has no buildx plugin/);
  });
});

describe('build commands', () => {
  const files = { iidfile: '/tmp/w/iid', metadataFile: '/tmp/w/meta.json' };

  it('buildx gets platforms, cache, provenance and sbom passed through and pushes itself', () => {
    const plan = planBuild(
      config({
        target: 'runtime',
        platforms: ['linux/amd64', 'linux/arm64'],
        cacheFrom: ['type=registry,ref=localhost:5000/acme/shop:cache'],
        cacheTo: ['type=registry,ref=localhost:5000/acme/shop:cache,mode=max'],
        provenance: 'mode=max',
        sbom: 'true',
      }),
      'buildx',
      files,
    );
    expect(plan.args).toEqual([
      'buildx', 'build',
      '--file', join(dir, 'Dockerfile'),
      '--tag', 'localhost:5000/acme/shop:v1',
      '--tag', 'localhost:5000/acme/shop:latest',
      '--label', 'org.opencontainers.image.revision=c3d5e7f',
      '--build-arg', 'VERSION=1.4.2',
      '--target', 'runtime',
      '--iidfile', '/tmp/w/iid',
      '--platform', 'linux/amd64,linux/arm64',
      '--cache-from', 'type=registry,ref=localhost:5000/acme/shop:cache',
      '--cache-to', 'type=registry,ref=localhost:5000/acme/shop:cache,mode=max',
      '--provenance=mode=max',
      '--sbom=true',
      '--metadata-file', '/tmp/w/meta.json',
      '--push',
      dir,
    ]);
    expect(plan.pushesItself).toBe(true);
    expect(plan.warnings).toEqual([]);
  });

  it('buildx without push loads a single-platform image and warns that a multi-platform one stays in the cache', () => {
    expect(planBuild(config({ push: false }), 'buildx', files).args.slice(-2)).toEqual(['--load', dir]);
    const multi = planBuild(config({ push: false, platforms: ['linux/amd64', 'linux/arm64'] }), 'buildx', files);
    expect(multi.args).not.toContain('--load');
    expect(multi.warnings[0]).toContain('stays in the build cache only');
  });

  it('the classic builder runs docker build with DOCKER_BUILDKIT=0 and warns about what it ignores', () => {
    const plan = planBuild(config({ platforms: ['linux/amd64'], cacheFrom: ['localhost:5000/acme/shop:latest', 'type=gha'], cacheTo: ['type=gha'], provenance: 'false' }), 'classic', files);
    expect(plan.args).toEqual([
      'build',
      '--file', join(dir, 'Dockerfile'),
      '--tag', 'localhost:5000/acme/shop:v1',
      '--tag', 'localhost:5000/acme/shop:latest',
      '--label', 'org.opencontainers.image.revision=c3d5e7f',
      '--build-arg', 'VERSION=1.4.2',
      '--iidfile', '/tmp/w/iid',
      '--platform', 'linux/amd64',
      '--cache-from', 'localhost:5000/acme/shop:latest',
      dir,
    ]);
    expect(plan.env).toEqual({ DOCKER_BUILDKIT: '0' });
    expect(plan.warnings).toEqual([
      'cache-from "type=gha" is ignored: without buildx only plain image references can be cache sources',
      'cache-to "type=gha" is ignored: exporting build cache needs buildx',
    ]);
  });

  it('docker build with BuildKit sets DOCKER_BUILDKIT=1', () => {
    expect(planBuild(config(), 'buildkit', files).env).toEqual({ DOCKER_BUILDKIT: '1' });
  });

  it('inputs only buildx can honour are one error naming each of them', () => {
    expect(() => planBuild(config({ platforms: ['linux/amd64', 'linux/arm64'], provenance: 'mode=max', sbom: 'true' }), 'classic', files)).toThrow(
      'These inputs need docker buildx, which is not installed: platforms (linux/amd64, linux/arm64): docker build makes one platform per run; provenance: attestations are made by buildx only; sbom: attestations are made by buildx only',
    );
  });
});

// ---------------------------------------------------------------- failures point at the Dockerfile

describe('build failures', () => {
  const dockerfile = 'FROM scratch\nCOPY busybox /bin/busybox\n\n# a comment\nRUN ["/bin/busybox", "sh", "-c", \\\n    "exit 3"]\n';

  it('instructions skip comments, blank lines and continuations', () => {
    expect(instructions(dockerfile).map((i) => [i.line, i.keyword])).toEqual([[1, 'FROM'], [2, 'COPY'], [5, 'RUN']]);
    expect(instructions('# escape=`\nFROM scratch\nRUN a `\n  b\nRUN <<EOF\necho hi\nEOF\nCMD x\n').map((i) => [i.line, i.keyword])).toEqual([[2, 'FROM'], [3, 'RUN'], [5, 'RUN'], [8, 'CMD']]);
  });

  it('a failing RUN under the classic builder points at the line where the step starts', () => {
    // Recorded from docker 28.2 CLI + engine 20.10 with DOCKER_BUILDKIT=0.
    const err = explainBuildFailure({
      exitCode: 1,
      stdout: 'Sending build context to Docker daemon  1.985MB\nStep 1/3 : FROM scratch\n ---> \nStep 2/3 : COPY busybox /bin/busybox\n ---> Using cache\n ---> 258267b9596d\nStep 3/3 : RUN ["/bin/busybox", "sh", "-c",     "exit 3"]\n ---> Running in 114438bf4695\n',
      stderr: 'DEPRECATED: The legacy builder is deprecated and will be removed in a future release.\n            BuildKit is currently disabled; enable it by removing the DOCKER_BUILDKIT=0\n            environment-variable.\n\nThe command \'/bin/busybox sh -c exit 3\' returned a non-zero code: 3\n',
      dockerfileText: dockerfile,
      dockerfileDisplay: 'app/Dockerfile',
    });
    expect(err.location).toEqual({ file: 'app/Dockerfile', line: 5 });
    expect(err.message).toBe('The image build failed at RUN ["/bin/busybox", "sh", "-c", \\: The command \'/bin/busybox sh -c exit 3\' returned a non-zero code: 3');
    expect(err.title).toBe('Build failed');
  });

  it('a missing COPY source under the classic builder points at the COPY', () => {
    const err = explainBuildFailure({
      exitCode: 1,
      stdout: 'Sending build context to Docker daemon  1.986MB\nStep 1/2 : FROM scratch\n ---> \nStep 2/2 : COPY nothere /x\n',
      stderr: 'COPY failed: file not found in build context or excluded by .dockerignore: stat nothere: file does not exist\n',
      dockerfileText: 'FROM scratch\nCOPY nothere /x\n',
      dockerfileDisplay: 'Dockerfile',
    });
    expect(err.location).toEqual({ file: 'Dockerfile', line: 2 });
    expect(err.message).toContain('COPY failed: file not found in build context');
  });

  it('a parse error points at the line docker names', () => {
    const err = explainBuildFailure({ exitCode: 1, stdout: 'Sending build context to Docker daemon  1.987MB\n', stderr: 'Error response from daemon: dockerfile parse error line 2: unknown instruction: FOO\n', dockerfileText: 'FROM scratch\nFOO bar\n', dockerfileDisplay: 'Dockerfile' });
    expect(err.location).toEqual({ file: 'Dockerfile', line: 2 });
    expect(err.message).toBe('The image build failed at FOO bar: dockerfile parse error line 2: unknown instruction: FOO');
  });

  it('a failing RUN under the engine\'s older BuildKit (no excerpt) is found by its text', () => {
    // Recorded from buildx 0.38 with the docker driver on engine 20.10 (BuildKit 0.8).
    const err = explainBuildFailure({
      exitCode: 1,
      stdout: '',
      stderr: [
        '#5 [2/2] RUN ["/bin/busybox", "sh", "-c",     "exit 3"]',
        '#5 ERROR: executor failed running [/bin/busybox sh -c exit 3]: exit code: 3',
        '------',
        ' > [2/2] RUN ["/bin/busybox", "sh", "-c",     "exit 3"]:',
        '------',
        'ERROR: failed to build: failed to solve: executor failed running [/bin/busybox sh -c exit 3]: exit code: 3',
      ].join('\n'),
      dockerfileText: dockerfile,
      dockerfileDisplay: 'app/Dockerfile',
    });
    expect(err.location).toEqual({ file: 'app/Dockerfile', line: 5 });
    expect(err.message).toContain('executor failed running [/bin/busybox sh -c exit 3]: exit code: 3');
  });

  it('a failing RUN under BuildKit points at the line of its excerpt', () => {
    const err = explainBuildFailure({
      exitCode: 1,
      stdout: '',
      stderr: [
        '#6 [3/3] RUN ["/bin/busybox", "sh", "-c",     "exit 3"]',
        '#6 ERROR: process "/bin/busybox sh -c exit 3" did not complete successfully: exit code: 3',
        '------',
        ' > [3/3] RUN ["/bin/busybox", "sh", "-c",     "exit 3"]:',
        '------',
        'Dockerfile:5',
        '--------------------',
        '   4 |     # a comment',
        '   5 | >>> RUN ["/bin/busybox", "sh", "-c", \\',
        '   6 | >>>     "exit 3"]',
        '--------------------',
        'ERROR: failed to build: failed to solve: process "/bin/busybox sh -c exit 3" did not complete successfully: exit code: 3',
      ].join('\n'),
      dockerfileText: dockerfile,
      dockerfileDisplay: 'app/Dockerfile',
    });
    expect(err.location).toEqual({ file: 'app/Dockerfile', line: 5 });
    expect(err.message).toContain('failed to solve: process "/bin/busybox sh -c exit 3" did not complete successfully: exit code: 3');
  });
});

// ---------------------------------------------------------------- the whole step

describe('buildAndPush', () => {
  const manifests = { '/v2/acme/shop/manifests/v1': { digest: DIGEST_A, body: SINGLE_MANIFEST } };

  it('without buildx: docker build, docker push per tag, then the digest the registry reports', async () => {
    const docker = fakeEngine();
    const registry = fakeRegistry(manifests);
    const reporter = new MemoryReporter();
    const result = await buildAndPush(config(), { docker: new Docker({ runner: docker }), registry: new RegistryClient({ fetch: registry.fetch }), reporter, workDir: dir });
    expect(docker.commands()).toEqual(['version --format', 'buildx version', 'build --file', 'push localhost:5000/acme/shop:v1', 'push localhost:5000/acme/shop:latest']);
    expect(docker.calls[2]!.options.env).toEqual({ DOCKER_BUILDKIT: '0' });
    expect(result).toMatchObject({ builder: 'classic', pushed: true, digest: DIGEST_A, image: `localhost:5000/acme/shop@${DIGEST_A}`, imageId: IMAGE_ID, size: 2_489_140 });
    // The registry was asked over HTTP (loopback, after HTTPS failed) with every manifest type accepted.
    const asked = registry.requests.filter((r) => r.url.startsWith('http://'));
    expect(asked).toEqual([{ url: 'http://localhost:5000/v2/acme/shop/manifests/v1', headers: { Accept: MANIFEST_ACCEPT } }]);
    expect(reporter.lines).toContain(`Registry reports localhost:5000/acme/shop:v1 → ${DIGEST_A}`);
  });

  it('the digest is the registry\'s answer even when the push said otherwise, and the user is warned', async () => {
    const registry = fakeRegistry({ '/v2/acme/shop/manifests/v1': { digest: DIGEST_B, body: SINGLE_MANIFEST } });
    const reporter = new MemoryReporter();
    const result = await buildAndPush(config(), { docker: new Docker({ runner: fakeEngine() }), registry: new RegistryClient({ fetch: registry.fetch }), reporter, workDir: dir });
    expect(result.digest).toBe(DIGEST_B);
    expect(reporter.warnings[0]!.message).toContain(`was pushed as ${DIGEST_A}, but the registry now reports ${DIGEST_B}`);
  });

  it('with buildx: one buildx build --push, no docker push', async () => {
    const docker = fakeEngine({ buildx: true });
    const registry = fakeRegistry(manifests);
    const result = await buildAndPush(config(), { docker: new Docker({ runner: docker }), registry: new RegistryClient({ fetch: registry.fetch }), reporter: new MemoryReporter(), workDir: dir });
    expect(docker.commands()).toEqual(['version --format', 'buildx version', 'buildx build']);
    expect(docker.calls[2]!.args).toContain('--push');
    expect(result).toMatchObject({ builder: 'buildx', digest: DIGEST_A, pushMs: undefined });
  });

  it('push: false pushes nothing, asks no registry, and reports the local image', async () => {
    const docker = fakeEngine();
    const registry = fakeRegistry(manifests);
    const reporter = new MemoryReporter();
    const result = await buildAndPush(config({ push: false }), { docker: new Docker({ runner: docker }), registry: new RegistryClient({ fetch: registry.fetch }), reporter, workDir: dir });
    expect(docker.commands()).not.toContain('push localhost:5000/acme/shop:v1');
    expect(registry.requests).toEqual([]);
    expect(result).toMatchObject({ pushed: false, imageId: IMAGE_ID, size: 8_412_812 });
    expect(result.digest).toBeUndefined();
    expect(result.image).toBeUndefined();
    expect(reporter.lines).toContain('push is false: nothing was pushed');
  });

  it('a failing build throws an error located in the Dockerfile', async () => {
    const docker = fakeEngine({ build: { exitCode: 1, stdout: 'Step 1/3 : FROM scratch\nStep 2/3 : COPY busybox /bin/busybox\nStep 3/3 : RUN ["/bin/busybox", "sh", "-c",     "exit 3"]\n', stderr: "The command '/bin/busybox sh -c exit 3' returned a non-zero code: 3\n" } });
    const err = await buildAndPush(config(), { docker: new Docker({ runner: docker }), registry: new RegistryClient({ fetch: fakeRegistry({}).fetch }), reporter: new MemoryReporter(), workDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GantryError);
    expect((err as GantryError).location).toEqual({ file: 'app/Dockerfile', line: 5 });
    expect(docker.commands()).not.toContain('push localhost:5000/acme/shop:v1');
  });

  it.each([
    { name: 'unreachable registry', stderr: 'Get "https://localhost:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused', title: 'Registry unreachable', message: 'the registry is unreachable' },
    { name: 'refused credentials', stderr: 'unauthorized: authentication required', title: 'Registry authentication failed', message: 'the registry refused access without credentials' },
  ])('a push that fails because of an $name says so', async ({ stderr, title, message }) => {
    const docker = fakeEngine({ push: () => ({ exitCode: 1, stdout: 'The push refers to repository [localhost:5000/acme/shop]\n', stderr }) });
    const err = (await buildAndPush(config(), { docker: new Docker({ runner: docker }), registry: new RegistryClient({ fetch: fakeRegistry({}).fetch }), reporter: new MemoryReporter(), workDir: dir }).catch((e: unknown) => e)) as GantryError;
    expect(err.title).toBe(title);
    expect(err.message).toContain(`Could not push localhost:5000/acme/shop:v1 to localhost:5000: ${message}`);
  });

  it('a buildx --push that fails in its export step is reported as a registry problem, not a Dockerfile one', async () => {
    const docker = fakeEngine({
      buildx: true,
      build: { exitCode: 1, stderr: '#7 exporting to image\n#7 pushing layers\n#7 ERROR: failed to push localhost:5000/acme/shop:v1: failed to do request: Head "http://localhost:5000/v2/acme/shop/blobs/sha256:abc": dial tcp 127.0.0.1:5000: connect: connection refused\nERROR: failed to build: failed to push localhost:5000/acme/shop:v1: connection refused\n' },
    });
    const err = (await buildAndPush(config(), { docker: new Docker({ runner: docker }), registry: new RegistryClient({ fetch: fakeRegistry({}).fetch }), reporter: new MemoryReporter(), workDir: dir }).catch((e: unknown) => e)) as GantryError;
    expect(err.title).toBe('Registry unreachable');
    expect(err.location).toBeUndefined();
  });

  it('when the registry needs credentials Gantry was not given, the digest the push returned is used', async () => {
    const registry = fakeRegistry(manifests, { basic: 'Basic Y2k6cHc=' });
    const reporter = new MemoryReporter();
    const result = await buildAndPush(config(), { docker: new Docker({ runner: fakeEngine() }), registry: new RegistryClient({ fetch: registry.fetch }), reporter, workDir: dir });
    expect(result.digest).toBe(DIGEST_A);
    expect(reporter.lines).toContain('localhost:5000 needs credentials to read manifests; using the digest it returned to the push');
  });
});

// ---------------------------------------------------------------- registry API

describe('RegistryClient', () => {
  it('answers a Basic challenge with the given credentials', async () => {
    const registry = fakeRegistry({ '/v2/acme/shop/manifests/v1': { digest: DIGEST_A, body: SINGLE_MANIFEST } }, { basic: `Basic ${Buffer.from('ci:s3cret').toString('base64')}` });
    const client = new RegistryClient({ fetch: registry.fetch, credentials: (host) => (host === 'localhost:5000' ? { username: 'ci', password: 's3cret' } : undefined) });
    expect(await client.manifest(ref('localhost:5000/acme/shop:v1'))).toEqual({ digest: DIGEST_A, mediaType: SINGLE_MANIFEST.mediaType, size: 2_489_140, platforms: [] });
  });

  it('rejected credentials are named', async () => {
    const registry = fakeRegistry({}, { basic: 'Basic other' });
    const client = new RegistryClient({ fetch: registry.fetch, credentials: () => ({ username: 'ci', password: 'wrong' }) });
    await expect(client.manifest(ref('localhost:5000/acme/shop:v1'))).rejects.toThrow('The registry localhost:5000 rejected the credentials of "ci" for localhost:5000/acme/shop (HTTP 401)');
  });

  it('fetches a Bearer token from the realm with the pull scope', async () => {
    const registry = fakeRegistry({ '/v2/acme/shop/manifests/v1': { digest: DIGEST_A, body: SINGLE_MANIFEST } }, { basic: `Basic ${Buffer.from('ci:tok').toString('base64')}`, bearer: 'tok123' });
    const client = new RegistryClient({ fetch: registry.fetch, credentials: () => ({ username: 'ci', password: 'tok' }) });
    // ghcr.io is not loopback, so the fake's https answers are used directly.
    const result = await client.manifest(ref('ghcr.io/acme/shop:v1'));
    expect(result.digest).toBe(DIGEST_A);
    expect(registry.requests.map((r) => r.url)).toContain('https://auth.example/token?service=registry.example&scope=repository%3Aacme%2Fshop%3Apull');
  });

  it('an index is sized over its platforms, leaving out attestations', async () => {
    const index = {
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { digest: DIGEST_A, platform: { os: 'linux', architecture: 'amd64' } },
        { digest: DIGEST_B, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { digest: `sha256:${'e'.repeat(64)}`, platform: { os: 'unknown', architecture: 'unknown' } },
      ],
    };
    const registry = fakeRegistry({
      '/v2/acme/shop/manifests/v1': { digest: `sha256:${'f'.repeat(64)}`, body: index },
      [`/v2/acme/shop/manifests/${DIGEST_A}`]: { digest: DIGEST_A, body: SINGLE_MANIFEST },
      [`/v2/acme/shop/manifests/${DIGEST_B}`]: { digest: DIGEST_B, body: SINGLE_MANIFEST },
    });
    const result = await new RegistryClient({ fetch: registry.fetch }).manifest(ref('ghcr.io/acme/shop:v1'));
    expect(result).toEqual({ digest: `sha256:${'f'.repeat(64)}`, mediaType: index.mediaType, size: 2 * 2_489_140, platforms: ['linux/amd64', 'linux/arm64/v8'] });
  });

  it('an unreachable registry gets its own message', async () => {
    const client = new RegistryClient({ fetch: async () => { throw new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND registry.invalid') }); } });
    const err = (await client.manifest(ref('registry.invalid/acme/shop:v1')).catch((e: unknown) => e)) as GantryError;
    expect(err.title).toBe('Registry unreachable');
    expect(err.message).toBe('The registry registry.invalid is unreachable: getaddrinfo ENOTFOUND registry.invalid');
  });
});

// ---------------------------------------------------------------- login, post step, outputs

describe('registry login', () => {
  const login = { registry: 'localhost:5001', username: 'ci', password: 'hunter2-very-secret' };

  it('sends the password on stdin only, and masks it first', async () => {
    const docker = fakeEngine();
    const reporter = new MemoryReporter();
    await loginToRegistry(new Docker({ runner: docker }), login, reporter);
    expect(docker.calls[0]!.args).toEqual(['login', '--username', 'ci', '--password-stdin', 'localhost:5001']);
    expect(docker.calls[0]!.options.input).toBe('hunter2-very-secret');
    expect(reporter.secrets).toEqual(['hunter2-very-secret']);
    expect(JSON.stringify(reporter.lines)).not.toContain('hunter2');
  });

  it.each([
    { output: 'Error response from daemon: Get "http://localhost:5001/v2/": unauthorized: incorrect username or password', title: 'Registry authentication failed', text: 'Could not log in to localhost:5001: the registry refused the credentials of "ci"' },
    { output: 'Error response from daemon: Get "https://localhost:5009/v2/": dial tcp [::1]:5009: connect: connection refused', title: 'Registry unreachable', text: 'Could not log in to localhost:5001: the registry is unreachable' },
  ])('a failed login says $title', async ({ output, title, text }) => {
    const docker = new FakeDocker().on(['login'], { exitCode: 1, stderr: output });
    const err = (await loginToRegistry(new Docker({ runner: docker }), login, new MemoryReporter()).catch((e: unknown) => e)) as GantryError;
    expect(err.title).toBe(title);
    expect(err.message).toContain(text);
  });

  it('the post step finds the saved login and logs out of that registry', async () => {
    const state = new Map<string, string>();
    const store = { save: (k: string, v: string) => void state.set(k, v), get: (k: string) => state.get(k) ?? '' };
    expect(savedLogin(store)).toBeUndefined();
    rememberLogin(store, { registry: 'localhost:5001', dockerConfig: '/tmp/dc' });
    const saved = savedLogin(store)!;
    expect(saved).toEqual({ registry: 'localhost:5001', dockerConfig: '/tmp/dc' });
    const docker = fakeEngine();
    const reporter = new MemoryReporter();
    await logoutFromRegistry(new Docker({ runner: docker, env: { DOCKER_CONFIG: saved.dockerConfig! } }), saved.registry, reporter);
    expect(docker.calls[0]).toEqual({ args: ['logout', 'localhost:5001'], options: { input: undefined, env: { DOCKER_CONFIG: '/tmp/dc' } } });
    expect(reporter.lines).toEqual(['Removed the credentials for localhost:5001']);
  });
});

describe('outputs and summary', () => {
  const result = {
    builder: 'classic' as const,
    tags: ['localhost:5000/acme/shop:v1', 'localhost:5000/acme/shop:latest'],
    labels: { 'org.opencontainers.image.revision': 'c3d5e7f' },
    imageId: IMAGE_ID,
    pushed: true,
    digest: DIGEST_A,
    image: `localhost:5000/acme/shop@${DIGEST_A}`,
    size: 2_489_140,
    platforms: [],
    buildMs: 2600,
    pushMs: 1200,
  };

  it('sets digest, image, tags and metadata outputs', async () => {
    const reporter = new MemoryReporter();
    await publishResult(result, reporter);
    expect(reporter.outputs.digest).toBe(DIGEST_A);
    expect(reporter.outputs.image).toBe(`localhost:5000/acme/shop@${DIGEST_A}`);
    expect(reporter.outputs.tags).toBe('localhost:5000/acme/shop:v1\nlocalhost:5000/acme/shop:latest');
    expect(JSON.parse(reporter.outputs.metadata!)).toEqual(buildMetadata(result));
    expect(JSON.parse(reporter.outputs.metadata!)).toMatchObject({ digest: DIGEST_A, labels: result.labels, buildSeconds: 2.6, pushSeconds: 1.2 });
  });

  it('the job summary is a table with image, tags, digest, size and build time', () => {
    expect(summaryMarkdown(result)).toBe(
      [
        '### Gantry build',
        '',
        '| | |',
        '|---|---|',
        `| Image | \`localhost:5000/acme/shop@${DIGEST_A}\` |`,
        '| Tags | `localhost:5000/acme/shop:v1`<br>`localhost:5000/acme/shop:latest` |',
        `| Digest | \`${DIGEST_A}\` |`,
        '| Size | 2.4 MiB compressed |',
        '| Build time | 2.6 s |',
        '| Push time | 1.2 s |',
        '',
      ].join('\n'),
    );
  });

  it('an unpushed build says so instead of showing a digest', () => {
    const md = summaryMarkdown({ ...result, pushed: false, digest: undefined, image: undefined, pushMs: undefined });
    expect(md).toContain(`| Image | not pushed (\`${IMAGE_ID}\`) |`);
    expect(md).toContain('| Digest | — |');
  });
});
