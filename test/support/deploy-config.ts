// Deploy settings parsed as the action parses its inputs, for the config tests: the parsed
// config, or the first line of every problem it reports.
import { parseConfig } from '../../src/config/deploy.js';
import { MapSource } from '../../src/config/source.js';
import { GantryError, GantryErrors } from '../../src/errors.js';

/** The deploy config of these inputs (manifests k8s and app web unless given). */
export const parseDeploy = (settings: Record<string, string>, workspace = '/tmp') =>
  parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web', ...settings }, 'input'), { GITHUB_WORKSPACE: workspace });

/** What a user is told is wrong with these inputs: the first line of each problem; none when they parse. */
export function deployProblems(settings: Record<string, string>, workspace?: string): string[] {
  try {
    parseDeploy(settings, workspace);
  } catch (err) {
    const errors = err instanceof GantryErrors ? err.errors : [err as GantryError];
    return errors.map((e) => e.describe().split('\n')[0]!);
  }
  return [];
}
