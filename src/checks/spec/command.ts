// The command check as users write it: a shell command run on the runner, in the checkout,
// e.g. the end-to-end suite. Pure: parsing only; the gate that runs it is checks/command.ts.
import { DEFAULT_TEST_TIMEOUT_MS, parseEnv } from './env.js';
import { Fields } from './fields.js';

export interface CommandCheckSpec {
  kind: 'command';
  /** A bash script, run as a `run:` step with `shell: bash` runs it (-eo pipefail). */
  run: string;
  /** A command still running after this long is ended, with every process it started, and fails the check. */
  timeoutMs: number;
  /** Set after Gantry's GANTRY_* variables. */
  env: Record<string, string>;
}

const COMMAND_FIELDS = ['run', 'timeout', 'env'] as const;

/** About what bash takes to start: a shorter timeout could only fail. */
const MIN_TIMEOUT_MS = 100;

export function parseCommand(f: Fields): CommandCheckSpec | undefined {
  f.onlyKnown(COMMAND_FIELDS, 'a command');
  if (!f.has('run')) f.problem('run', 'is required: the command to run with bash, e.g. run: npm run e2e');
  const run = f.string('run');
  const timeoutMs = f.duration('timeout', DEFAULT_TEST_TIMEOUT_MS, MIN_TIMEOUT_MS);
  const env = parseEnv(f);
  if (run === undefined) return undefined;
  return { kind: 'command', run, timeoutMs, env };
}
