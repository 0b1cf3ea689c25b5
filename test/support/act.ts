// Runs a workflow for real under act (github.com/nektos/act, built by `stack.sh up` into the
// tools directory) in a throwaway "user repository": a temp git repo with the given files and
// one commit on main, origin https://github.com/<repository>.git. Jobs run on the host
// (`-P ubuntu-latest=-self-hosted`), and `uses: gantry-dev/gantry/...@v1` resolves offline to a
// slim copy of this work tree (action.yml, actions/, dist/, .github/). act runs under
// `env -u KUBECONFIG`, so the kubeconfig secret is the only way a job reaches the cluster.
// Notes on act's behaviour on this host: .tmp/act-notes.md.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './bundle.js';

export const ACT = join(process.env.GANTRY_TOOLS_DIR ?? join(homedir(), '.cache/gantry/tools'), 'act');
/** How the workflows and the README's starters name Gantry; mapped to the work tree. */
export const GANTRY_REPOSITORY = 'gantry-dev/gantry@v1';
const SLIM_PARTS = ['action.yml', 'actions', 'dist', '.github'];

export interface ActOptions {
  /** push, pull_request, workflow_dispatch, … */
  event: string;
  /** The event payload; a function gets the commit sha of the throwaway repo's HEAD. */
  payload?: Record<string, unknown> | ((sha: string) => Record<string, unknown>);
  /** Files of the throwaway repository: path → content, or { copy: absolute path } (file or directory). */
  files: Record<string, string | Buffer | { copy: string; mode?: number }>;
  /** The workflow to run, relative to the repository. Default: every workflow (act's -W .github/workflows). */
  workflow?: string;
  /** Only this job (-j). */
  job?: string;
  /** owner/name of the throwaway repository. Default acme/web. */
  repository?: string;
  secrets?: Record<string, string>;
  /** github.actor (act's default is nektos/act). Default ada. */
  actor?: string;
  vars?: Record<string, string>;
  /** Environment for the jobs (--env). DOCKER_HOST is passed from this process unless set here. */
  env?: Record<string, string>;
  /** GITHUB_API_URL and GITHUB_SERVER_URL of the jobs, e.g. a FakeGitHub's url. */
  githubApiUrl?: string;
  timeoutMs?: number;
  /** Keep the temp dir (for debugging); its path is in the result. */
  keep?: boolean;
  /**
   * act's --json output instead of its human log. Beware: in JSON, act logs the argument of
   * every workflow command, so `::add-mask::VALUE` puts VALUE in the output unmasked
   * (`"command":"add-mask","arg":"VALUE"`). The human log shows `⚙  ***` there.
   */
  json?: boolean;
}

export interface ActStepOutput {
  /** act's job id: the job's key, or `<caller>/<job>` style names inside reusable workflows as act reports them */
  jobID: string;
  /** act's job name as printed in the log, e.g. "staging/deliver" */
  job: string;
  step: string;
  name: string;
  value: string;
}

export interface ActRun {
  exitCode: number;
  /** act's whole output, stdout and stderr, as act wrote it. */
  raw: string;
  /** The human log: `[job name] message` (with `json`, rebuilt from the JSON lines). */
  log: string;
  /** Every step output (`set-output`), in order. */
  outputs: ActStepOutput[];
  /** The job summaries (GITHUB_STEP_SUMMARY), with the job name. */
  summaries: Array<{ job: string; markdown: string }>;
  /** The annotations (`::error …::`, `::warning …::`) the steps printed. */
  annotations: string[];
  wallMs: number;
  /** The throwaway repository's HEAD. */
  sha: string;
  /** Removed after the run unless `keep` was given. */
  dir: string;
  timedOut: boolean;
}

/** A self-contained copy of a kubeconfig (certificates embedded, no file paths), optionally of one context. */
export function flatKubeconfig(kubeconfig: string, context?: string): string {
  const args = ['config', 'view', '--raw', '--flatten', ...(context ? ['--minify', '--context', context] : [])];
  return execFileSync('kubectl', args, { encoding: 'utf8', env: { ...process.env, KUBECONFIG: kubeconfig } });
}

/** The credential values of a kubeconfig that must never appear in a log. */
export function kubeconfigCredentials(text: string): string[] {
  const re = /^[\s-]*(token|client-key-data|client-certificate-data|password):\s*"?([^"\s]+)"?/gm;
  return [...text.matchAll(re)].map((m) => m[2]!).filter((v) => v.length >= 8);
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.com', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.com' },
  }).trim();
}

interface ActLine {
  msg?: string;
  job?: string;
  jobID?: string;
  step?: string;
  command?: string;
  name?: string;
  arg?: string;
  level?: string;
}

export async function runAct(options: ActOptions): Promise<ActRun> {
  if (!existsSync(ACT)) throw new Error(`act not found at ${ACT}; \`bash test/stack/stack.sh up\` builds it`);
  const dir = mkdtempSync(join(tmpdir(), 'gantry-act-'));
  const repo = join(dir, 'repo');
  const slim = join(dir, 'gantry');
  const cache = join(dir, 'act-cache');
  try {
    // The user's repository, one commit on main.
    mkdirSync(repo);
    for (const [path, content] of Object.entries(options.files)) {
      const target = join(repo, path);
      mkdirSync(dirname(target), { recursive: true });
      if (typeof content === 'string' || Buffer.isBuffer(content)) writeFileSync(target, content);
      else {
        cpSync(content.copy, target, { recursive: true });
        if (content.mode !== undefined) execFileSync('chmod', [content.mode.toString(8), target]);
      }
    }
    const repository = options.repository ?? 'acme/web';
    git(repo, 'init', '-q', '-b', 'main');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'user commit');
    git(repo, 'remote', 'add', 'origin', `https://github.com/${repository}.git`);
    const sha = git(repo, 'rev-parse', 'HEAD');

    // Gantry as `gantry-dev/gantry@v1`: a slim copy, since act tars the whole mapped dir per step.
    mkdirSync(slim);
    for (const part of SLIM_PARTS) cpSync(join(REPO_ROOT, part), join(slim, part), { recursive: true });

    const payload = typeof options.payload === 'function' ? options.payload(sha) : options.payload ?? {};
    const eventFile = join(dir, 'event.json');
    writeFileSync(eventFile, JSON.stringify(payload));

    const env: Record<string, string> = { DOCKER_HOST: process.env.DOCKER_HOST ?? '', GIT_PAGER: 'cat', ...options.env };
    if (options.githubApiUrl) Object.assign(env, { GITHUB_API_URL: options.githubApiUrl, GITHUB_SERVER_URL: options.githubApiUrl });
    const args = [
      options.event,
      '-C', repo,
      '-W', join(repo, options.workflow ?? '.github/workflows'),
      '-P', 'ubuntu-latest=-self-hosted',
      '-e', eventFile,
      ...(options.json ? ['--json'] : []),
      '--action-cache-path', cache,
      '--no-cache-server',
      '--actor', options.actor ?? 'ada',
      '--local-repository', `${GANTRY_REPOSITORY}=${slim}`,
      // act reads .env, .secrets and .vars from its cwd by default: point them at nothing.
      '--env-file', join(dir, 'none.env'), '--secret-file', join(dir, 'none.secrets'), '--var-file', join(dir, 'none.vars'),
      ...(options.job ? ['-j', options.job] : []),
      ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
      ...Object.entries(options.vars ?? {}).flatMap(([k, v]) => ['--var', `${k}=${v}`]),
      ...Object.entries(options.secrets ?? {}).flatMap(([k, v]) => ['-s', `${k}=${v}`]),
    ];
    const childEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'KUBECONFIG') childEnv[k] = v;
    childEnv.ACT_DISABLE_VERSION_CHECK = '1';

    const t0 = Date.now();
    const child = spawn(ACT, args, { cwd: dir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let raw = '';
    child.stdout.on('data', (d: Buffer) => (raw += d.toString()));
    child.stderr.on('data', (d: Buffer) => (raw += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 300_000);
    const exitCode = await new Promise<number>((res) => child.on('close', (code, signal) => res(code ?? (signal ? 128 : 1))));
    clearTimeout(timer);
    const wallMs = Date.now() - t0;

    if (process.env.GANTRY_ACT_LOG_DIR) writeFileSync(join(process.env.GANTRY_ACT_LOG_DIR, `act-${Date.now()}.log`), raw);
    const parsed = options.json ? parseJson(raw) : parseHuman(raw);
    return { exitCode, raw, ...parsed, wallMs, sha, dir, timedOut };
  } finally {
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  }
}

type Parsed = Pick<ActRun, 'log' | 'outputs' | 'summaries' | 'annotations'>;
const SUMMARY = /^\s*⚙\s+Summary - /;
const ANNOTATION = /::(error|warning|notice)\b/;

function parseJson(raw: string): Parsed {
  const lines: ActLine[] = [];
  const logLines: string[] = [];
  for (const text of raw.split('\n')) {
    if (!text.trim()) continue;
    try {
      const line = JSON.parse(text) as ActLine;
      lines.push(line);
      logLines.push(`${line.job ? `[${line.job}] ` : ''}${(line.msg ?? '').trimEnd()}`);
    } catch {
      logLines.push(text);
    }
  }
  return {
    log: logLines.join('\n'),
    outputs: lines
      .filter((l) => l.command === 'set-output' && l.name !== undefined)
      .map((l) => ({ jobID: l.jobID ?? '', job: l.job ?? '', step: l.step ?? '', name: l.name!, value: l.arg ?? '' })),
    summaries: lines.filter((l) => SUMMARY.test(l.msg ?? '')).map((l) => ({ job: l.job ?? '', markdown: (l.msg ?? '').replace(SUMMARY, '') })),
    annotations: lines.map((l) => l.msg ?? '').filter((m) => ANNOTATION.test(m)).map((m) => m.trim()),
  };
}

/**
 * act's human log: `[job name] message`; a message of several lines (a summary) goes on
 * without the prefix. Step names are not on the lines, so `step` is the last `⭐ Run` seen.
 */
function parseHuman(raw: string): Parsed {
  const entries: Array<{ job: string; msg: string; step: string }> = [];
  const step = new Map<string, string>();
  for (const text of raw.split('\n')) {
    const m = /^\[([^\]]+)\] (.*)$/.exec(text);
    if (m) {
      const [, job, msg] = m as unknown as [string, string, string];
      const run = /⭐ Run (?:Main |Pre |Post )?(.*)$/.exec(msg);
      if (run) step.set(job, run[1]!.trim());
      entries.push({ job, msg, step: step.get(job) ?? '' });
    } else if (entries.length && text !== '') entries.at(-1)!.msg += `\n${text}`;
    else if (text !== '') entries.push({ job: '', msg: text, step: '' });
  }
  const outputs: ActStepOutput[] = [];
  for (const e of entries) {
    const m = /^\s*⚙\s+::set-output:: ([^=]+)=([\s\S]*)$/.exec(e.msg);
    if (m) outputs.push({ jobID: '', job: e.job, step: e.step, name: m[1]!, value: m[2]!.trimEnd() });
  }
  return {
    log: raw,
    outputs,
    summaries: entries.filter((e) => SUMMARY.test(e.msg)).map((e) => ({ job: e.job, markdown: e.msg.replace(SUMMARY, '') })),
    annotations: entries.map((e) => e.msg).filter((m) => ANNOTATION.test(m)).map((m) => m.trim()),
  };
}

/** The last value of a step output named `name` in a job whose name contains `job`. */
export function outputOf(run: ActRun, job: string, name: string): string | undefined {
  return run.outputs.filter((o) => (o.job.includes(job) || o.jobID.includes(job)) && o.name === name).at(-1)?.value;
}
