// What the job and command checks share as users write them: the extra environment of the
// test they run, and its timeout. Pure: parsing only.
import { Fields, isMapping, show } from './fields.js';

/** Gantry's own variables start with this; a user's `env` may not set them. */
export const GANTRY_ENV_PREFIX = 'GANTRY_';

/** A name both bash and Kubernetes take as it is: letters, digits and _, not starting with a digit. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `env: {NAME: value}`: scalars as strings (YAML reads `PORT: 8080` as a number), every bad entry named. */
export function parseEnv(f: Fields): Record<string, string> {
  const env: Record<string, string> = {};
  if (!f.has('env')) return env;
  const value = f.value.env;
  if (!isMapping(value)) {
    f.problem('env', `must be a mapping of variable names to values, got ${show(value)}`, 'e.g. env: {BASE_PATH: /api, RETRIES: 3}');
    return env;
  }
  for (const [name, v] of Object.entries(value)) {
    const at = `env.${name}`;
    if (!ENV_NAME.test(name)) f.problem(at, 'is not a valid variable name; use letters, digits and _, not starting with a digit');
    else if (name.startsWith(GANTRY_ENV_PREFIX)) f.problem(at, `is Gantry's to set; ${GANTRY_ENV_PREFIX} variables say what to test (GANTRY_NAMESPACE, GANTRY_VERSION, GANTRY_<ROLE>_SERVICE, GANTRY_<ROLE>_URL)`, 'give your variable another name');
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') env[name] = String(v);
    else f.problem(at, `must be a string, number or boolean, got ${show(v)}`);
  }
  return env;
}

/** How long a check's test may run; the same default for a Job and a command. */
export const DEFAULT_TEST_TIMEOUT_MS = 5 * 60_000;
