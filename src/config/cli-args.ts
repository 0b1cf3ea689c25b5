// Command-line arguments of `gantry`: the command and its --flags, turned into a Source
// so the CLI is validated by the same parseConfig as the actions.
import { GantryError } from '../errors.js';
import { Command, SETTINGS } from './deploy.js';
import { MapSource } from './source.js';

export const COMMANDS: readonly Command[] = ['deploy', 'rollback', 'status', 'promote', 'abort'];

export interface CliArgs {
  command: Command;
  source: MapSource;
  help: boolean;
}

/** Flags that take no value: --help, and --full (promote past every remaining step). */
const SWITCHES = new Set(['help', 'full']);

/**
 * `gantry deploy --manifests k8s/ --images localhost:5000/app@sha256:… --timeout 2m`.
 * A flag given twice adds a line, like a multi-line input: `--manifests a --manifests b`.
 */
export function parseCliArgs(argv: string[]): CliArgs {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    return { command: 'deploy', source: new MapSource({}), help: true };
  }
  if (!(COMMANDS as readonly string[]).includes(first)) {
    throw new GantryError(`Unknown command "${first}"`, { title: 'Usage', hint: `Use one of: ${COMMANDS.join(', ')}. Run \`gantry --help\` for the flags.` });
  }
  const values: Record<string, string> = {};
  let help = false;
  const known = new Set<string>([...SETTINGS, ...SWITCHES]);
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '-h') {
      help = true;
      continue;
    }
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new GantryError(`Unexpected argument "${arg}"`, { title: 'Usage', hint: 'Every setting is a flag: --name value or --name=value.' });
    const name = m[1]!;
    if (!known.has(name)) throw new GantryError(`Unknown flag --${name}`, { title: 'Usage', hint: `Known flags: ${[...SETTINGS].map((s) => `--${s}`).join(', ')}.` });
    if (name === 'help') {
      help = true;
      continue;
    }
    if (SWITCHES.has(name) && (m[2] === undefined || /^(true|false)$/.test(m[2]))) {
      values[name] = m[2] ?? 'true';
      continue;
    }
    let value = m[2];
    if (value === undefined) {
      value = rest[++i];
      if (value === undefined) throw new GantryError(`--${name} needs a value`, { title: 'Usage' });
    }
    values[name] = values[name] === undefined ? value : `${values[name]}\n${value}`;
  }
  return { command: first as Command, source: new MapSource(values, 'flag'), help };
}

export const USAGE = `gantry — deploy containers to Kubernetes and roll back safely

Usage:
  gantry deploy   --manifests PATH [--manifests PATH …] --app NAME [--namespace NS] [--images REF …] [--timeout 5m]
  gantry rollback --app NAME [--namespace NS] [--revision N]
  gantry status   --app NAME [--namespace NS]
  gantry promote  --app NAME [--namespace NS] [--full]
  gantry abort    --app NAME [--namespace NS]

Flags (the same as the action inputs):
  --manifests PATH         file, directory, glob, kustomize dir or chart (repeatable)
  --app NAME               names the target's lock, state and history
  --namespace NS           default: default
  --images REF             new image reference, or repository=reference (repeatable)
  --timeout DURATION       how long to wait for readiness, e.g. 90s, 5m (default 5m)
  --rollback-on-failure B  restore the snapshot when the rollout fails (default true)
  --history-limit N        successful revisions kept (default 10)
  --lock-ttl DURATION      a lock not renewed this long is stale (default 2m)
  --revision N             rollback: the revision to restore (default: the last good one)
  --kubeconfig PATH, --context NAME, --kubectl PATH
  --helm PATH, --helm-release NAME, --helm-values FILE, --helm-set KEY=VALUE
  --kubectl-version V, --helm-version V   install that release (sha256-checked, cached) instead of the one on PATH;
                           without them a missing kubectl or helm is installed when a kustomization or chart needs it
  --kubectl-base-url URL, --helm-base-url URL   a mirror of https://dl.k8s.io/release or https://get.helm.sh
  --commit SHA, --run-url TEXT, --holder ID   how this run is recorded and named in the lock

Progressive rollouts (deploy):
  --strategy basic|blue-green|canary   default basic
  --steps YAML|FILE        canary steps: setWeight: N, pause: {duration: 2m} or pause: {}, analysis: [gates]
  --traffic-router replica-ratio|gateway-httproute, --route NAME (the HTTPRoute)
  --service NAME           the Service in front of the app (default: the one selecting its pods)
  --scale-down-delay D     blue-green: how long the old version stays after the switch (default 30s)
  --rollout YAML|FILE      steps and gates in one: steps, pre-promotion, post-promotion, background
  --analysis, --pre-promotion-analysis, --post-promotion-analysis YAML|FILE   gates
  --smoke-url URL|PATH, --max-error-rate R, --max-p95-latency-ms MS   shorthand gates
  --prometheus-url URL (--prometheus-token T | --prometheus-username U --prometheus-password P)
  --full                   promote: skip the remaining steps

Telling others (deploy, promote, abort, rollback):
  --github-token T         record a GitHub Deployment (needs GITHUB_REPOSITORY, and GITHUB_SHA or --commit)
  --environment NAME, --environment-url URL   the deployment's environment (default: the namespace) and link
  --webhook-url URL        a Slack-compatible webhook told of rollbacks, failures, promotions, aborts and pauses
`;
