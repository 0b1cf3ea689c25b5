// Which build command to run (docker buildx build, docker build with BuildKit, or the
// classic builder) and the exact arguments for it, including what each one cannot do.
import { BuildPushConfig } from '../config/build-push.js';
import { GantryError } from '../errors.js';
import { formatReference } from '../shared/image-reference.js';
import type { DockerVersion } from './docker.js';

/**
 * buildx: `docker buildx build`, pushes itself with --push.
 * buildkit: `docker build` with DOCKER_BUILDKIT=1 (CLIs before 23.0 carry their own BuildKit client).
 * classic: `docker build` with the engine's classic builder (CLI 23+ without buildx).
 */
export type BuilderKind = 'buildx' | 'buildkit' | 'classic';

export interface BuilderChoiceResult {
  kind: BuilderKind;
  /** One line for the log: why this builder. */
  reason: string;
}

/** Picks the builder from what the CLI and engine support and what the user asked for. */
export function chooseBuilder(requested: BuildPushConfig['builder'], version: DockerVersion, buildx: boolean): BuilderChoiceResult {
  if (requested === 'buildx' || (requested === 'auto' && buildx)) {
    if (!buildx) {
      throw new GantryError('input "builder" is buildx, but the docker CLI has no buildx plugin', {
        title: 'Invalid input',
        hint: 'install buildx on the runner (docker/setup-buildx-action), or set builder: auto to fall back to docker build',
      });
    }
    return { kind: 'buildx', reason: 'docker buildx is installed' };
  }
  // BuildKit needs engine API 1.39+ on Linux. From CLI 23.0 on, `docker build` only uses
  // BuildKit through buildx; without it DOCKER_BUILDKIT=1 makes the CLI fail outright.
  const engineHasBuildKit = version.serverOs === 'linux' && compareVersions(version.serverApi, '1.39') >= 0;
  const cliHasBuildKit = compareVersions(version.client, '23.0') < 0;
  if (engineHasBuildKit && cliHasBuildKit) {
    return { kind: 'buildkit', reason: `no buildx; docker CLI ${version.client} builds with BuildKit itself` };
  }
  const why = !engineHasBuildKit
    ? `Docker engine ${version.serverVersion} (API ${version.serverApi}, ${version.serverOs}) has no BuildKit`
    : `docker CLI ${version.client} needs the buildx plugin for BuildKit and it is not installed`;
  return { kind: 'classic', reason: `${why}; using the classic builder` };
}

export interface BuildPlan {
  kind: BuilderKind;
  args: string[];
  env: Record<string, string>;
  /** Inputs this builder ignores, one message each, for the log as warnings. */
  warnings: string[];
  /** Whether the build command itself pushes (buildx --push). */
  pushesItself: boolean;
}

export interface PlanFiles {
  /** Where docker writes the image ID (--iidfile). */
  iidfile: string;
  /** Where buildx writes its build metadata (--metadata-file). */
  metadataFile: string;
}

/** The exact docker command for a build; throws when an input needs buildx and buildx is not there. */
export function planBuild(config: BuildPushConfig, kind: BuilderKind, files: PlanFiles): BuildPlan {
  const warnings: string[] = [];
  const args: string[] = kind === 'buildx' ? ['buildx', 'build'] : ['build'];
  args.push('--file', config.dockerfile);
  for (const tag of config.tags) args.push('--tag', formatReference(tag));
  for (const [k, v] of Object.entries(config.labels)) args.push('--label', `${k}=${v}`);
  for (const [k, v] of Object.entries(config.buildArgs)) args.push('--build-arg', `${k}=${v}`);
  if (config.target) args.push('--target', config.target);
  if (config.noCache) args.push('--no-cache');
  args.push('--iidfile', files.iidfile);

  let pushesItself = false;
  if (kind === 'buildx') {
    if (config.platforms.length > 0) args.push('--platform', config.platforms.join(','));
    for (const c of config.cacheFrom) args.push('--cache-from', c);
    for (const c of config.cacheTo) args.push('--cache-to', c);
    if (config.provenance !== undefined) args.push(`--provenance=${config.provenance}`);
    if (config.sbom !== undefined) args.push(`--sbom=${config.sbom}`);
    args.push('--metadata-file', files.metadataFile);
    if (config.push) {
      args.push('--push');
      pushesItself = true;
    } else if (config.platforms.length <= 1) {
      // Keep the single-platform result in the local image store, as `docker build` would.
      args.push('--load');
    } else {
      warnings.push(`push is false and ${config.platforms.length} platforms are built: the docker image store cannot hold a multi-platform image, so the result stays in the build cache only`);
    }
    args.push(config.context);
    return { kind, args, env: {}, warnings, pushesItself };
  }

  const needsBuildx: string[] = [];
  if (config.platforms.length > 1) needsBuildx.push(`platforms (${config.platforms.join(', ')}): docker build makes one platform per run`);
  if (config.provenance !== undefined && !isOff(config.provenance)) needsBuildx.push('provenance: attestations are made by buildx only');
  if (config.sbom !== undefined && !isOff(config.sbom)) needsBuildx.push('sbom: attestations are made by buildx only');
  if (needsBuildx.length > 0) {
    throw new GantryError(`These inputs need docker buildx, which is not installed: ${needsBuildx.join('; ')}`, {
      title: 'Invalid input',
      hint: 'add docker/setup-buildx-action before this step, or remove these inputs',
    });
  }
  if (config.platforms.length === 1) args.push('--platform', config.platforms[0]!);
  for (const c of config.cacheFrom) {
    // The classic builder takes only image references as cache sources, and only images already pulled.
    if (c.includes('=')) warnings.push(`cache-from "${c}" is ignored: without buildx only plain image references can be cache sources`);
    else args.push('--cache-from', c);
  }
  for (const c of config.cacheTo) warnings.push(`cache-to "${c}" is ignored: exporting build cache needs buildx`);
  args.push(config.context);
  return { kind, args, env: { DOCKER_BUILDKIT: kind === 'buildkit' ? '1' : '0' }, warnings, pushesItself };
}

function isOff(value: string): boolean {
  return /^(false|0|no|off)$/i.test(value.trim());
}

/** Compares dotted version numbers ("28.2.2" vs "23.0"); non-numeric suffixes are ignored. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map((p) => parseInt(p, 10));
  const pb = b.split(/[.+-]/).map((p) => parseInt(p, 10));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number.isNaN(pa[i]) ? 0 : (pa[i] ?? 0);
    const y = Number.isNaN(pb[i]) ? 0 : (pb[i] ?? 0);
    if (x !== y) return x - y;
  }
  return 0;
}
