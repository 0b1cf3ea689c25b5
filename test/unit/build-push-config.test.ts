// Inputs and GitHub context of actions/build-push: generated tags over recorded event
// payloads, default labels and input errors.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildPushConfig, GitContext, parseBuildPushConfig, readGitContext } from '../../src/config/build-push.js';
import { MapSource } from '../../src/config/source.js';
import { GantryError, GantryErrors } from '../../src/errors.js';
import { sanitizeTag, semverTags } from '../../src/image/tags.js';
import { formatReference } from '../../src/shared/image-reference.js';

const EVENTS = resolve(import.meta.dirname, '../fixtures/events');
const NOW = new Date('2026-11-22T08:00:00Z');

let workspace: string;
beforeAll(() => {
  workspace = mkdtempSync(join(tmpdir(), 'gantry-bp-config-'));
  mkdirSync(join(workspace, 'app'));
  writeFileSync(join(workspace, 'app/Dockerfile'), 'FROM scratch\n');
  writeFileSync(join(workspace, 'Build.dockerfile'), 'FROM scratch\n');
});
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

const BRANCH_PUSH = { GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/feature/Login-Form', GITHUB_SHA: '9b2e6f0c4a1d3e5f7a9c1b3d5e7f9a1c3b5d7e9f' };

function parse(inputs: Record<string, string>, git: GitContext = gitFor('push-branch.json', BRANCH_PUSH)): BuildPushConfig {
  return parseBuildPushConfig(new MapSource({ context: 'app', ...inputs }, 'input'), git, { workspace, now: NOW });
}

function parseError(inputs: Record<string, string>, git?: GitContext): string {
  try {
    parse(inputs, git);
  } catch (err) {
    expect(err).toBeInstanceOf(GantryError);
    return (err as GantryError).describe();
  }
  throw new Error('expected the inputs to be rejected');
}

/** The GitHub context as the runner would present it for one recorded event. */
function gitFor(fixture: string, env: Record<string, string>): GitContext {
  return readGitContext({ GITHUB_EVENT_PATH: join(EVENTS, fixture), GITHUB_REPOSITORY: 'acme/shop', GITHUB_SERVER_URL: 'https://github.com', ...env });
}

describe('tags generated from recorded events', () => {
  it.each([
    {
      event: 'push to a branch',
      fixture: 'push-branch.json',
      env: { GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/feature/Login-Form', GITHUB_SHA: '9b2e6f0c4a1d3e5f7a9c1b3d5e7f9a1c3b5d7e9f' },
      tags: ['feature-Login-Form', '9b2e6f0'],
      revision: '9b2e6f0c4a1d3e5f7a9c1b3d5e7f9a1c3b5d7e9f',
    },
    {
      event: 'push of a version tag',
      fixture: 'push-tag.json',
      env: { GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/tags/v1.4.2', GITHUB_SHA: 'c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1' },
      tags: ['1.4.2', '1.4', '1', 'c3d5e7f'],
      revision: 'c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1',
    },
    {
      // GITHUB_SHA is the throwaway merge commit; tags and labels use the PR head.
      event: 'pull request',
      fixture: 'pull-request.json',
      env: { GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: 'refs/pull/57/merge', GITHUB_SHA: 'f0e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d' },
      tags: ['pr-57', 'e4f6a8c'],
      revision: 'e4f6a8c0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2',
    },
    {
      event: 'workflow_dispatch on main',
      fixture: 'workflow-dispatch.json',
      env: { GITHUB_EVENT_NAME: 'workflow_dispatch', GITHUB_REF: 'refs/heads/main', GITHUB_SHA: '7d9f1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e' },
      tags: ['main', '7d9f1b3'],
      revision: '7d9f1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e',
    },
  ])('$event → $tags', ({ fixture, env, tags, revision }) => {
    const config = parse({ image: 'ghcr.io/acme/shop' }, gitFor(fixture, env));
    expect(config.tags.map(formatReference)).toEqual(tags.map((t) => `ghcr.io/acme/shop:${t}`));
    expect(config.labels).toEqual({
      'org.opencontainers.image.source': 'https://github.com/acme/shop',
      'org.opencontainers.image.revision': revision,
      'org.opencontainers.image.created': '2026-11-22T08:00:00.000Z',
    });
  });

  it('a pull request number comes from the ref when the payload has none', () => {
    const git = readGitContext({ GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: 'refs/pull/12/merge', GITHUB_SHA: 'abcdef0123456789' });
    expect(git.pullRequest).toBe(12);
  });

  it('an unreadable event payload is named', () => {
    const bad = join(workspace, 'event.json');
    writeFileSync(bad, '{not json');
    expect(() => readGitContext({ GITHUB_EVENT_PATH: bad })).toThrow(/event payload at .*event\.json \(GITHUB_EVENT_PATH\) is not valid JSON/);
  });
});

describe('tag rules', () => {
  it.each([
    ['feature/Login-Form', 'feature-Login-Form'],
    ['dependabot/npm_and_yarn/yaml-2.9.1', 'dependabot-npm_and_yarn-yaml-2.9.1'],
    ['-weird//name.', 'weird-name'],
    ['ünïcode branch', 'n-code-branch'],
  ])('branch %s becomes tag %s', (branch, tag) => {
    expect(sanitizeTag(branch)).toBe(tag);
  });

  it.each([
    ['v1.2.3', ['1.2.3', '1.2', '1']],
    ['2.0.0', ['2.0.0', '2.0', '2']],
    ['v0.9.1', ['0.9.1', '0.9']],
    ['v1.2.3-rc.1', ['1.2.3-rc.1']],
    ['v1.2', []],
    ['release-7', []],
  ])('version tag %s gives %j', (name, tags) => {
    expect(semverTags(name)).toEqual(tags);
  });

  it('a non-semver git tag is used sanitized', () => {
    const config = parse({ image: 'ghcr.io/acme/shop' }, { eventName: 'push', ref: 'refs/tags/release/2026-11', sha: 'abcdef0123456789', repository: 'acme/shop', serverUrl: 'https://github.com' });
    expect(config.tags.map((t) => t.tag)).toEqual(['release-2026-11', 'abcdef0']);
  });
});

describe('inputs', () => {
  it('explicit tags win over generated ones; bare tags belong to image', () => {
    const config = parse({ image: 'ghcr.io/acme/shop', tags: 'latest\nlocalhost:5000/mirror/shop:edge' });
    expect(config.tags.map(formatReference)).toEqual(['ghcr.io/acme/shop:latest', 'localhost:5000/mirror/shop:edge']);
  });

  it('user labels override the default OCI labels and add their own', () => {
    const config = parse({ image: 'ghcr.io/acme/shop', labels: 'org.opencontainers.image.source=https://example.com/shop\nteam=payments' });
    expect(config.labels['org.opencontainers.image.source']).toBe('https://example.com/shop');
    expect(config.labels.team).toBe('payments');
    expect(config.labels['org.opencontainers.image.revision']).toBe(BRANCH_PUSH.GITHUB_SHA);
  });

  it('defaults: push, auto builder, Dockerfile in the context, login only with both username and password', () => {
    const config = parse({ image: 'ghcr.io/acme/shop' });
    expect(config.push).toBe(true);
    expect(config.builder).toBe('auto');
    expect(config.dockerfile).toBe(join(workspace, 'app/Dockerfile'));
    expect(config.dockerfileDisplay).toBe('app/Dockerfile');
    expect(config.login).toBeUndefined();
  });

  it('file is read relative to the workspace and cache entries keep their commas', () => {
    const config = parse({ image: 'ghcr.io/acme/shop', file: 'Build.dockerfile', 'cache-from': 'type=registry,ref=ghcr.io/acme/shop:cache\ntype=gha', push: 'false' });
    expect(config.dockerfile).toBe(join(workspace, 'Build.dockerfile'));
    expect(config.cacheFrom).toEqual(['type=registry,ref=ghcr.io/acme/shop:cache', 'type=gha']);
    expect(config.push).toBe(false);
  });

  it('logs in to the first tag\'s registry unless registry is set', () => {
    expect(parse({ image: 'localhost:5001/acme/shop', username: 'ci', password: 'pw' }).login).toEqual({ registry: 'localhost:5001', username: 'ci', password: 'pw' });
    expect(parse({ image: 'localhost:5001/acme/shop', username: 'ci', password: 'pw', registry: '127.0.0.1:5001' }).login?.registry).toBe('127.0.0.1:5001');
    expect(parse({ image: 'ghcr.io/acme/shop', username: 'ci', password: 'pw', registry: 'https://ghcr.io/' }).login?.registry).toBe('ghcr.io');
  });

  it('a missing context is named with the path it resolved to', () => {
    expect(parseError({ image: 'ghcr.io/acme/shop', context: 'nope' })).toContain(`input "context" points at nope, which does not exist (resolved to ${join(workspace, 'nope')})`);
  });

  it('a missing Dockerfile is named', () => {
    expect(parseError({ image: 'ghcr.io/acme/shop', file: 'app/Containerfile' })).toContain('input "file" points at app/Containerfile, which does not exist');
    expect(parseError({ image: 'ghcr.io/acme/shop', context: '.' })).toContain('input "context" has no Dockerfile (looked for Dockerfile)');
  });

  it('every bad input is reported at once', () => {
    let caught: unknown;
    try {
      parse({ image: 'ghcr.io/Acme/shop:v1', push: 'maybe', username: 'ci', builder: 'kaniko' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GantryErrors);
    const messages = (caught as GantryErrors).errors.map((e) => e.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringContaining('input "push" must be true or false, got "maybe"'),
        expect.stringContaining('input "builder" must be one of auto, buildx, docker, got "kaniko"'),
        expect.stringContaining('input "image" "ghcr.io/Acme/shop:v1" has a tag or digest'),
        expect.stringContaining('input "password" is required when input "username" is set'),
      ]),
    );
  });

  it('an invalid tag in tags names the entry and the character', () => {
    expect(parseError({ tags: 'ghcr.io/acme/shop:feat@x' })).toContain('input "tags" entry "ghcr.io/acme/shop:feat@x"');
    expect(parseError({ image: 'ghcr.io/acme/shop', tags: 'v1 final' })).toContain('tag "v1 final" is not valid: it contains a space');
  });

  it('neither image nor tags is an error that says what to set', () => {
    expect(parseError({})).toContain('input "image" or input "tags" is required');
  });

  it('a bare tag without image is explained', () => {
    expect(parseError({ tags: 'latest' })).toContain('bare tag "latest" but input "image" is not set');
  });
});
