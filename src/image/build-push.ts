// The build step as a library function: pick a builder, build, push every tag, then ask
// the registry which digest the first tag now points at. Actions, workflows and the CLI call this.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildPushConfig } from '../config/build-push.js';
import { GantryError } from '../errors.js';
import { Reporter } from '../report/reporter.js';
import { digestReference, formatReference } from '../shared/image-reference.js';
import { explainBuildFailure } from './build-failure.js';
import { BuilderKind, chooseBuilder, planBuild } from './builder.js';
import { classifyRegistryFailure, Docker, isLegacyNoticeLine, withoutLegacyNotice } from './docker.js';
import { registryError } from './login.js';
import { ManifestInfo, RegistryClient } from './registry.js';

export interface BuildPushDeps {
  docker: Docker;
  registry: RegistryClient;
  reporter: Reporter;
  /** A private directory for the files docker writes (image ID, buildx metadata). */
  workDir: string;
  /** Milliseconds, for build and push times; injectable so tests can control it. */
  clock?: () => number;
}

export interface BuildPushResult {
  builder: BuilderKind;
  /** Every tag built, as full references. */
  tags: string[];
  labels: Record<string, string>;
  /** The local image ID (sha256:…), when the image is in the local store. */
  imageId?: string;
  pushed: boolean;
  /** The manifest digest the registry reports for the first tag. */
  digest?: string;
  /** registry/repo@sha256:…, the immutable reference deploy steps use. */
  image?: string;
  /** Bytes: compressed config+layers in the registry when pushed, the local store's size otherwise. */
  size?: number;
  platforms: string[];
  buildMs: number;
  /** Time spent pushing; undefined when the build pushed itself (buildx --push) or nothing was pushed. */
  pushMs?: number;
}

const BUILDER_NAMES: Record<BuilderKind, string> = {
  buildx: 'docker buildx build',
  buildkit: 'docker build (BuildKit)',
  classic: 'docker build (classic builder)',
};

export async function buildAndPush(config: BuildPushConfig, deps: BuildPushDeps): Promise<BuildPushResult> {
  const { docker, reporter } = deps;
  const clock = deps.clock ?? (() => performance.now());
  const tags = config.tags.map(formatReference);

  const version = await docker.version();
  const buildx = config.builder === 'docker' ? false : await docker.hasBuildx();
  const choice = chooseBuilder(config.builder, version, buildx);
  reporter.info(`Builder: ${BUILDER_NAMES[choice.kind]} (${choice.reason})`);
  const files = { iidfile: join(deps.workDir, 'iid'), metadataFile: join(deps.workDir, 'build-metadata.json') };
  const plan = planBuild(config, choice.kind, files);
  for (const w of plan.warnings) reporter.warning(w);

  const buildStart = clock();
  await reporter.group(`Build ${tags.join(', ')}`, async () => {
    reporter.info(`docker ${plan.args.join(' ')}`);
    // The build log is shown as it happens, so a long build shows progress.
    let streamed = 0;
    const result = await docker.exec(plan.args, {
      env: plan.env,
      onLine: (line) => {
        streamed++;
        if (!isLegacyNoticeLine(line)) reporter.info(line);
      },
    });
    const log = [result.stdout.trimEnd(), withoutLegacyNotice(result.stderr).trimEnd()].filter(Boolean).join('\n');
    if (log && streamed === 0) reporter.info(log);
    if (result.exitCode === 0) return;
    const output = `${result.stdout}\n${result.stderr}`;
    // buildx --push fails in its export step when the registry is the problem, not the Dockerfile.
    // Only that step counts: a RUN that fails on "connection refused" is a build failure.
    if (plan.pushesItself && /failed to push|pushing layers|exporting to image/i.test(output) && classifyRegistryFailure(output) !== 'other') {
      throw registryError(config.tags[0]!.registry, 'push to', output, config.login?.username);
    }
    throw explainBuildFailure({
      ...result,
      dockerfileText: existsSync(config.dockerfile) ? readFileSync(config.dockerfile, 'utf8') : undefined,
      dockerfileDisplay: config.dockerfileDisplay,
    });
  });
  const buildMs = clock() - buildStart;
  const imageId = existsSync(files.iidfile) ? readFileSync(files.iidfile, 'utf8').trim() || undefined : undefined;
  reporter.info(`Built ${imageId ?? 'the image'} in ${formatSeconds(buildMs)}`);

  const base = { builder: choice.kind, tags, labels: config.labels, imageId, buildMs };
  if (!config.push) {
    const local = imageId ? await docker.inspect(imageId) : undefined;
    reporter.info('push is false: nothing was pushed');
    return { ...base, pushed: false, size: local?.size, platforms: config.platforms };
  }

  // Digests the push itself reported, per tag, to cross-check the registry's answer.
  const pushed = new Map<string, string>();
  let pushMs: number | undefined;
  if (!plan.pushesItself) {
    const pushStart = clock();
    await reporter.group(`Push ${tags.length} tag${tags.length === 1 ? '' : 's'}`, async () => {
      for (const [i, tag] of tags.entries()) {
        const result = await docker.push(tag);
        const output = `${result.stdout}\n${result.stderr}`;
        if (result.exitCode !== 0) {
          reporter.info(output.trim());
          throw registryError(config.tags[i]!.registry, `push ${tag} to`, output, config.login?.username);
        }
        const digest = /digest: (sha256:[0-9a-f]{64})/.exec(output)?.[1];
        if (digest) pushed.set(tag, digest);
        reporter.info(`Pushed ${tag}${digest ? ` (${digest})` : ''}`);
      }
    });
    pushMs = clock() - pushStart;
  } else {
    const buildxDigest = readBuildxDigest(files.metadataFile);
    if (buildxDigest) for (const tag of tags) pushed.set(tag, buildxDigest);
  }

  const first = config.tags[0]!;
  const manifest = await registryManifest(deps.registry, first, pushed.get(tags[0]!), reporter);
  for (const [tag, digest] of pushed) {
    if (digest !== manifest.digest) {
      reporter.warning(`${tag} was pushed as ${digest}, but the registry now reports ${manifest.digest} for ${tags[0]}; another build may have pushed the same tag at the same time`);
    }
  }
  const image = digestReference(first, manifest.digest);
  reporter.info(`Registry reports ${tags[0]} → ${manifest.digest}`);
  return {
    ...base,
    pushed: true,
    digest: manifest.digest,
    image,
    size: manifest.size || undefined,
    platforms: manifest.platforms.length > 0 ? manifest.platforms : config.platforms,
    pushMs,
  };
}

/**
 * The registry's digest for a tag. When the registry will not let Gantry read without
 * credentials Gantry was not given (the user logged in in an earlier step), the digest
 * the registry returned to `docker push` is the registry's answer too, so use that.
 */
async function registryManifest(registry: RegistryClient, ref: BuildPushConfig['tags'][number], pushedDigest: string | undefined, reporter: Reporter): Promise<ManifestInfo> {
  try {
    return await registry.manifest(ref);
  } catch (err) {
    if (err instanceof GantryError && err.title === 'Registry authentication failed' && pushedDigest && /requires credentials/.test(err.message)) {
      reporter.info(`${ref.registry} needs credentials to read manifests; using the digest it returned to the push`);
      return { digest: pushedDigest, mediaType: '', size: 0, platforms: [] };
    }
    throw err;
  }
}

function readBuildxDigest(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const meta = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const digest = meta['containerimage.digest'];
    return typeof digest === 'string' ? digest : undefined;
  } catch {
    return undefined; // only a cross-check; the registry's answer is what counts
  }
}

export function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
