// The all-in-one action's settings: an optional build (when `image` or `tags` is given)
// and a deploy, parsed together so that a bad deploy input fails before a minute of build.
import { GantryError, GantryErrors, toGantryError } from '../errors.js';
import { parseImage, repositoryOf } from '../shared/image-reference.js';
import { BuildPushConfig, GitContext, parseBuildPushConfig } from './build-push.js';
import { Config, parseConfig } from './deploy.js';
import { RenamedSource, Source } from './source.js';

export interface MainConfig {
  /** Absent when the workflow deploys an image it built elsewhere. */
  build?: BuildPushConfig;
  deploy: Config;
}

function collect(errors: GantryError[], parse: () => void): void {
  try {
    parse();
  } catch (err) {
    const e = toGantryError(err);
    errors.push(...(e instanceof GantryErrors ? e.errors : [e]));
  }
}

export function parseMainConfig(source: Source, git: GitContext, env: NodeJS.ProcessEnv, now: Date): MainConfig {
  const errors: GantryError[] = [];
  let build: BuildPushConfig | undefined;
  let deploy: Config | undefined;
  if (source.get('image') !== undefined || source.get('tags') !== undefined) {
    collect(errors, () => {
      build = parseBuildPushConfig(source, git, { workspace: env.GITHUB_WORKSPACE ?? process.cwd(), now });
    });
    if (build && !build.push) {
      errors.push(new GantryError(`${source.describe('push')} is false, but the built image must be pushed for the cluster to pull it`, {
        title: 'Invalid input', hint: 'remove push: false, or use actions/build-push for a build without a deploy',
      }));
    }
  }
  collect(errors, () => {
    // `context` is the build context here; the deploy step's kubeconfig context is `kube-context`.
    deploy = parseConfig('deploy', new RenamedSource(source, { context: 'kube-context' }), env);
  });
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new GantryErrors(errors);
  return { build, deploy: deploy! };
}

/**
 * The deploy's image map with the image just built (`repo@sha256:…`) added for its
 * repository, unless the user mapped that repository explicitly.
 */
export function withBuiltImage(images: Record<string, string>, built: string): Record<string, string> {
  const parsed = parseImage(built);
  if (!parsed) throw new GantryError(`The build produced "${built}", which is not an image reference`);
  const repo = repositoryOf(parsed);
  const explicit = Object.keys(images).some((k) => {
    const p = parseImage(k);
    return p !== undefined && repositoryOf(p) === repo;
  });
  return explicit ? images : { ...images, [repo]: built };
}
