// Inputs of actions/build-push and the GitHub context they depend on, parsed once into
// a typed BuildPushConfig. Nothing else in Gantry reads these inputs or GITHUB_* variables.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { GantryError } from '../errors.js';
import { generateTags } from '../image/tags.js';
import { TaggedReference, parseRepository, parseTaggedReference } from '../shared/image-reference.js';
import { Reader, Source } from './source.js';

/** Which build command to run: `auto` picks buildx when the docker CLI has it. */
export type BuilderChoice = 'auto' | 'buildx' | 'docker';

/** The parts of the GitHub workflow context that decide tags and labels. */
export interface GitContext {
  /** GITHUB_EVENT_NAME: push, pull_request, workflow_dispatch, … */
  eventName: string;
  /** GITHUB_REF: refs/heads/main, refs/tags/v1.2.3, refs/pull/7/merge. */
  ref: string;
  /**
   * The commit the image is built from. For pull requests this is the PR head, not the
   * ephemeral merge commit in GITHUB_SHA, because the head is the commit people can find.
   */
  sha: string;
  /** owner/name */
  repository: string;
  serverUrl: string;
  /** The pull request number, for pull_request and pull_request_target events. */
  pullRequest?: number;
}

export interface RegistryLogin {
  registry: string;
  username: string;
  password: string;
}

export interface BuildPushConfig {
  /** Absolute path of the build context. */
  context: string;
  /** Absolute path of the Dockerfile. */
  dockerfile: string;
  /** The Dockerfile as the user's repository knows it (relative to the workspace), for annotations. */
  dockerfileDisplay: string;
  target?: string;
  buildArgs: Record<string, string>;
  /** Default OCI labels overlaid with the `labels` input. */
  labels: Record<string, string>;
  /** Every tag to build, as full references; the first one names `image`. */
  tags: TaggedReference[];
  push: boolean;
  /** Set when username and password were given. */
  login?: RegistryLogin;
  builder: BuilderChoice;
  platforms: string[];
  cacheFrom: string[];
  cacheTo: string[];
  provenance?: string;
  sbom?: string;
  noCache: boolean;
}

/** Reads the GitHub context the way the runner provides it: GITHUB_* variables and the event payload file. */
export function readGitContext(env: NodeJS.ProcessEnv = process.env): GitContext {
  let event: Record<string, unknown> = {};
  const eventPath = env.GITHUB_EVENT_PATH;
  if (eventPath && existsSync(eventPath)) {
    try {
      event = JSON.parse(readFileSync(eventPath, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new GantryError(`The event payload at ${eventPath} (GITHUB_EVENT_PATH) is not valid JSON`, {
        cause: err,
        title: 'GitHub context',
        hint: 'this file is written by the Actions runner; if you set GITHUB_EVENT_PATH yourself, point it at a JSON event payload',
      });
    }
  }
  return gitContextFromEvent(env, event);
}

/** Builds the context from GITHUB_* variables and an already-parsed event payload. */
export function gitContextFromEvent(env: NodeJS.ProcessEnv, event: Record<string, unknown>): GitContext {
  const eventName = env.GITHUB_EVENT_NAME ?? '';
  const pr = asRecord(event.pull_request);
  const head = asRecord(pr?.head);
  const repo = asRecord(event.repository);
  const isPr = pr !== undefined;
  const prNumber = isPr ? Number(pr.number ?? event.number) : prFromRef(env.GITHUB_REF);
  return {
    eventName,
    ref: env.GITHUB_REF ?? '',
    sha: (isPr && typeof head?.sha === 'string' ? head.sha : env.GITHUB_SHA) ?? '',
    repository: env.GITHUB_REPOSITORY ?? (typeof repo?.full_name === 'string' ? repo.full_name : ''),
    serverUrl: env.GITHUB_SERVER_URL ?? 'https://github.com',
    pullRequest: prNumber !== undefined && Number.isInteger(prNumber) && prNumber > 0 ? prNumber : undefined,
  };
}

function prFromRef(ref: string | undefined): number | undefined {
  const m = /^refs\/pull\/(\d+)\//.exec(ref ?? '');
  return m ? Number(m[1]) : undefined;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export interface ParseOptions {
  /** Where relative paths start: GITHUB_WORKSPACE on a runner, the current directory elsewhere. */
  workspace: string;
  /** The build's clock, for the `created` label. */
  now: Date;
}

/** Parses and validates every input; throws all problems together before any work starts. */
export function parseBuildPushConfig(source: Source, git: GitContext, options: ParseOptions): BuildPushConfig {
  const r = new Reader(source);
  const { workspace } = options;

  const contextInput = r.string('context', '.')!;
  const context = resolve(workspace, contextInput);
  if (!existsSync(context)) {
    r.problem('context', `points at ${contextInput}, which does not exist (resolved to ${context})`, 'set context to the directory that holds your build files, relative to the repository root');
  }
  const fileInput = r.string('file');
  const dockerfile = fileInput === undefined ? join(context, 'Dockerfile') : resolve(workspace, fileInput);
  const dockerfileDisplay = isAbsolute(dockerfile) && dockerfile.startsWith(workspace + '/') ? dockerfile.slice(workspace.length + 1) : dockerfile;
  if (existsSync(context) && !existsSync(dockerfile)) {
    if (fileInput === undefined) {
      r.problem('context', `has no Dockerfile (looked for ${dockerfileDisplay})`, 'add a Dockerfile to the context, or set input "file" to the one you use');
    } else {
      r.problem('file', `points at ${dockerfileDisplay}, which does not exist`, 'set file to the path of your Dockerfile, relative to the repository root');
    }
  }

  const target = r.string('target');
  const buildArgs = r.pairs('build-args');
  const userLabels = r.pairs('labels');
  const push = r.bool('push', true);
  const noCache = r.bool('no-cache', false);
  const builder = r.oneOf<BuilderChoice>('builder', ['auto', 'buildx', 'docker'], 'auto');
  const platforms = r.list('platforms');
  // cache-from/to entries may contain commas (type=registry,ref=…), so they are one per line.
  const cacheFrom = lines(r.string('cache-from'));
  const cacheTo = lines(r.string('cache-to'));
  const provenance = r.string('provenance');
  const sbom = r.string('sbom');

  const imageInput = r.string('image');
  let image: ReturnType<typeof parseRepository> | undefined;
  if (imageInput !== undefined) {
    image = parseRepository(imageInput);
    if ('problem' in image) r.problem('image', image.problem, 'write the repository without a tag, e.g. ghcr.io/owner/app');
  }
  const repo = image && !('problem' in image) ? image : undefined;

  const tags: TaggedReference[] = [];
  const tagInput = r.list('tags');
  if (tagInput.length > 0) {
    for (const entry of tagInput) {
      // A bare tag ("v1", "latest") belongs to `image`; anything with a "/" or ":" is a full reference.
      const full = /[/:]/.test(entry) ? entry : repo ? `${repo.name}:${entry}` : undefined;
      if (full === undefined) {
        r.problem('tags', `has the bare tag "${entry}" but input "image" is not set`, 'set image to the repository (e.g. ghcr.io/owner/app), or write full references in tags');
        continue;
      }
      const ref = parseTaggedReference(full);
      if ('problem' in ref) r.problem('tags', `entry "${entry}": ${ref.problem}`);
      else tags.push(ref);
    }
  } else if (repo) {
    for (const tag of generateTags(git)) {
      const ref = parseTaggedReference(`${repo.name}:${tag}`);
      if ('problem' in ref) r.problem('image', `gives an invalid generated reference: ${ref.problem}`);
      else tags.push(ref);
    }
    if (tags.length === 0) {
      r.problem('tags', `is empty and no tag can be generated from the GitHub context (event "${git.eventName || 'unknown'}", ref "${git.ref || 'unknown'}")`, 'set tags explicitly, e.g. tags: latest');
    }
  } else if (imageInput === undefined) {
    r.problem('image', 'or input "tags" is required', 'set image (tags are then generated from the commit, branch, version tag or pull request) or list tags');
  }

  let login: RegistryLogin | undefined;
  const username = r.string('username');
  const password = r.string('password');
  if ((username === undefined) !== (password === undefined)) {
    r.problem(username === undefined ? 'username' : 'password', `is required when input "${username === undefined ? 'password' : 'username'}" is set`);
  } else if (username !== undefined && password !== undefined) {
    // docker login accepts https://host/ too; keep the bare host so it matches the tags' registry.
    const registry = r.string('registry')?.replace(/^https?:\/\//, '').replace(/\/+$/, '') ?? tags[0]?.registry;
    if (registry === undefined) r.problem('registry', 'is required to log in when no tag names a registry');
    else login = { registry, username, password };
  }
  r.done();
  return {
    context,
    dockerfile,
    dockerfileDisplay,
    target,
    buildArgs,
    labels: { ...defaultLabels(git, options.now), ...userLabels },
    tags,
    push,
    login,
    builder,
    platforms,
    cacheFrom,
    cacheTo,
    provenance,
    sbom,
    noCache,
  };
}

/** The OCI labels every image gets unless the user overrides them. */
export function defaultLabels(git: GitContext, now: Date): Record<string, string> {
  const labels: Record<string, string> = { 'org.opencontainers.image.created': now.toISOString() };
  if (git.repository) labels['org.opencontainers.image.source'] = `${git.serverUrl.replace(/\/$/, '')}/${git.repository}`;
  if (git.sha) labels['org.opencontainers.image.revision'] = git.sha;
  return labels;
}

function lines(v: string | undefined): string[] {
  if (v === undefined) return [];
  return v.split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== '' && !s.startsWith('#'));
}
