// Inputs of the deploy and rollback actions and flags of the `gantry` CLI, parsed once
// into one typed Config. Both adapters call parseConfig; nothing deeper reads inputs.
import { hostname, userInfo } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { parseImage, repositoryOf } from '../shared/image-reference.js';
import type { Holder, Target } from '../shared/target.js';
import { PROGRESSIVE_SETTINGS, ProgressiveConfig, parseProgressive } from './progressive.js';
import { Reader, Source } from './source.js';
import type { ToolSettings } from '../shared/tools.js';
import { TOOL_SETTINGS, parseTool } from './tools.js';
import { REPORT_SETTINGS, ReportConfig, parseReport } from './report.js';

export type Command = 'deploy' | 'rollback' | 'status' | 'promote' | 'abort';

export interface RunContext extends Holder {
  /** The commit being deployed (GITHUB_SHA or --commit). */
  commit?: string;
}

export interface Config {
  command: Command;
  target: Target;
  /** Absolute path; manifests must resolve inside it. */
  workspace: string;
  /** Files, directories, globs, kustomize directories or charts, relative to the workspace. */
  manifests: string[];
  /** repository → new reference, e.g. localhost:5000/app → localhost:5000/app@sha256:… */
  images: Record<string, string>;
  timeoutMs: number;
  /** Restore the snapshot when the rollout fails (default). Off leaves the failed version for debugging. */
  rollbackOnFailure: boolean;
  /** How many successful revisions the history keeps. */
  historyLimit: number;
  /** A lock not renewed for this long is stale and may be taken over. */
  lockTtlMs: number;
  /** rollback: the revision to restore; default the last good one before the current. */
  toRevision?: number;
  /** binary, version and baseUrl: how kubectl is found or installed (shared/tools.ts). */
  kubectl: ToolSettings & { kubeconfig?: string; context?: string };
  helm: ToolSettings & { releaseName: string; valuesFiles: string[]; set: Record<string, string> };
  run: RunContext;
  /** blue-green and canary: steps, router, Services and gates. */
  progressive: ProgressiveConfig;
  /** promote: skip the remaining steps. */
  full: boolean;
  /** The GitHub Deployment and the webhook message of the rollout (report/announcer.ts). */
  report: ReportConfig;
}

/** DNS-1123 label, short enough that `gantry-<app>-history` stays a valid name. */
const APP_NAME = /^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/;

/**
 * The run that deploys. In Actions the id is run + job without the attempt, so a
 * re-run of an interrupted job is the same holder and may resume its own lock.
 */
export function runContext(source: Source, env: NodeJS.ProcessEnv): RunContext {
  const commit = source.get('commit') ?? env.GITHUB_SHA;
  if (env.GITHUB_RUN_ID) {
    const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
    const url = `${server}/${env.GITHUB_REPOSITORY ?? ''}/actions/runs/${env.GITHUB_RUN_ID}${env.GITHUB_RUN_ATTEMPT ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : ''}`;
    return { id: `github-${env.GITHUB_REPOSITORY ?? ''}-${env.GITHUB_RUN_ID}-${env.GITHUB_JOB ?? ''}`, runUrl: url, commit };
  }
  const who = `${safeUser()}@${hostname()}`;
  return { id: source.get('holder') ?? `cli-${who}-${process.pid}`, runUrl: source.get('run-url') ?? `gantry CLI, ${who} pid ${process.pid}`, commit };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

export function parseConfig(command: Command, source: Source, env: NodeJS.ProcessEnv = process.env): Config {
  const r = new Reader(source);
  const workspace = resolve(env.GITHUB_WORKSPACE ?? process.cwd());

  const manifests = r.list('manifests');
  if (command === 'deploy' && manifests.length === 0) r.problem('manifests', 'is required', 'list the manifest files, directories or globs to deploy, one per line');

  const defaultApp = env.GITHUB_REPOSITORY?.split('/')[1]?.toLowerCase();
  const app = r.string('app', defaultApp) ?? '';
  if (app === '') r.problem('app', 'is required outside GitHub Actions', 'name the application, e.g. --app web; it names the lock, state and history of the target');
  else if (!APP_NAME.test(app)) r.problem('app', `must be a lowercase DNS label of at most 42 characters, got "${app}"`);

  const namespace = r.string('namespace', 'default')!;
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) r.problem('namespace', `is not a valid namespace name: "${namespace}"`);

  const images: Record<string, string> = {};
  for (const line of r.list('images')) {
    const eq = line.indexOf('=');
    const [repoText, ref] = eq > 0 ? [line.slice(0, eq).trim(), line.slice(eq + 1).trim()] : [undefined, line];
    const parsed = parseImage(ref);
    const repo = repoText ?? (parsed ? repositoryOf(parsed) : undefined);
    if (!parsed || !repo || (repoText !== undefined && !parseImage(repoText))) {
      r.problem('images', `has an entry that is not an image reference: "${line}"`, 'write one reference per line (localhost:5000/app@sha256:…) or repository=reference');
      continue;
    }
    images[repo] = ref;
  }

  const timeoutMs = r.duration('timeout', 5 * 60_000);
  if (timeoutMs < 1000) r.problem('timeout', 'must be at least 1s');
  const lockTtlMs = r.duration('lock-ttl', 2 * 60_000);
  if (lockTtlMs < 3000) r.problem('lock-ttl', 'must be at least 3s');

  const toRevisionText = r.string('revision');
  let toRevision: number | undefined;
  if (toRevisionText !== undefined) {
    toRevision = r.int('revision', 0, 1);
  }

  const kubeconfig = r.string('kubeconfig');
  const run = runContext(source, env);
  const config: Config = {
    command,
    target: { namespace, app },
    workspace,
    manifests,
    images,
    timeoutMs,
    rollbackOnFailure: r.bool('rollback-on-failure', true),
    historyLimit: r.int('history-limit', 10, 1, 100),
    lockTtlMs,
    toRevision,
    kubectl: {
      ...parseTool(r, 'kubectl'),
      kubeconfig: kubeconfig === undefined ? undefined : isAbsolute(kubeconfig) ? kubeconfig : resolve(workspace, kubeconfig),
      context: r.string('context'),
    },
    helm: {
      ...parseTool(r, 'helm'),
      releaseName: r.string('helm-release', app)!,
      valuesFiles: r.list('helm-values'),
      set: r.pairs('helm-set'),
    },
    run,
    progressive: parseProgressive(r, workspace),
    full: r.bool('full', false),
    report: parseReport(r, { namespace, app }, run.commit, env),
  };
  r.done();
  return config;
}

/** Every setting name parseConfig reads, for the CLI's flag check and help. */
export const SETTINGS = [
  'manifests', 'namespace', 'app', 'images', 'timeout', 'rollback-on-failure', 'history-limit', 'lock-ttl',
  'revision', 'kubeconfig', 'context', 'kubectl', 'helm', 'helm-release', 'helm-values', 'helm-set', ...TOOL_SETTINGS, 'commit', 'holder', 'run-url',
  ...PROGRESSIVE_SETTINGS, 'full', ...REPORT_SETTINGS,
] as const;
