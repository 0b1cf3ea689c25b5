import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/deploy.js';
import { EnvInputSource, MapSource } from '../../src/config/source.js';
import { GantryErrors } from '../../src/errors.js';

const actionsEnv = { GITHUB_REPOSITORY: 'acme/Web-Shop', GITHUB_RUN_ID: '42', GITHUB_RUN_ATTEMPT: '2', GITHUB_JOB: 'deploy', GITHUB_SHA: 'abc', GITHUB_SERVER_URL: 'https://github.com', GITHUB_WORKSPACE: '/ws' };

describe('parseConfig', () => {
  it('reads action inputs with defaults and the run that deploys', () => {
    const config = parseConfig('deploy', new EnvInputSource({ ...actionsEnv, INPUT_MANIFESTS: 'k8s/\nextra/*.yaml' }), actionsEnv);
    expect(config).toMatchObject({
      target: { namespace: 'default', app: 'web-shop' },
      workspace: '/ws',
      manifests: ['k8s/', 'extra/*.yaml'],
      timeoutMs: 300_000,
      rollbackOnFailure: true,
      historyLimit: 10,
      run: { id: 'github-acme/Web-Shop-42-deploy', runUrl: 'https://github.com/acme/Web-Shop/actions/runs/42/attempts/2', commit: 'abc' },
    });
  });

  const D1 = 'sha256:' + 'ab'.repeat(32);
  const D2 = 'sha256:' + 'de'.repeat(32);
  it.each([
    ['a reference with a registry port and a digest', `localhost:5000/gantry/app@${D1}`, { 'localhost:5000/gantry/app': `localhost:5000/gantry/app@${D1}` }],
    ['a tag and a digest', `ghcr.io/o/app:v2@${D2}`, { 'ghcr.io/o/app': `ghcr.io/o/app:v2@${D2}` }],
    ['an explicit repository=reference', 'app=localhost:5000/app:v3', { app: 'localhost:5000/app:v3' }],
  ])('maps images given as %s', (_name, images, expected) => {
    expect(parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web', images }), {}).images).toEqual(expected);
  });

  it('reports every bad setting at once, in the spelling of the source', () => {
    let caught: unknown;
    try {
      parseConfig('deploy', new MapSource({ app: 'Web_Shop', timeout: 'soon', 'history-limit': '0' }), {});
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GantryErrors);
    const messages = (caught as GantryErrors).errors.map((e) => e.message);
    expect(messages).toEqual([
      '--manifests is required',
      '--app must be a lowercase DNS label of at most 42 characters, got "Web_Shop"',
      '--timeout must be a duration like 90s, 5m or 1h30m, got "soon"',
      '--history-limit must be between 1 and 100, got 0',
    ]);
  });

  it('needs no manifests for rollback and reads the revision to restore', () => {
    const config = parseConfig('rollback', new MapSource({ app: 'web', revision: '3' }), {});
    expect(config.toRevision).toBe(3);
    expect(config.manifests).toEqual([]);
  });

  it('names a CLI run after the user and host so a held lock says who holds it', () => {
    const config = parseConfig('status', new MapSource({ app: 'web' }), {});
    expect(config.run.runUrl).toMatch(/^gantry CLI, .+@.+ pid \d+$/);
  });
});

describe('images input', () => {
  it.each([
    ['localhost:5000/app@sha256:' + 'a'.repeat(64), 'localhost:5000/app'],
    ['localhost:5000/app:v1', 'localhost:5000/app'],
    ['localhost:5000/app=localhost:5000/app@sha256:' + 'b'.repeat(64), 'localhost:5000/app'],
    ['nginx:1.27', 'docker.io/library/nginx'],
  ])('%s replaces the repository %s', (line, repo) => {
    const config = parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web', images: line }), {});
    expect(Object.keys(config.images)).toEqual([repo]);
  });

  it.each(['localhost:5000/App:v1', 'app:bad tag', 'localhost:5000/app@sha256:short', 'Bad Repo=localhost:5000/app:v1'])('rejects "%s" before anything runs', (line) => {
    expect(() => parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web', images: line }), {})).toThrow(/input "images"|--images/);
  });
});
