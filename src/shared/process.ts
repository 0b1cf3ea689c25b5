// The seam through which every external process runs. Production code uses ExecRunner;
// unit tests pass an in-memory fake instead.
//
// ExecRunner spawns with node:child_process rather than @actions/exec, which cannot end a
// process. A command that may be stopped (a signal or a timeout) runs as the leader of its
// own process group, and stopping it signals the whole group: `bash -c "npm run e2e"`
// starts npm, which starts node, which starts browsers, and ending bash alone would leave
// them all running, holding the output pipes open.
import { spawn } from 'node:child_process';
import { constants as fsConstants, existsSync, promises as fs } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';

export interface CommandResult {
  /** The exit status; 128 + the signal's number when a signal ended the process, as shells report it. */
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Set when the runner ended the command: its timeout passed, or its signal aborted. */
  stopped?: 'timeout' | 'aborted';
}

export interface RunOptions {
  /** Written to the process's stdin. */
  input?: string;
  /** Extra environment, merged over process.env. */
  env?: Record<string, string>;
  cwd?: string;
  /** Called with each line of stdout and stderr as it arrives, for long commands whose log the user should watch live. */
  onLine?: (line: string) => void;
  /** Ends the command, and every process it started, when aborted. A signal already aborted starts nothing (the call rejects with its reason). */
  signal?: AbortSignal;
  /** Ends the command, and every process it started, after this long. */
  timeoutMs?: number;
  /** Keeps only about the last this many characters of stdout and of stderr: a long test run's output need not all stay in memory. */
  keepLast?: number;
}

export interface CommandRunner {
  run(command: string, args: string[], options?: RunOptions): Promise<CommandResult>;
}

/** Finds a program's binary when it is first needed, installing it if it must (shared/tools.ts). */
export type BinaryLocator = () => Promise<string>;

/** The executable file a path names, or the first one a name finds on PATH; undefined when there is none. */
export async function findExecutable(name: string): Promise<string | undefined> {
  const candidates = name.includes('/') || name.includes(path.sep) ? [path.resolve(name)] : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      await fs.access(c, fsConstants.X_OK);
      if ((await fs.stat(c)).isFile()) return c;
    } catch {
      // not here; try the next directory
    }
  }
  return undefined;
}

/** How long a stopped command's processes get after SIGTERM to finish before SIGKILL. */
export const KILL_GRACE_MS = 5_000;

/**
 * How long the output pipes may stay open after the process exited: a daemon it started
 * may hold them forever. @actions/exec waited as long; a killable command's group is ended
 * instead, so its pipes close at once.
 */
const CLOSE_GRACE_MS = 10_000;

/** Process groups still running, ended if this process exits first (no orphaned test suites). */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    // ESRCH: every process of the group is gone already.
    return false;
  }
}

function trackGroup(pgid: number): void {
  liveGroups.add(pgid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const g of liveGroups) killGroup(g, 'SIGKILL');
  });
}

/** Collects one output stream as text, line by line for `onLine`, keeping the last `keepLast` characters. */
class Output {
  text = '';
  private partial = '';

  constructor(private readonly onLine?: (line: string) => void, private readonly keepLast?: number) {}

  add(chunk: string): void {
    this.text += chunk;
    if (this.keepLast !== undefined && this.text.length > 2 * this.keepLast) this.text = this.text.slice(-this.keepLast);
    if (!this.onLine) return;
    const lines = (this.partial + chunk).split(/\r?\n/);
    this.partial = lines.pop()!;
    for (const line of lines) this.onLine(line);
  }

  end(): string {
    if (this.partial !== '') this.onLine?.(this.partial);
    this.partial = '';
    return this.keepLast !== undefined ? this.text.slice(-this.keepLast) : this.text;
  }
}

export class ExecRunner implements CommandRunner {
  async run(command: string, args: string[], options: RunOptions = {}): Promise<CommandResult> {
    options.signal?.throwIfAborted();
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, options.env ?? {});
    // Windows has no process groups to signal; there the command alone is ended.
    const grouped = (options.signal !== undefined || options.timeoutMs !== undefined) && process.platform !== 'win32';
    const child = spawn(command, args, { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: grouped });
    const stdout = new Output(options.onLine, options.keepLast);
    const stderr = new Output(options.onLine, options.keepLast);
    child.stdout.setEncoding('utf8').on('data', (c: string) => stdout.add(c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => stderr.add(c));
    // A command that exits without reading its input must not fail the run with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input);

    return new Promise<CommandResult>((resolve, reject) => {
      let stopped: CommandResult['stopped'];
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const later = (ms: number, fn: () => void): void => {
        const t = setTimeout(fn, ms);
        timers.push(t);
      };
      const pgid = child.pid;
      if (grouped && pgid !== undefined) trackGroup(pgid);

      /** SIGTERM to every process of the command, SIGKILL to what is left after the grace. */
      const end = (): void => {
        if (pgid === undefined) return;
        if (!grouped) {
          child.kill('SIGTERM');
          later(KILL_GRACE_MS, () => child.kill('SIGKILL'));
          return;
        }
        if (!killGroup(pgid, 'SIGTERM')) return;
        // Unref'd: if this process is about to exit, its exit hook kills the group instead.
        const t = setTimeout(() => killGroup(pgid, 'SIGKILL'), KILL_GRACE_MS);
        t.unref();
      };
      const stop = (why: NonNullable<CommandResult['stopped']>): void => {
        if (stopped !== undefined || exit !== undefined) return;
        stopped = why;
        end();
      };
      const onAbort = (): void => stop('aborted');
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.timeoutMs !== undefined) later(options.timeoutMs, () => stop('timeout'));

      const finish = (): void => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        options.signal?.removeEventListener('abort', onAbort);
        if (pgid !== undefined) liveGroups.delete(pgid);
        child.stdout.destroy();
        child.stderr.destroy();
        const signalled = exit?.signal ? 128 + (constants.signals[exit.signal] ?? 0) : undefined;
        const result: CommandResult = { exitCode: exit?.code ?? signalled ?? -1, stdout: stdout.end(), stderr: stderr.end() };
        if (stopped !== undefined) result.stopped = stopped;
        resolve(result);
      };
      child.on('error', (err: NodeJS.ErrnoException) => {
        // Emitted when the process could not start (or, rarely, when a kill fails: then it runs on and ends as usual).
        if (child.pid !== undefined || settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        options.signal?.removeEventListener('abort', onAbort);
        reject(new Error(`could not start ${command}: ${startProblem(err, options.cwd)}`, { cause: err }));
      });
      child.on('exit', (code, signal) => {
        if (settled) return;
        exit = { code, signal };
        // What the command left running goes with it; then its pipes close.
        if (grouped) end();
        later(CLOSE_GRACE_MS, finish);
      });
      child.on('close', finish);
    });
  }
}

function startProblem(err: NodeJS.ErrnoException, cwd: string | undefined): string {
  if (err.code === 'ENOENT') return cwd !== undefined && !existsSync(cwd) ? `its working directory ${cwd} does not exist` : 'not found on PATH';
  if (err.code === 'EACCES') return 'permission denied (is it executable?)';
  return err.message;
}
