// build-push against a registry with basic auth (htpasswd) started by this file: login,
// push and the registry digest with credentials, wrong credentials, an unreachable
// registry, and the post step removing the credentials. The password must never be logged.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Docker } from '../../src/image/docker.js';
import { loginToRegistry } from '../../src/image/login.js';
import { GantryError } from '../../src/errors.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { runBundle } from '../support/bundle.js';
import { stack, uniqueName } from '../support/stack.js';

const { dockerHost } = stack();
const USER = 'gantry-ci';
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}-Zq9`;
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

let work: string;
let dockerConfig: string;
let registryHost: string;
let registryProcess: ChildProcess | undefined;
let registryLog = '';

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => res(port));
    });
  });
}

async function waitForRegistry(host: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`http://${host}/v2/`);
      if (res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`registry at ${host} did not start:\n${registryLog}`);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'gantry-bp-auth-'));
  dockerConfig = join(work, 'docker-config');
  mkdirSync(dockerConfig);
  mkdirSync(join(work, 'data'));
  writeFileSync(join(work, 'htpasswd'), execFileSync('htpasswd', ['-Bbn', USER, PASSWORD], { encoding: 'utf8' }));
  registryHost = `127.0.0.1:${await freePort()}`;
  writeFileSync(
    join(work, 'registry.yml'),
    [
      'version: 0.1',
      'log: {level: warn}',
      `storage: {filesystem: {rootdirectory: ${join(work, 'data')}}}`,
      `http: {addr: "${registryHost}"}`,
      `auth: {htpasswd: {realm: gantry-test, path: ${join(work, 'htpasswd')}}}`,
      '',
    ].join('\n'),
  );
  registryProcess = spawn('docker-registry', ['serve', join(work, 'registry.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  registryProcess.stdout!.on('data', (d: Buffer) => (registryLog += d.toString()));
  registryProcess.stderr!.on('data', (d: Buffer) => (registryLog += d.toString()));
  await waitForRegistry(registryHost);

  // A tiny image to push: one static busybox binary, FROM scratch.
  mkdirSync(join(work, 'app'));
  copyFileSync('/bin/busybox', join(work, 'app/busybox'));
  writeFileSync(join(work, 'app/Dockerfile'), 'FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT ["/bin/busybox"]\n');
});

afterAll(async () => {
  // Local copies of what these tests built; the registry's data dir goes with `work`.
  const images = execFileSync('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'], { env: { ...process.env, DOCKER_HOST: dockerHost }, encoding: 'utf8' })
    .split('\n')
    .filter((ref) => ref.startsWith(`${registryHost}/`));
  if (images.length > 0) execFileSync('docker', ['image', 'rm', '--force', ...images], { env: { ...process.env, DOCKER_HOST: dockerHost }, stdio: 'ignore' });
  if (registryProcess && registryProcess.exitCode === null) {
    const exited = new Promise((r) => registryProcess!.once('exit', r));
    registryProcess.kill('SIGTERM');
    await exited;
  }
  rmSync(work, { recursive: true, force: true });
});

const env = (): Record<string, string> => ({ DOCKER_HOST: dockerHost, DOCKER_CONFIG: dockerConfig, GITHUB_WORKSPACE: work });

describe('build-push with a basic-auth registry', () => {
  it('logs in, pushes, reports the registry digest, and the post step removes the credentials', async () => {
    const repo = `team/${uniqueName('auth')}`;
    const main = await runBundle('build-push', {
      inputs: { context: 'app', tags: `${registryHost}/${repo}:v1`, username: USER, password: PASSWORD },
      env: env(),
      timeoutMs: 120_000,
    });
    expect(main.exitCode, main.stdout + main.stderr).toBe(0);
    expect(main.stdout).toContain(`Logged in to ${registryHost} as ${USER}`);
    expect(main.stdout).toContain(`::add-mask::${PASSWORD}`);
    // Apart from the mask registration the runner consumes, the password appears nowhere.
    expect(main.stdout.replaceAll(`::add-mask::${PASSWORD}`, '') + main.stderr).not.toContain(PASSWORD);

    const res = await fetch(`http://${registryHost}/v2/${repo}/manifests/v1`, {
      headers: { Accept: ACCEPT, Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` },
    });
    expect(res.status).toBe(200);
    expect(main.outputs.digest).toBe(res.headers.get('docker-content-digest'));
    expect(main.outputs.image).toBe(`${registryHost}/${repo}@${main.outputs.digest}`);

    const config = (): { auths?: Record<string, unknown> } => JSON.parse(readFileSync(join(dockerConfig, 'config.json'), 'utf8')) as { auths?: Record<string, unknown> };
    expect(Object.keys(config().auths ?? {})).toContain(registryHost);
    expect(main.state).toMatchObject({ 'gantry-login-registry': registryHost });

    const post = await runBundle('build-push-post', { state: main.state, env: env() });
    expect(post.exitCode, post.stdout + post.stderr).toBe(0);
    expect(post.stdout).toContain(`Removed the credentials for ${registryHost}`);
    expect(Object.keys(config().auths ?? {})).not.toContain(registryHost);
  }, 180_000);

  it('wrong credentials fail with a clear message, and the password is not in the log', async () => {
    const wrong = `${PASSWORD}-wrong`;
    const run = await runBundle('build-push', {
      inputs: { context: 'app', tags: `${registryHost}/team/denied:v1`, username: USER, password: wrong },
      env: env(),
    });
    expect(run.exitCode).toBe(1);
    const error = run.annotations.find((a) => a.startsWith('::error'));
    expect(error).toContain(`Could not log in to ${registryHost}: the registry refused the credentials of "${USER}"`);
    expect(run.stdout.replaceAll(`::add-mask::${wrong}`, '') + run.stderr).not.toContain(wrong);
    // Login comes first: nothing was built.
    expect(run.stdout).not.toContain('Builder:');
  }, 60_000);

  it('pushing without credentials says the registry refused access and how to log in', async () => {
    const run = await runBundle('build-push', {
      inputs: { context: 'app', tags: `${registryHost}/team/anon:v1` },
      env: env(),
      timeoutMs: 120_000,
    });
    expect(run.exitCode).toBe(1);
    const error = run.annotations.find((a) => a.startsWith('::error')) ?? '';
    expect(error).toContain(`Could not push ${registryHost}/team/anon:v1 to ${registryHost}: the registry refused access without credentials`);
    expect(error).toContain('set inputs "username" and "password"');
  }, 150_000);

  it('an unreachable registry gets its own message', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const err = (await loginToRegistry(new Docker({ env: { DOCKER_HOST: dockerHost, DOCKER_CONFIG: dockerConfig } }), { registry: closed, username: USER, password: PASSWORD }, new MemoryReporter()).catch((e: unknown) => e)) as GantryError;
    expect(err).toBeInstanceOf(GantryError);
    expect(err.title).toBe('Registry unreachable');
    expect(err.message).toContain(`Could not log in to ${closed}: the registry is unreachable`);
    expect(err.message).not.toContain(PASSWORD);
  }, 60_000);
});
